// fetch.mjs: GET one URL through the Azure SDKs' own HTTP stack
// (@azure/core-rest-pipeline's default pipeline: proxy settings from the
// environment, retries), the way any SDK client's request goes out.
//
//   FETCH_URL   the URL; http:// is allowed
//
// Prints {"ok":true,"status","contentType","body" (first 2000 characters),
// "connections" (see netlog.mjs)} when an HTTP answer came back, whatever
// its status, or {"ok":true,"status":null,"error":{...},"connections"} when
// none did; exit status 0 either way.
import { connections } from "./netlog.mjs";
import { createDefaultHttpClient, createPipelineFromOptions, createPipelineRequest } from "@azure/core-rest-pipeline";
import { env, errorInfo, run } from "./lib.mjs";

await run(async () => {
  const url = env("FETCH_URL");
  const pipeline = createPipelineFromOptions({});
  const request = createPipelineRequest({ url, method: "GET", timeout: 30000 });
  request.allowInsecureConnection = url.startsWith("http://");
  try {
    const res = await pipeline.sendRequest(createDefaultHttpClient(), request);
    return {
      status: res.status,
      contentType: res.headers.get("content-type") ?? null,
      body: (res.bodyAsText ?? "").slice(0, 2000),
      connections,
    };
  } catch (err) {
    return { status: null, error: errorInfo(err), connections };
  }
});
