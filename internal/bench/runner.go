package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Config is one load configuration.
type Config struct {
	Batch       int           `json:"batch"`       // documents per request
	Concurrency int           `json:"concurrency"` // closed loop: requests in flight
	Rate        float64       `json:"rate"`        // open loop: requests per second (0: closed loop)
	Duration    time.Duration `json:"duration_ns"` // stop issuing after this long (0: use Requests)
	Requests    int           `json:"requests"`    // stop after this many requests (0: use Duration)
	Warmup      int           `json:"warmup"`      // unrecorded requests first
	Timeout     time.Duration `json:"timeout_ns"`  // per request (default 60 s)
}

// Label is "batch=B, concurrency=C" (or "rate=R/s").
func (c Config) Label() string {
	if c.Rate > 0 {
		return fmt.Sprintf("batch=%d, rate=%g/s", c.Batch, c.Rate)
	}
	return fmt.Sprintf("batch=%d, concurrency=%d", c.Batch, c.Concurrency)
}

// Validate reports a config that cannot run.
func (c Config) Validate() error {
	switch {
	case c.Batch < 1:
		return fmt.Errorf("bench: batch must be ≥ 1, got %d", c.Batch)
	case c.Rate < 0:
		return fmt.Errorf("bench: rate must be ≥ 0, got %g", c.Rate)
	case c.Rate == 0 && c.Concurrency < 1:
		return fmt.Errorf("bench: concurrency must be ≥ 1, got %d", c.Concurrency)
	case c.Duration <= 0 && c.Requests <= 0:
		return errors.New("bench: give a duration or a number of requests")
	case c.Duration < 0 || c.Requests < 0 || c.Warmup < 0:
		return errors.New("bench: duration, requests and warmup must not be negative")
	}
	return nil
}

// Sample is one measured request.
type Sample struct {
	StartMs   float64 `json:"start_ms"`   // since the configuration started
	LatencyMs float64 `json:"latency_ms"` // round trip
	Pairs     int     `json:"pairs"`
	Status    int     `json:"status"`          // HTTP status (0: transport error)
	Err       string  `json:"error,omitempty"` // why it failed
}

// OK reports whether the request succeeded.
func (s Sample) OK() bool { return s.Err == "" && s.Status == 200 }

// Throughput is the request's pairs over its latency (pairs/s).
func (s Sample) Throughput() float64 { return float64(s.Pairs) / (s.LatencyMs / 1000) }

// idleConnDuration is how long an idle keep-alive connection is kept: less
// than uvicorn's 5 s keep-alive (Infinity's server), since a POST on a
// connection the server has closed fails and fasthttp does not retry POSTs.
const idleConnDuration = 4 * time.Second

// Client sends rerank requests to a target.
type Client struct {
	base  string
	path  string
	model string
	// deadline, when > 0, is sent as each request's timeout_ms: the
	// sidecar drops the pairs of a request still queued past it.
	deadline time.Duration
	client   *fasthttp.Client
}

// SetDeadline makes every request carry timeout_ms = d (0: none, the
// target's default applies).
func (c *Client) SetDeadline(d time.Duration) { c.deadline = d }

// NewClient returns a client for target (e.g. http://127.0.0.1:8080);
// model, when not empty, is sent as the request's "model".
func NewClient(target, model string) (*Client, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bench: target %q: want http://host:port", target)
	}
	return &Client{
		base:  strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"),
		path:  "/v1/rerank",
		model: model,
		client: &fasthttp.Client{
			MaxConnsPerHost:     4096,
			ReadTimeout:         5 * time.Minute,
			WriteTimeout:        time.Minute,
			MaxIdleConnDuration: idleConnDuration,
			MaxResponseBodySize: 256 << 20,
		},
	}, nil
}

// Base returns the target's base URL.
func (c *Client) Base() string { return c.base }

type rerankRequest struct {
	Model     string            `json:"model,omitempty"`
	Query     string            `json:"query"`
	Documents []json.RawMessage `json:"documents"`
	TimeoutMS int               `json:"timeout_ms,omitempty"`
}

type rerankResponse struct {
	Results []struct {
		Index int      `json:"index"`
		Score *float64 `json:"relevance_score"`
	} `json:"results"`
}

