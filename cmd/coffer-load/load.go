package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one server under measurement and the client that reaches it.
type target struct {
	name   string
	client *http.Client
	proc   *proc // the serving process, for its CPU time; nil if unknown
}

// result is a throughput phase or a latency series.
type result struct {
	n, errors int64
	elapsed   time.Duration
	cpu       time.Duration   // the server process's CPU time over the phase, if known
	clientCPU time.Duration   // the harness's own (the client's), if known
	lat       []time.Duration // sorted
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.n) / r.elapsed.Seconds()
}

func (r result) q(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(float64(len(r.lat)-1)*p)]
}

func (r result) throughput() string {
	s := fmt.Sprintf("%.0f/s (p50 %v, p99 %v; %d in %v, %d errors", r.rate(), round(r.q(0.5)), round(r.q(0.99)),
		r.n, r.elapsed.Round(time.Millisecond), r.errors)
	if r.cpu > 0 && r.n > 0 {
		s += fmt.Sprintf("; server CPU %v/req", (r.cpu / time.Duration(r.n)).Round(time.Microsecond))
	}
	if r.clientCPU > 0 && r.n > 0 {
		s += fmt.Sprintf(", client %v", (r.clientCPU / time.Duration(r.n)).Round(time.Microsecond))
	}
	return s + ")"
}

func (r result) latency() string {
	s := fmt.Sprintf("p50 %v, p99 %v", round(r.q(0.5)), round(r.q(0.99)))
	if r.errors > 0 {
		s += fmt.Sprintf(" (%d errors)", r.errors)
	}
	return s
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// load runs f from workers goroutines (worker index i) until duration
// passes, max calls were made or ctx ends.
func load(ctx context.Context, f func(i int) error, duration time.Duration, max, workers int) result {
	var n, errs atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil && time.Now().Before(deadline) && n.Add(1) <= int64(max) {
				t := time.Now()
				if err := f(w); err != nil {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(all)
	return result{n: int64(len(all)), errors: errs.Load(), elapsed: time.Since(start), lat: all}
}

// series times f sequentially n times (bounded by duration and ctx).
func series(ctx context.Context, f func(i int) error, n int, duration time.Duration) result {
	var r result
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil && time.Since(start) < duration; i++ {
		t := time.Now()
		if err := f(i); err != nil {
			r.errors++
		}
		r.lat = append(r.lat, time.Since(t))
	}
	r.n, r.elapsed = int64(len(r.lat)), time.Since(start)
	slices.Sort(r.lat)
	return r
}

// call is one request: method, URL and headers (and a body for PUT).
type call struct {
	method, url string
	header      http.Header
	body        []byte
}

func (c call) key() string { return c.method + " " + c.url }

// do sends c and requires a 200.
// measure runs a throughput phase and adds the serving process's CPU time
// over it.
func (t *target) measure(phase func() result) result {
	if t.proc == nil {
		return phase()
	}
	before, ok1 := t.proc.cpu()
	self, ok2 := selfCPU()
	r := phase()
	if after, ok := t.proc.cpu(); ok && ok1 {
		r.cpu = after - before
	}
	if after, ok := selfCPU(); ok && ok2 {
		r.clientCPU = after - self
	}
	return r
}

func (t *target) do(c call) error {
	resp, err := t.send(c)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: status %d", t.name, c.key(), resp.StatusCode)
	}
	return nil
}

func (t *target) send(c call) (*http.Response, error) {
	var body io.Reader
	if c.body != nil {
		body = &byteReader{b: c.body}
	}
	req, err := http.NewRequest(c.method, c.url, body)
	if err != nil {
		return nil, err
	}
	if c.body != nil {
		req.ContentLength = int64(len(c.body))
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	return t.client.Do(req)
}

// byteReader reads a shared body without copying it.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

// captured is a response as the ceiling replays it.
type captured struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// capture sends c to t and records the response for the ceiling.
func (t *target) capture(c call) (captured, error) {
	resp, err := t.send(c)
	if err != nil {
		return captured{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return captured{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return captured{}, fmt.Errorf("%s: %s: status %d: %s", t.name, c.key(), resp.StatusCode, b)
	}
	h := resp.Header.Clone()
	// net/http writes these itself.
	for _, k := range []string{"Date", "Content-Length", "Connection", "Keep-Alive"} {
		h.Del(k)
	}
	return captured{Status: resp.StatusCode, Header: h, Body: b}, nil
}
