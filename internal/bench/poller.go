package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/crossrank/crossrank/internal/metrics/stats"
)

// Poller collects the target's /v1/stats points once a second, as the
// dashboard does.
type Poller struct {
	c        *Client
	interval time.Duration

	mu     sync.Mutex
	points []stats.Point
	gpu    bool
	err    error
	last   int64
}

// NewPoller returns a poller of c's /v1/stats.
func NewPoller(c *Client) *Poller { return &Poller{c: c, interval: time.Second} }

// Run polls until ctx ends, then fetches once more so the last complete
// second is in.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		if err := p.poll(ctx); err != nil {
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Flush waits for the second in progress to complete and fetches it.
func (p *Poller) Flush(ctx context.Context) {
	p.mu.Lock()
	failed := p.err != nil
	p.mu.Unlock()
	if failed {
		return
	}
	wait := time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond))
	select {
	case <-ctx.Done():
		return
	case <-time.After(wait):
	}
	if err := p.poll(ctx); err != nil {
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
	}
}

func (p *Poller) poll(ctx context.Context) error {
	p.mu.Lock()
	path := "/v1/stats"
	if p.last > 0 {
		path = fmt.Sprintf("/v1/stats?since=%d", p.last)
	}
	p.mu.Unlock()
	code, body, err := p.c.Get(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if code != 200 {
		return fmt.Errorf("bench: GET /v1/stats: HTTP %d", code)
	}
	var s stats.Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("bench: decode /v1/stats: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gpu = s.GPU
	for _, pt := range s.Points {
		if pt.T > p.last {
			p.points = append(p.points, pt)
			p.last = pt.T
		}
	}
	return nil
}

// Points returns the points collected so far, the GPU flag and the error
// that stopped polling (nil while it works).
func (p *Poller) Points() ([]stats.Point, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]stats.Point(nil), p.points...), p.gpu, p.err
}
