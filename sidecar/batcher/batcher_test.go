package batcher_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/sidecar/batcher"
)

// loadTwin loads the default shape twin on the real ONNX Runtime.
func loadTwin(t testing.TB) *ort.Session {
	t.Helper()
	s, err := ort.Load(context.Background(), testenv.TwinDir(t), ort.WithLibrary(testenv.ORTLib(t)), ort.WithThreads(1, 1))
	if err != nil {
		t.Fatalf("load twin: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seq builds a BERT pair [CLS] q [SEP] p [SEP] with random word-piece ids.
func seq(rng *rand.Rand, qLen, pLen int) batcher.Seq {
	n := qLen + pLen + 3
	ids := make([]int64, 0, n)
	types := make([]int64, 0, n)
	ids = append(ids, 101)
	for range qLen {
		ids = append(ids, 1000+rng.Int64N(28000))
	}
	ids = append(ids, 102)
	for range len(ids) {
		types = append(types, 0)
	}
	for range pLen {
		ids = append(ids, 1000+rng.Int64N(28000))
		types = append(types, 1)
	}
	ids = append(ids, 102)
	types = append(types, 1)
	return batcher.Seq{IDs: ids, TypeIDs: types}
}

func seqs(rng *rand.Rand, n, minP, maxP int) []batcher.Seq {
	out := make([]batcher.Seq, n)
	for i := range out {
		out[i] = seq(rng, 3+rng.IntN(6), minP+rng.IntN(maxP-minP+1))
	}
	return out
}

// direct scores one pair alone, unpadded.
func direct(t testing.TB, s models.Scorer, q batcher.Seq) float32 {
	t.Helper()
	var b models.Batch
	b.Reset(1, len(q.IDs))
	b.SetRow(0, q.IDs, q.TypeIDs)
	out, err := s.Score(context.Background(), &b)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// gated runs the real scorer only once its gate is open, so a test can hold
// the workers busy for as long as it needs, independent of machine speed.
type gated struct {
	models.Scorer
	gate    chan struct{}
	once    sync.Once
	entered chan struct{} // gets a value (when there is room) as Score is entered
}

func newGated(s models.Scorer) *gated {
	return &gated{Scorer: s, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
}

// gatedBatcher starts a batcher over g whose cleanup opens the gate first, so
// a failing test cannot leave Close waiting on a closed gate.
func gatedBatcher(t *testing.T, g *gated, cfg batcher.Config, opts ...batcher.Option) *batcher.Batcher {
	b := batcher.New("twin", g, cfg, opts...)
	t.Cleanup(func() { b.Close(context.Background()) })
	t.Cleanup(g.open)
	return b
}

// uniform returns n pairs of the same length, so batches are always full
// whatever the grouping's padding trade-off.
func uniform(rng *rand.Rand, n, pLen int) []batcher.Seq {
	out := make([]batcher.Seq, n)
	for i := range out {
		out[i] = seq(rng, 5, pLen)
	}
	return out
}

func (g *gated) Score(ctx context.Context, b *models.Batch) ([]float32, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
	return g.Scorer.Score(ctx, b)
}

func (g *gated) open() { g.once.Do(func() { close(g.gate) }) }

// waitQueued waits until b holds n queued pairs.
func waitQueued(t *testing.T, b *batcher.Batcher, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d pairs, want %d", b.Queued(), n)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

type batchLog struct {
	mu      sync.Mutex
	batches []batcher.BatchInfo
}

func (l *batchLog) observe(b batcher.BatchInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, b)
}

func (l *batchLog) all() []batcher.BatchInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.batches)
}

// TestConcurrentRequestsShareBatches: 32 concurrent submitters each get their
// own logits (equal to scoring each pair alone), and batches mix requests.
func TestConcurrentRequestsShareBatches(t *testing.T) {
	s := loadTwin(t)
	var log batchLog
	b := batcher.New("twin", s, batcher.Config{MaxBatchPairs: 16, MaxWait: 5 * time.Millisecond, Workers: 2}, batcher.WithObserver(log.observe))
	defer b.Close(context.Background())

	const clients = 32
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([][]batcher.Seq, clients)
	for i := range reqs {
		reqs[i] = seqs(rng, 2+rng.IntN(6), 4, 40)
	}
	results := make([]*batcher.Result, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			r, err := b.Submit(context.Background(), reqs[i])
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			results[i] = r
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, r := range results {
		if len(r.Logits) != len(reqs[i]) {
			t.Fatalf("client %d: %d logits for %d pairs", i, len(r.Logits), len(reqs[i]))
		}
		for j, q := range reqs[i] {
			if want := direct(t, s, q); math.Abs(float64(r.Logits[j]-want)) > 1e-4 {
				t.Errorf("client %d pair %d: batched %v, alone %v", i, j, r.Logits[j], want)
			}
		}
	}
	mixed, total := 0, 0
	for _, bi := range log.all() {
		total += bi.Pairs
		if len(bi.Requests) > 1 {
			mixed++
		}
		if bi.Pairs > 16 {
			t.Errorf("batch of %d pairs passes max 16", bi.Pairs)
		}
	}
	want := 0
	for _, r := range reqs {
		want += len(r)
	}
	if total != want {
		t.Errorf("batches carried %d pairs, submitted %d", total, want)
	}
	if mixed == 0 {
		t.Errorf("no batch mixed requests among %d batches", len(log.all()))
	}
	if b.Queued() != 0 {
		t.Errorf("queue holds %d pairs after all requests finished", b.Queued())
	}
}

// TestCancelledPairsDropped: pairs of a request whose deadline passes while
// queued never reach the model.
func TestCancelledPairsDropped(t *testing.T) {
	g := newGated(loadTwin(t))
	var log batchLog
	b := gatedBatcher(t, g, batcher.Config{MaxBatchPairs: 8, Workers: 1}, batcher.WithObserver(log.observe))
	rng := rand.New(rand.NewPCG(3, 4))
	big := uniform(rng, 24, 15)
	done := make(chan error, 1)
	go func() {
		_, err := b.Submit(context.Background(), big)
		done <- err
	}()
	waitQueued(t, b, 16) // one batch of 8 taken by the (gated) worker
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	small := seqs(rng, 5, 4, 8)
	if _, err := b.Submit(ctx, small); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit with a passed deadline: %v, want DeadlineExceeded", err)
	}
	// Its queue space is freed while the worker is still busy.
	waitQueued(t, b, 16)
	g.open()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, bi := range log.all() {
		total += bi.Pairs
	}
	if total != len(big) {
		t.Errorf("model saw %d pairs, want %d (the cancelled request's %d must be dropped)", total, len(big), len(small))
	}
	waitQueued(t, b, 0)
}

// TestQueueFull: Submit answers ErrQueueFull once MaxQueuePairs are waiting.
func TestQueueFull(t *testing.T) {
	g := newGated(loadTwin(t))
	b := gatedBatcher(t, g, batcher.Config{MaxBatchPairs: 4, Workers: 1, MaxQueuePairs: 40})
	rng := rand.New(rand.NewPCG(5, 6))
	done := make(chan error, 1)
	go func() {
		_, err := b.Submit(context.Background(), uniform(rng, 40, 15))
		done <- err
	}()
	waitQueued(t, b, 36)
	small := seqs(rand.New(rand.NewPCG(7, 8)), 5, 3, 3)
	if _, err := b.Submit(context.Background(), small); !errors.Is(err, batcher.ErrQueueFull) {
		t.Errorf("Submit of 5 pairs onto 36 of 40: %v, want ErrQueueFull", err)
	}
	g.open()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSmallRequestNotStarved: a small request that arrives after a large one
// finishes before the large one does.
func TestSmallRequestNotStarved(t *testing.T) {
	g := newGated(loadTwin(t))
	var log batchLog
	b := gatedBatcher(t, g, batcher.Config{MaxBatchPairs: 8, Workers: 1, Quantum: 4}, batcher.WithObserver(log.observe))
	rng := rand.New(rand.NewPCG(9, 10))
	bigDone := make(chan *batcher.Result, 1)
	go func() {
		r, err := b.Submit(context.Background(), uniform(rng, 96, 20))
		if err != nil {
			t.Error(err)
		}
		bigDone <- r
	}()
	waitQueued(t, b, 88)
	smallDone := make(chan *batcher.Result, 1)
	go func() {
		r, err := b.Submit(context.Background(), uniform(rand.New(rand.NewPCG(11, 12)), 4, 20))
		if err != nil {
			t.Error(err)
		}
		smallDone <- r
	}()
	waitQueued(t, b, 92)
	g.open()
	small, big := <-smallDone, <-bigDone
	if small == nil || big == nil {
		t.FailNow()
	}
	lastSmall, lastBig := -1, -1
	for i, bi := range log.all() {
		if slices.Contains(bi.Requests, small.Request) {
			lastSmall = i
		}
		if slices.Contains(bi.Requests, big.Request) {
			lastBig = i
		}
	}
	// 96+4 pairs take at least 13 batches of 8; fair queueing serves the
	// small request within the first few.
	if lastSmall < 0 || lastSmall > 4 || lastSmall >= lastBig {
		t.Errorf("small request finished in batch %d, large in batch %d: the small one waited for the large one", lastSmall, lastBig)
	}
}

// TestLongestPairsFirst: within one request the long pairs run first and
// the short ones last, so the request's final batches (which one worker may
// run while the others idle) are its cheapest.
func TestLongestPairsFirst(t *testing.T) {
	g := newGated(loadTwin(t))
	var log batchLog
	b := gatedBatcher(t, g, batcher.Config{MaxBatchPairs: 4, Workers: 1, Quantum: 4}, batcher.WithObserver(log.observe))
	rng := rand.New(rand.NewPCG(21, 22))
	req := seqs(rng, 24, 4, 120)
	done := make(chan error, 1)
	go func() {
		_, err := b.Submit(context.Background(), req)
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); b.Queued() == 0 || b.Queued() == len(req); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the gated worker took no batch: %d pairs queued", b.Queued())
		}
	}
	g.open() // the rest of the request is queued and grouped from here on
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var rows []int
	for _, bi := range log.all() {
		rows = append(rows, bi.PaddedTokens/bi.Pairs)
	}
	if len(rows) < 6 || !slices.IsSortedFunc(rows, func(a, c int) int { return c - a }) {
		t.Errorf("row lengths of the request's batches in run order %v: want non-increasing (longest pairs first)", rows)
	}
}

// TestCloseFinishesQueued: Close lets queued requests finish; later Submits
// get ErrClosed.
func TestCloseFinishesQueued(t *testing.T) {
	g := newGated(loadTwin(t))
	b := gatedBatcher(t, g, batcher.Config{MaxBatchPairs: 8, Workers: 2})
	rng := rand.New(rand.NewPCG(13, 14))
	var wg sync.WaitGroup
	for i := range 8 {
		req := uniform(rng, 6, 20)
		wg.Go(func() {
			r, err := b.Submit(context.Background(), req)
			if err != nil || len(r.Logits) != len(req) {
				t.Errorf("request %d during close: %v", i, err)
			}
		})
	}
	waitQueued(t, b, 48-16) // two gated workers hold a batch of 8 each
	closed := make(chan error, 1)
	go func() { closed <- b.Close(context.Background()) }()
	for !b.Closing() {
		time.Sleep(100 * time.Microsecond)
	}
	if _, err := b.Submit(context.Background(), seqs(rng, 1, 4, 4)); !errors.Is(err, batcher.ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
	g.open()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestSubmitRejectsMalformed(t *testing.T) {
	s := loadTwin(t)
	b := batcher.New("twin", s, batcher.Config{})
	defer b.Close(context.Background())
	tests := []struct {
		name string
		in   []batcher.Seq
	}{
		{"empty ids", []batcher.Seq{{}}},
		{"types length differs", []batcher.Seq{{IDs: []int64{101, 102}, TypeIDs: []int64{0}}}},
	}
	for _, tt := range tests {
		if _, err := b.Submit(context.Background(), tt.in); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	r, err := b.Submit(context.Background(), nil)
	if err != nil || len(r.Logits) != 0 {
		t.Errorf("empty submit: %v %v", r, err)
	}
}
