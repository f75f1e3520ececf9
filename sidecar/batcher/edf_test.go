package batcher_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/metrics/prom"
	"github.com/crossrank/crossrank/sidecar/batcher"
)

// TestEDFOrder runs the real batcher on the twin: while its one worker is
// held on a first batch, requests A, B and C (8 pairs each, a batch's worth,
// arriving in that order, each of its own length so that length grouping
// keeps them apart, or all of one length) queue with the deadlines of the
// row; the order in which their batches
// then run is the scheduling order. With EDF it is earliest deadline first
// (no deadline counts as due an hour after arrival; equal deadlines fall
// back to fair queueing, i.e. arrival order here); without it, deadlines
// are ignored.
func TestEDFOrder(t *testing.T) {
	const (
		none = time.Duration(0)
		min  = time.Minute
		hour = time.Hour
	)
	tests := []struct {
		name     string
		edf      bool
		deadline [3]time.Duration // from now, for A, B, C; 0: no deadline
		want     string
		same     bool // all pairs of one length: only EDF's urgent window keeps requests apart
	}{
		{"edf: later arrival, earlier deadline runs first", true, [3]time.Duration{3 * hour, 2 * hour, 1 * hour}, "CBA", false},
		{"edf: deadlines in arrival order", true, [3]time.Duration{1 * hour, 2 * hour, 3 * hour}, "ABC", false},
		{"edf: middle one most urgent", true, [3]time.Duration{2 * hour, 1 * min, 3 * hour}, "BAC", false},
		{"edf: equal deadlines keep fair order", true, [3]time.Duration{2 * hour, 2 * hour, 2 * hour}, "ABC", false},
		{"edf: no deadline is due an hour after arrival", true, [3]time.Duration{none, 2 * hour, 30 * min}, "CAB", false},
		{"fair: deadlines ignored", false, [3]time.Duration{3 * hour, 2 * hour, 1 * hour}, "ABC", false},
		{"edf: one length, the most urgent request runs alone", true, [3]time.Duration{3 * hour, 2 * hour, 1 * hour}, "CBA", true},
		{"edf: one length, equal deadlines in arrival order", true, [3]time.Duration{hour, hour, hour}, "ABC", true},
	}
	twin := loadTwin(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGated(twin)
			var log batchLog
			b := gatedBatcher(t, g, batcher.Config{MaxBatchPairs: 8, Workers: 1, Quantum: 8, EDF: tt.edf}, batcher.WithObserver(log.observe))
			rng := rand.New(rand.NewPCG(31, 32))
			first := holdWorker(t, b, g, uniform(rng, 8, 10))
			type res struct {
				name string
				r    *batcher.Result
				err  error
			}
			results := make(chan res, 3)
			for i, name := range []string{"A", "B", "C"} {
				ctx := context.Background()
				if d := tt.deadline[i]; d > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, d)
					defer cancel()
				}
				length := 20 + 10*i
				if tt.same {
					length = 20
				}
				pairs := uniform(rng, 8, length)
				go func() { r, err := b.Submit(ctx, pairs); results <- res{name, r, err} }()
				waitQueued(t, b, 8*(i+1)) // arrival order is submission order
			}
			g.open()
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			names := map[uint64]string{}
			for range 3 {
				x := <-results
				if x.err != nil {
					t.Fatalf("%s: %v", x.name, x.err)
				}
				names[x.r.Request] = x.name
			}
			var order []string
			for _, bi := range log.all()[1:] {
				for _, id := range bi.Requests {
					if n := names[id]; !slices.Contains(order, n) {
						order = append(order, n)
					}
				}
				if len(bi.Requests) != 1 {
					t.Errorf("batch mixed requests %v: grouping should keep the lengths apart", bi.Requests)
				}
			}
			if got := strings.Join(order, ""); got != tt.want {
				t.Errorf("ran %s, want %s", got, tt.want)
			}
		})
	}
}

// holdWorker submits first (one full batch) and returns once the batcher's
// only worker is running it, held at g's gate; the channel gets Submit's
// error.
func holdWorker(t *testing.T, b *batcher.Batcher, g *gated, first []batcher.Seq) chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := b.Submit(context.Background(), first); done <- err }()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker took no batch")
	}
	waitQueued(t, b, 0)
	return done
}

// TestDroppedCounted: pairs dropped before inference are counted by reason
// in the Prometheus recorder (crossrank_dropped_{requests,pairs}_total):
// a request whose deadline passes while queued as "deadline", one whose
// context is cancelled as "cancelled", and the model never sees them.
func TestDroppedCounted(t *testing.T) {
	g := newGated(loadTwin(t))
	rec := prom.New(prom.WithoutSampler())
	t.Cleanup(func() { rec.Close() })
	var log batchLog
	b := gatedBatcher(t, g, batcher.Config{MaxBatchPairs: 8, Workers: 1}, batcher.WithRecorder(rec), batcher.WithObserver(log.observe))
	rng := rand.New(rand.NewPCG(41, 42))
	first := holdWorker(t, b, g, uniform(rng, 8, 10))

	expired, cancelExpired := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelExpired()
	gone, leave := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, err := b.Submit(expired, uniform(rng, 5, 12)); errs <- err }()
	waitQueued(t, b, 5)
	go func() { _, err := b.Submit(gone, uniform(rng, 3, 14)); errs <- err }()
	waitQueued(t, b, 8)
	leave()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			t.Fatalf("Submit: %v, want the context's error", err)
		}
	}
	waitQueued(t, b, 0)
	g.open()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		metric, reason string
		want           float64
	}{
		{"requests", "deadline", 1}, {"pairs", "deadline", 5},
		{"requests", "cancelled", 1}, {"pairs", "cancelled", 3},
	} {
		got := counter(t, rec, "crossrank_dropped_"+c.metric+"_total", "twin", c.reason)
		if got != c.want {
			t.Errorf("dropped %s{reason=%s} = %v, want %v", c.metric, c.reason, got, c.want)
		}
	}
	seen := 0
	for _, bi := range log.all() {
		seen += bi.Pairs
	}
	if seen != 8 {
		t.Errorf("the model saw %d pairs, want only the first request's 8", seen)
	}
}

// counter reads the Prometheus counter name{model, reason} from rec's
// registry (0 when absent).
func counter(t *testing.T, rec *prom.Prom, name, model, reason string) float64 {
	t.Helper()
	mfs, err := rec.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["model"] == model && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
