// Package bench is crossrank's load generator: it sends MS MARCO-like (or
// file) rerank requests to a sidecar in closed or open loop, over one
// configuration, a batch × concurrency sweep, or a rate sweep (Sweep: the
// capacity measured in closed loop, then open-loop rates at fractions of it,
// giving the latency–throughput curve with its knee and a capacity line;
// docs/observability.md has the rules), polls the sidecar's
// /v1/stats like the dashboard does, and writes report.md (the sections and
// tables of the reference deployment's report), report.json with every raw
// number, and plots.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options describes a bench.
type Options struct {
	Name        string
	Description string
	Client      *Client
	Corpus      Corpus
	Configs     []Config
	Soak        bool // analyse the (single) configuration as a soak run
	// Progress, when set, returns the progress callback of configuration i.
	Progress func(i int, c Config) Progress
	// Model, Backend and Device describe the target; empty ones are read
	// from its GET /v1/models.
	Model, Backend, Device string
}

// Bench runs every configuration in turn and returns the report (not yet
// written; call Report.Write).
func Bench(ctx context.Context, o Options) (*Report, error) {
	if o.Client == nil || o.Corpus == nil || len(o.Configs) == 0 {
		return nil, fmt.Errorf("bench: need a client, a corpus and at least one configuration")
	}
	for _, c := range o.Configs {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	if o.Soak && len(o.Configs) != 1 {
		return nil, fmt.Errorf("bench: a soak run takes one configuration, got %d", len(o.Configs))
	}
	r := &Report{
		Name: o.Name, Description: o.Description, Timestamp: time.Now(), Target: o.Client.Base(),
		Model: o.Model, Backend: o.Backend, Device: o.Device, Corpus: o.Corpus.Name(),
	}
	if r.Name == "" {
		r.Name = "crossrank bench"
	}
	r.describeTarget(ctx, o.Client)

	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	poller := NewPoller(o.Client)
	pollDone := make(chan struct{})
	go func() { defer close(pollDone); poller.Run(pollCtx) }()

	for i, c := range o.Configs {
		var prog Progress
		if o.Progress != nil {
			prog = o.Progress(i, c)
		}
		res, err := Run(ctx, o.Client, o.Corpus, c, prog)
		if err != nil {
			stopPoll()
			<-pollDone
			return nil, err
		}
		r.Configs = append(r.Configs, NewConfigReport(i+1, res))
	}
	stopPoll()
	<-pollDone
	poller.Flush(ctx)
	pts, gpu, perr := poller.Points()
	r.Finish(pts, gpu, perr)
	if o.Soak {
		r.Soak = NewSoakReport(r.Configs[0], pts)
	}
	return r, nil
}

// describeTarget fills model, backend and device from GET /v1/models when
// the caller gave none; the format is read loosely ({"data"|"models": [{"id"
// |"name", "backend"|"provider", "device"}]}).
func (r *Report) describeTarget(ctx context.Context, c *Client) {
	defer func() {
		for _, f := range []*string{&r.Model, &r.Backend, &r.Device} {
			if *f == "" {
				*f = "unknown"
			}
		}
	}()
	if r.Model != "" && r.Backend != "" && r.Device != "" {
		return
	}
	m := firstModel(ctx, c)
	if m == nil {
		return
	}
	modelSet := r.Model != ""
	pick(m, &r.Model, "id", "name", "model")
	if !modelSet && r.Model != "" {
		var extra []string
		if f, ok := m["file"].(string); ok && f != "" {
			extra = append(extra, f)
		}
		if k, ok := m["kind"].(string); ok && k != "" {
			extra = append(extra, k)
		}
		if tw, ok := m["twin"].(bool); ok && tw {
			extra = append(extra, "shape twin, random weights")
		} else if tr, ok := m["trained"].(bool); ok && tr {
			extra = append(extra, "trained weights")
		}
		if len(extra) > 0 {
			r.Model += " (" + strings.Join(extra, ", ") + ")"
		}
	}
	pick(m, &r.Backend, "backend", "runtime")
	if _, ok := m["provider"]; ok && r.Backend == "" {
		r.Backend = "onnxruntime" // crossrank's /v1/models names the ORT execution provider
	}
	pick(m, &r.Device, "device", "provider", "providers", "execution_provider")
}

// firstModel returns the first entry of the target's GET /v1/models list
// ("data" or "models"), or nil.
func firstModel(ctx context.Context, c *Client) map[string]any {
	code, body, err := c.Get(ctx, "/v1/models")
	if err != nil || code != 200 {
		return nil
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	for _, k := range []string{"data", "models"} {
		var list []map[string]any
		if raw, ok := doc[k]; ok && json.Unmarshal(raw, &list) == nil && len(list) > 0 {
			return list[0]
		}
	}
	return nil
}

// pick sets *dst, when empty, to the first of m's keys holding a string (or
// an array whose first element is one).
func pick(m map[string]any, dst *string, keys ...string) {
	if *dst != "" {
		return
	}
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			*dst = s
			return
		}
		if arr, ok := m[k].([]any); ok && len(arr) > 0 {
			if s, ok := arr[0].(string); ok {
				*dst = s
				return
			}
		}
	}
}

// ParseSweep expands "batch=16,32,64;concurrency=1,2,4" (keys batch,
// concurrency or conc, rate) into configurations, every combination, batch
// outermost; unspecified fields come from base.
func ParseSweep(spec string, base Config) ([]Config, error) {
	axes, err := sweepAxes(spec)
	if err != nil {
		return nil, err
	}
	out := []Config{base}
	for _, k := range []string{"batch", "concurrency", "rate"} {
		vals, ok := axes[k]
		if !ok {
			continue
		}
		var next []Config
		for _, c := range out {
			for _, v := range vals {
				next = append(next, c.with(k, v))
			}
		}
		out = next
	}
	for _, c := range out {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// with returns c with one sweep axis set.
func (c Config) with(axis string, v float64) Config {
	switch axis {
	case "batch":
		c.Batch = int(v)
	case "concurrency":
		c.Concurrency, c.Rate = int(v), 0
	case "rate":
		c.Rate = v
	}
	return c
}

// sweepAxes parses a sweep spec into its axes' values.
func sweepAxes(spec string) (map[string][]float64, error) {
	axes := map[string][]float64{}
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("bench: sweep %q: want key=v1,v2 in %q", spec, part)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "conc" {
			k = "concurrency"
		}
		if k != "batch" && k != "concurrency" && k != "rate" {
			return nil, fmt.Errorf("bench: sweep %q: unknown key %q (batch, concurrency, rate)", spec, k)
		}
		if _, dup := axes[k]; dup {
			return nil, fmt.Errorf("bench: sweep %q: %s given twice", spec, k)
		}
		for _, s := range strings.Split(v, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || f <= 0 || (k != "rate" && f != float64(int(f))) {
				return nil, fmt.Errorf("bench: sweep %q: bad %s value %q", spec, k, s)
			}
			axes[k] = append(axes[k], f)
		}
	}
	if len(axes) == 0 {
		return nil, fmt.Errorf("bench: empty sweep %q", spec)
	}
	_, rate := axes["rate"]
	_, conc := axes["concurrency"]
	if rate && conc {
		return nil, fmt.Errorf("bench: sweep %q: rate (open loop) and concurrency (closed loop) exclude each other", spec)
	}
	return axes, nil
}
