// netlog.mjs: what a script did on the network, for tests that check where
// an SDK's traffic went. Importing it starts recording; nothing the SDKs do
// is changed.
//
// connections: every TCP connection the process started (plain and TLS,
// through any agent or proxy), as {host, port, remoteAddress, remotePort,
// lookups, error}: host/port as asked for, the peer once connected, the
// names resolved by DNS for it, and the error code if it failed.
//
// sdkLog(pattern): the Azure SDK log lines (at level info) that match
// pattern; logging is captured in memory, not written out.
import net from "node:net";
import { format } from "node:util";
import { AzureLogger, setLogLevel } from "@azure/logger";

export const connections = [];

// net.connect, http(s) agents, proxy agents and tls.connect all end in
// Socket.prototype.connect; observe it (and pass everything through).
const seen = new WeakSet();
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  if (!seen.has(this)) {
    seen.add(this);
    const opts = typeof args[0] === "object" && args[0] !== null ? (Array.isArray(args[0]) ? args[0][0] : args[0]) : null;
    const c = {
      host: opts?.host ?? (typeof args[1] === "string" ? args[1] : null),
      port: toPort(opts ? opts.port : args[0]),
      path: opts?.path ?? null,
      remoteAddress: null,
      remotePort: null,
      lookups: [],
      error: null,
    };
    connections.push(c);
    this.on("lookup", (err, address, family, host) => c.lookups.push(host));
    this.once("connect", () => {
      c.remoteAddress = this.remoteAddress ?? null;
      c.remotePort = this.remotePort ?? null;
    });
    this.once("error", (err) => {
      c.error = err?.code ?? String(err);
    });
  }
  return connect.apply(this, args);
};

function toPort(p) {
  const n = Number(p);
  return p === undefined || p === null || Number.isNaN(n) ? null : n;
}

const logLines = [];
setLogLevel(process.env.AZURE_LOG_LEVEL || "info");
const print = AzureLogger.log;
AzureLogger.log = (...args) => {
  const line = format(...args);
  if (logLines.length < 2000) logLines.push(line);
  if (process.env.AZURE_LOG_LEVEL) print(...args); // asked for on stderr too
};

/** sdkLog returns the captured SDK log lines matching pattern (at most 100). */
export function sdkLog(pattern) {
  return logLines.filter((l) => pattern.test(l)).slice(0, 100);
}