// Rerank sends one request and checks that every document came back scored.
func (c *Client) Rerank(ctx context.Context, query string, docs []json.RawMessage, timeout time.Duration) (int, error) {
	rr := rerankRequest{Model: c.model, Query: query, Documents: docs}
	if c.deadline > 0 {
		rr.TimeoutMS = max(1, int(c.deadline/time.Millisecond))
	}
	body, err := json.Marshal(rr)
	if err != nil {
		return 0, fmt.Errorf("bench: encode request: %w", err)
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + c.path)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	if timeout <= 0 {
		timeout = time.Minute
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if err := c.client.DoTimeout(req, resp, timeout); err != nil {
		return 0, fmt.Errorf("bench: POST %s: %w", c.path, err)
	}
	code := resp.StatusCode()
	if code != fasthttp.StatusOK {
		msg := resp.Body()
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return code, fmt.Errorf("bench: POST %s: HTTP %d: %s", c.path, code, msg)
	}
	var out rerankResponse
	if err := json.Unmarshal(resp.Body(), &out); err != nil {
		return code, fmt.Errorf("bench: decode response: %w", err)
	}
	if len(out.Results) != len(docs) {
		return code, fmt.Errorf("bench: %d results for %d documents", len(out.Results), len(docs))
	}
	for _, r := range out.Results {
		if r.Score == nil || r.Index < 0 || r.Index >= len(docs) {
			return code, fmt.Errorf("bench: malformed result %+v", r)
		}
	}
	return code, nil
}

// Get fetches path from the target; it returns the status and body.
func (c *Client) Get(ctx context.Context, path string) (int, []byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if err := c.client.DoTimeout(req, resp, timeout); err != nil {
		return 0, nil, fmt.Errorf("bench: GET %s: %w", path, err)
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

// Progress is told about each finished measured request.
type Progress func(done int, elapsed time.Duration)

// RunResult is what one configuration measured.
type RunResult struct {
	Config  Config    `json:"config"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Samples []Sample  `json:"samples"`
}

// Elapsed is the measured wall time.
func (r *RunResult) Elapsed() time.Duration { return r.End.Sub(r.Start) }

// Run drives one configuration against the client: warm-up requests first,
// then a closed loop of Concurrency workers or an open loop at Rate
// requests/s, until Duration or Requests is reached or ctx ends. In the open
// loop a request's latency counts from its scheduled start, so a slow server
// cannot hide queueing (no coordinated omission).
func Run(ctx context.Context, c *Client, corpus Corpus, cfg Config, progress Progress) (*RunResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for i := 0; i < cfg.Warmup; i++ {
		q, docs := corpus.Request(i, cfg.Batch)
		if _, err := c.Rerank(ctx, q, docs, cfg.Timeout); err != nil {
			return nil, fmt.Errorf("bench: warm-up request %d: %w", i, err)
		}
	}
	res := &RunResult{Config: cfg}
	var (
		mu      sync.Mutex
		next    atomic.Int64
		done    int
		samples []Sample
	)
	next.Store(int64(cfg.Warmup))
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithCancel(ctx)
		t := time.AfterFunc(cfg.Duration, cancel)
		defer t.Stop()
		defer cancel()
	}
	res.Start = time.Now()
	limit := int64(cfg.Warmup + cfg.Requests)
	take := func() (int, bool) {
		if runCtx.Err() != nil {
			return 0, false
		}
		i := next.Add(1) - 1
		if cfg.Requests > 0 && i >= limit {
			return 0, false
		}
		return int(i), true
	}
	do := func(i int, scheduled time.Time) {
		q, docs := corpus.Request(i, cfg.Batch)
		// In-flight requests may finish after the duration: give them the
		// parent context, not the run's.
		code, err := c.Rerank(ctx, q, docs, cfg.Timeout)
		end := time.Now()
		s := Sample{
			StartMs:   float64(scheduled.Sub(res.Start)) / 1e6,
			LatencyMs: float64(end.Sub(scheduled)) / 1e6,
			Pairs:     len(docs),
			Status:    code,
		}
		if err != nil {
			s.Err = err.Error()
		}
		mu.Lock()
		samples = append(samples, s)
		done++
		d := done
		mu.Unlock()
		if progress != nil {
			progress(d, end.Sub(res.Start))
		}
	}
	var wg sync.WaitGroup
	if cfg.Rate > 0 {
		interval := time.Duration(float64(time.Second) / cfg.Rate)
		sem := make(chan struct{}, 4096)
		for k := 0; ; k++ {
			at := res.Start.Add(time.Duration(k) * interval)
			if d := time.Until(at); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-runCtx.Done():
					t.Stop()
				case <-t.C:
				}
			}
			i, ok := take()
			if !ok {
				break
			}
			select {
			case sem <- struct{}{}:
			default:
				mu.Lock()
				samples = append(samples, Sample{StartMs: float64(at.Sub(res.Start)) / 1e6, Pairs: cfg.Batch, Err: "bench: over 4096 requests in flight; request dropped"})
				mu.Unlock()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				do(i, at)
			}()
		}
	} else {
		for w := 0; w < cfg.Concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i, ok := take()
					if !ok {
						return
					}
					do(i, time.Now())
				}
			}()
		}
	}
	wg.Wait()
	res.End = time.Now()
	res.Samples = samples
	if ctx.Err() != nil {
		return res, fmt.Errorf("bench: %s: %w", cfg.Label(), ctx.Err())
	}
	return res, nil
}
