// Package audit writes Coffer's audit log: one JSON line per operation,
// shaped like Azure Key Vault's AuditEvent diagnostic log (time,
// operationName, resourceId, identity.claim, callerIpAddress, resultType,
// resultSignature, durationMs, properties), so that queries written for
// Key Vault's logs carry over.
//
// An event names who did what to which object and how it ended; it never
// holds a secret value, a token, a credential or a request body. The
// writer serialises lines, so concurrent requests never interleave them.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one audit line.
type Event struct {
	Time             time.Time  `json:"time"`
	ResourceID       string     `json:"resourceId"`
	OperationName    string     `json:"operationName"`
	OperationVersion string     `json:"operationVersion,omitempty"`
	Category         string     `json:"category"`
	ResultType       string     `json:"resultType"`
	ResultSignature  string     `json:"resultSignature"`
	ResultDesc       string     `json:"resultDescription,omitempty"`
	DurationMs       int64      `json:"durationMs"`
	CallerIPAddress  string     `json:"callerIpAddress"`
	CorrelationID    string     `json:"correlationId,omitempty"`
	Identity         *Identity  `json:"identity,omitempty"`
	Properties       Properties `json:"properties"`
}

// Identity is the caller, from its verified token.
type Identity struct {
	Claim Claim `json:"claim"`
}

// Claim holds the token claims Key Vault logs.
type Claim struct {
	ObjectID string `json:"oid,omitempty"`
	AppID    string `json:"appid,omitempty"`
	TenantID string `json:"tid,omitempty"`
	MIResID  string `json:"xms_mirid,omitempty"`
	UPN      string `json:"upn,omitempty"`
}

// Properties are the operation's details.
type Properties struct {
	// ID is the object addressed, e.g. https://v.vault.azure.net/secrets/db.
	ID             string `json:"id,omitempty"`
	API            string `json:"api"`
	RequestURI     string `json:"requestUri"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	RequestID      string `json:"requestId,omitempty"`
	ClientInfo     string `json:"clientInfo,omitempty"`
}

// ResultType is Key Vault's: Success below 400, else Failure.
func ResultType(status int) string {
	if status < 400 {
		return "Success"
	}
	return "Failure"
}

// Log writes events to a sink. The zero value is not usable; see Open.
type Log struct {
	mu      sync.Mutex
	w       io.Writer
	file    *os.File // nil for stdout or a caller's writer
	path    string
	size    int64
	maxSize int64
	keep    int
	healthy atomic.Bool
}

// DefaultMaxSize is when a file sink rotates; DefaultKeep old files stay.
const (
	DefaultMaxSize = 100 << 20
	DefaultKeep    = 5
)

// Open opens the sink: "-" is standard output, anything else a file,
// created 0600 and appended to, rotated at DefaultMaxSize to path.1 …
// path.DefaultKeep.
func Open(path string) (*Log, error) {
	if path == "-" {
		return New(os.Stdout), nil
	}
	l := &Log{path: path, maxSize: DefaultMaxSize, keep: DefaultKeep}
	if err := l.openFile(); err != nil {
		return nil, err
	}
	l.healthy.Store(true)
	return l, nil
}

// New writes events to w (tests, or an already open sink).
func New(w io.Writer) *Log {
	l := &Log{w: w}
	l.healthy.Store(true)
	return l
}

func (l *Log) openFile() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	l.file, l.w, l.size = f, f, st.Size()
	return nil
}

// Write appends one event as a JSON line. An error leaves the log
// unhealthy until a later write succeeds.
func (l *Log) Write(e *Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil && l.maxSize > 0 && l.size+int64(len(b)) > l.maxSize {
		if err := l.rotate(); err != nil {
			l.healthy.Store(false)
			return err
		}
	}
	if l.w == nil {
		l.healthy.Store(false)
		return errors.New("audit log: closed")
	}
	n, err := l.w.Write(b)
	l.size += int64(n)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	l.healthy.Store(err == nil)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// rotate shifts path.N-1 … path to path.N … path.1 and reopens path.
func (l *Log) rotate() error {
	l.file.Close()
	l.file, l.w = nil, nil
	for i := l.keep; i >= 1; i-- {
		from := l.path
		if i > 1 {
			from = l.path + "." + strconv.Itoa(i-1)
		}
		if err := os.Rename(from, l.path+"."+strconv.Itoa(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit log: rotate: %w", err)
		}
	}
	return l.openFile()
}

// Healthy reports whether the last write succeeded (true before any).
func (l *Log) Healthy() bool { return l.healthy.Load() }

// Close flushes and closes a file sink.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	err := l.file.Sync()
	err = errors.Join(err, l.file.Close())
	l.file, l.w = nil, nil
	return err
}
