// Package batcher is the sidecar's dynamic batcher. Pairs from every in-flight
// request to one model wait in one queue, owned by one goroutine; worker
// goroutines ask it for the next batch (as text-embeddings-inference does),
// build the padded tensor and run the model.
//
// A batch closes when it holds MaxBatchPairs pairs, when its padded size
// (pairs × longest) would pass MaxBatchTokens, or when its oldest pair has
// waited MaxWait. Within what is waiting, pairs are grouped by token length:
// the queue is sorted by length and the batch is the contiguous run around
// the most urgent pair that wastes least compute on padding. Urgency follows
// start-time fair queueing: a request's k-th longest pair has virtual round
// start+k/Quantum, so a large request is served Quantum pairs per round and
// cannot starve a small one that arrives after it. Pairs of a request whose
// context is done are dropped before inference. See sidecar/RATIONALE.md.
//
// A sequence longer than MaxBatchTokens is not refused: it runs in a batch
// of its own (the budget bounds batches of two or more), so a model with a
// long maximum length (8192 tokens) serves long pairs at batch size one.
//
// New batches (query, passage) pairs for a cross-encoder (models.Scorer,
// one logit per sequence); NewEmbedder batches single sequences for a
// bi-encoder (models.Embedder, one embedding per sequence) with the same
// policy.
package batcher

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/sidecar/metrics"
)

// Errors returned by Submit.
var (
	// ErrQueueFull means accepting the request would pass MaxQueuePairs.
	ErrQueueFull = errors.New("batcher: queue full")
	// ErrClosed means the batcher is shutting down.
	ErrClosed = errors.New("batcher: closed")
)

// Config sets the batching policy. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	MaxBatchPairs  int           // pairs per batch
	MaxBatchTokens int           // padded tokens per batch (pairs × longest)
	MaxWait        time.Duration // longest a pair waits for a batch to fill
	MaxQueuePairs  int           // pairs waiting before Submit answers ErrQueueFull
	Workers        int           // batches run at once
	// OverheadTokens is the fixed cost of one batch, in token equivalents,
	// used to weigh a larger batch against its padding when grouping.
	OverheadTokens int
	// Quantum is how many of one request's pairs count as one round of fair
	// queueing.
	Quantum int
	// FIFO turns length grouping off: batches take pairs in arrival order
	// (kept for comparison in benchmarks).
	FIFO bool
	// EDF schedules across requests earliest deadline first instead of by
	// start-time fair queueing: a request's deadline is its context's (a
	// request without one counts as due an hour after it arrived); a batch
	// is formed from the pairs of the requests due first (whole requests,
	// in deadline order, until they hold MaxBatchPairs pairs), length
	// grouped around the most urgent request's pair with the lowest
	// fair-queueing round. Equal deadlines go in arrival order. See
	// sidecar/RATIONALE.md, "Latency under open load".
	EDF bool
}

// DefaultConfig returns the defaults measured on a 2-core machine with the
// MiniLM-L6 twin (see sidecar/RATIONALE.md).
func DefaultConfig() Config {
	return Config{
		MaxBatchPairs:  16,
		MaxBatchTokens: 16 * 512,
		MaxWait:        2 * time.Millisecond,
		MaxQueuePairs:  8192,
		Workers:        2,
		OverheadTokens: 16,
		Quantum:        8,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBatchPairs <= 0 {
		c.MaxBatchPairs = d.MaxBatchPairs
	}
	if c.MaxBatchTokens <= 0 {
		c.MaxBatchTokens = max(d.MaxBatchTokens, c.MaxBatchPairs*64)
	}
	if c.MaxWait <= 0 {
		c.MaxWait = d.MaxWait
	}
	if c.MaxQueuePairs <= 0 {
		c.MaxQueuePairs = d.MaxQueuePairs
	}
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.OverheadTokens < 0 {
		c.OverheadTokens = 0
	} else if c.OverheadTokens == 0 {
		c.OverheadTokens = d.OverheadTokens
	}
	if c.Quantum <= 0 {
		c.Quantum = d.Quantum
	}
	return c
}

// Seq is one encoded (query, passage) pair, or one text for an embedder.
type Seq = models.Sequence

// BatchInfo describes one batch after it ran; observers get one per batch.
type BatchInfo struct {
	Model                    string
	Pairs                    int
	RealTokens, PaddedTokens int
	// Requests holds the distinct request numbers (Result.Request) whose
	// pairs were in the batch.
	Requests  []uint64
	Inference time.Duration
	Err       error
}

// Result is the outcome of one Submit.
type Result struct {
	Request      uint64      // this request's number, as in BatchInfo.Requests
	Logits       []float32   // one per submitted Seq, same order (New)
	Embeddings   [][]float32 // one per submitted Seq, same order (NewEmbedder)
	PaddedTokens int         // sum over the pairs of their batch's row length
	Batches      int         // batches the pairs were spread over
	Queue        time.Duration
	Inference    time.Duration
}

// Option configures a Batcher.
type Option func(*Batcher)

// WithRecorder sends batch, queue and inference events to r.
func WithRecorder(r metrics.Recorder) Option {
	return func(b *Batcher) {
		if r != nil {
			b.rec = r
		}
	}
}

// WithObserver calls f after every batch, from the worker that ran it.
func WithObserver(f func(BatchInfo)) Option { return func(b *Batcher) { b.observe = f } }

// Batcher queues pairs for one model and runs them in shared batches.
type Batcher struct {
	name    string
	scorer  models.Scorer
	embed   models.Embedder // set instead of scorer by NewEmbedder
	cfg     Config
	rec     metrics.Recorder
	observe func(BatchInfo)
	tracer  trace.Tracer // nil: no spans

	in      chan *request
	want    chan chan *batch
	purge   chan struct{} // a request gave up: drop its queued pairs
	quit    chan struct{}
	drained chan struct{}
	closed  atomic.Bool
	queued  atomic.Int64
	reqSeq  atomic.Uint64
	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup
	once    sync.Once
}

type request struct {
	id   uint64
	ctx  context.Context
	seqs []Seq
	enq  time.Time
	// deadline is ctx's deadline, or enq + noDeadline (EDF ordering).
	deadline time.Time
	// served counts the request's pairs put into batches so far; only the
	// loop goroutine touches it.
	served int

	mu        sync.Mutex
	res       Result
	remaining int
	lastStart time.Time
	err       error
	done      chan struct{}
	// firstStart and batches are for tracing only (see traceRequest).
	firstStart time.Time
	batches    []trace.Link
}

type pair struct {
	req    *request
	idx    int
	length int
	round  int64
	seq    uint64
}

type batch struct {
	pairs []*pair
}

// New starts a batcher for the cross-encoder served as name; Close stops it.
func New(name string, scorer models.Scorer, cfg Config, opts ...Option) *Batcher {
	return start(&Batcher{name: name, scorer: scorer}, cfg, opts)
}

// NewEmbedder starts a batcher for the bi-encoder served as name: Submit
// takes single sequences and its Result holds Embeddings. Close stops it.
func NewEmbedder(name string, e models.Embedder, cfg Config, opts ...Option) *Batcher {
	return start(&Batcher{name: name, embed: e}, cfg, opts)
}

func start(b *Batcher, cfg Config, opts []Option) *Batcher {
	ctx, cancel := context.WithCancel(context.Background())
	*b = Batcher{
		name:    b.name,
		scorer:  b.scorer,
		embed:   b.embed,
		cfg:     cfg.withDefaults(),
		rec:     metrics.Nop{},
		in:      make(chan *request),
		want:    make(chan chan *batch),
		purge:   make(chan struct{}, 1),
		quit:    make(chan struct{}),
		drained: make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
	}
	for _, o := range opts {
		o(b)
	}
	go b.loop()
	for range b.cfg.Workers {
		b.workers.Add(1)
		go b.worker()
	}
	return b
}

// Config returns the effective configuration.
func (b *Batcher) Config() Config { return b.cfg }

// Closing reports whether Close has been called.
func (b *Batcher) Closing() bool { return b.closed.Load() }

// Queued returns the number of pairs waiting.
func (b *Batcher) Queued() int { return int(b.queued.Load()) }

// Submit queues seqs and waits for their logits. It returns ErrQueueFull when
// the queue cannot take them, ErrClosed after Close, ctx.Err() when ctx ends
// first (its pairs still waiting are then dropped), or the backend's error.
func (b *Batcher) Submit(ctx context.Context, seqs []Seq) (*Result, error) {
	now := time.Now()
	r := &request{id: b.reqSeq.Add(1), ctx: ctx, seqs: seqs, enq: now, deadline: now.Add(noDeadline), done: make(chan struct{})}
	if dl, ok := ctx.Deadline(); ok {
		r.deadline = dl
	}
	r.res.Request = r.id
	if b.embed != nil {
		r.res.Embeddings = make([][]float32, len(seqs))
	} else {
		r.res.Logits = make([]float32, len(seqs))
	}
	r.remaining = len(seqs)
	if len(seqs) == 0 {
		return &r.res, nil
	}
	for i, s := range seqs {
		if len(s.IDs) == 0 || len(s.TypeIDs) != len(s.IDs) {
			return nil, fmt.Errorf("batcher: pair %d: %d ids, %d type ids", i, len(s.IDs), len(s.TypeIDs))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b.closed.Load() {
		return nil, ErrClosed
	}
	n := int64(len(seqs))
	if b.queued.Add(n) > int64(b.cfg.MaxQueuePairs) {
		b.queued.Add(-n)
		return nil, ErrQueueFull
	}
	b.rec.QueuePairs(len(seqs))
	select {
	case b.in <- r:
	case <-b.drained:
		b.queued.Add(-n)
		b.rec.QueuePairs(-len(seqs))
		return nil, ErrClosed
	case <-ctx.Done():
		b.queued.Add(-n)
		b.rec.QueuePairs(-len(seqs))
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		select { // let the loop free the queue space now, not at the next batch
		case b.purge <- struct{}{}:
		default:
		}
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	return &r.res, nil
}

// Close stops accepting pairs, lets the queued ones finish, and waits for the
// workers until ctx ends (then in-flight inference is cancelled).
func (b *Batcher) Close(ctx context.Context) error {
	b.once.Do(func() {
		b.closed.Store(true)
		close(b.quit)
	})
	done := make(chan struct{})
	go func() { b.workers.Wait(); close(done) }()
	select {
	case <-done:
		b.cancel()
		return nil
	case <-ctx.Done():
		b.cancel()
		<-done
		return fmt.Errorf("batcher %s: close: %w", b.name, ctx.Err())
	}
}

func (b *Batcher) loop() {
	var (
		pending []*pair
		waiters []chan *batch
		seq     uint64
		vtime   int64
		closing bool
		timer   = time.NewTimer(time.Hour)
	)
	timer.Stop()
	defer close(b.drained)
	for {
		if len(waiters) > 0 && len(pending) > 0 {
			pending = b.dropDead(pending)
		}
		for len(waiters) > 0 && len(pending) > 0 {
			if !closing && len(pending) < b.cfg.MaxBatchPairs && time.Since(oldest(pending)) < b.cfg.MaxWait {
				break
			}
			var chosen []*pair
			var anchor int64
			chosen, pending, anchor = b.form(pending)
			vtime = max(vtime, anchor)
			b.queued.Add(-int64(len(chosen)))
			b.rec.QueuePairs(-len(chosen))
			waiters[0] <- &batch{pairs: chosen}
			waiters = waiters[1:]
		}
		if closing && len(pending) == 0 {
			for _, w := range waiters {
				w <- nil
			}
			return
		}
		if len(waiters) > 0 && len(pending) > 0 {
			timer.Reset(max(time.Until(oldest(pending).Add(b.cfg.MaxWait)), 0))
		}
		select {
		case r := <-b.in:
			quantum := int64(b.cfg.Quantum)
			for k, i := range longestFirst(r.seqs) {
				seq++
				pending = append(pending, &pair{req: r, idx: i, length: len(r.seqs[i].IDs), round: vtime + int64(k)/quantum, seq: seq})
			}
		case w := <-b.want:
			waiters = append(waiters, w)
		case <-timer.C:
		case <-b.purge:
			pending = b.dropDead(pending)
		case <-b.quit:
			closing = true
			b.quit = nil // a nil channel never fires again
		}
		timer.Stop()
	}
}

// longestFirst returns the indices of seqs, longest first (ties in input
// order): a request's k-th longest pair gets its k-th round, so its long pairs
// run first and its last batches are its shortest, which shortens the tail in
// which one worker still runs while the others have nothing of it left.
func longestFirst(seqs []Seq) []int {
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, c int) bool { return len(seqs[order[a]].IDs) > len(seqs[order[c]].IDs) })
	return order
}

func oldest(p []*pair) time.Time {
	t := p[0].req.enq
	for _, x := range p[1:] {
		if x.req.enq.Before(t) {
			t = x.req.enq
		}
	}
	return t
}

// noDeadline is how long after its arrival a request without a deadline
// counts as due, for EDF ordering.
const noDeadline = time.Hour

// dropDead removes the pairs of requests whose context is done, and counts
// them by reason with the recorder's metrics.DropRecorder, when it has one.
func (b *Batcher) dropDead(p []*pair) []*pair {
	out := p[:0]
	dropped := 0
	var reqs map[*request]int
	for _, x := range p {
		if x.req.ctx.Err() != nil {
			dropped++
			if reqs == nil {
				reqs = map[*request]int{}
			}
			reqs[x.req]++
			continue
		}
		out = append(out, x)
	}
	clear(p[len(out):])
	if dropped > 0 {
		b.queued.Add(-int64(dropped))
		b.rec.QueuePairs(-dropped)
		if dr, ok := b.rec.(metrics.DropRecorder); ok {
			var n, pairs [2]int // deadline, cancelled
			for r, k := range reqs {
				i := 1
				if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
					i = 0
				}
				n[i]++
				pairs[i] += k
			}
			for i, reason := range []string{metrics.DropDeadline, metrics.DropCancelled} {
				if n[i] > 0 {
					dr.Dropped(b.name, reason, n[i], pairs[i])
				}
			}
		}
	}
	return out
}

// form picks the next batch from pending and returns it, the pairs left, and
// the anchor's virtual round.
func (b *Batcher) form(pending []*pair) (chosen, rest []*pair, round int64) {
	if b.cfg.FIFO {
		sort.Slice(pending, func(i, j int) bool { return pending[i].seq < pending[j].seq })
		n, longest := 0, 0
		for n < len(pending) && n < b.cfg.MaxBatchPairs {
			l := max(longest, pending[n].length)
			if n > 0 && (n+1)*l > b.cfg.MaxBatchTokens {
				break
			}
			longest = l
			n++
		}
		chosen = append([]*pair(nil), pending[:n]...)
		for _, p := range chosen {
			p.req.served++
		}
		return chosen, append(pending[:0], pending[n:]...), pending[0].round
	}
	if b.cfg.EDF {
		return b.formEDF(pending)
	}
	return b.group(pending)
}

// formEDF picks the next batch earliest deadline first. The candidates are
// the urgent window: whole requests in deadline order (ties by arrival)
// until they hold MaxBatchPairs pairs; the batch is the length-grouped run
// around the anchor among them (group). Limiting the candidates matters as
// much as the anchor: over the whole queue, the run around the anchor
// would be filled with later requests' pairs of similar length, so every
// request in the queue would progress a little per batch (processor
// sharing) and the most urgent one would finish late.
func (b *Batcher) formEDF(pending []*pair) (chosen, rest []*pair, round int64) {
	count := map[*request]int{}
	var reqs []*request
	for _, p := range pending {
		if count[p.req] == 0 {
			reqs = append(reqs, p.req)
		}
		count[p.req]++
	}
	sort.Slice(reqs, func(i, j int) bool {
		if !reqs[i].deadline.Equal(reqs[j].deadline) {
			return reqs[i].deadline.Before(reqs[j].deadline)
		}
		return reqs[i].id < reqs[j].id
	})
	window := map[*request]bool{}
	for n, k := 0, 0; k < len(reqs) && n < b.cfg.MaxBatchPairs; k++ {
		window[reqs[k]] = true
		n += count[reqs[k]]
	}
	var in, out []*pair
	for _, p := range pending {
		if window[p.req] {
			in = append(in, p)
		} else {
			out = append(out, p)
		}
	}
	chosen, rest, round = b.group(in)
	return chosen, append(rest, out...), round
}

// group picks the length-grouped batch around the most urgent pair of
// pending (see Group) and returns it, the pairs left, and the anchor's
// virtual round.
func (b *Batcher) group(pending []*pair) (chosen, rest []*pair, round int64) {
	sort.Slice(pending, func(i, j int) bool {
		a, c := pending[i], pending[j]
		if a.length != c.length {
			return a.length < c.length
		}
		if a.round != c.round {
			return a.round < c.round
		}
		return a.seq < c.seq
	})
	lengths := make([]int, len(pending))
	for i, p := range pending {
		lengths[i] = p.length
	}
	// The anchor is the most urgent pair: lowest virtual round, then the
	// request with the fewest pairs served so far, then arrival order; with
	// EDF, the earliest deadline first.
	anchor := 0
	for i, p := range pending {
		if b.cfg.EDF {
			if a := pending[anchor]; !p.req.deadline.Equal(a.req.deadline) {
				if p.req.deadline.Before(a.req.deadline) {
					anchor = i
				}
				continue
			}
		}
		a := pending[anchor]
		if p.round != a.round {
			if p.round < a.round {
				anchor = i
			}
			continue
		}
		if p.req.served != a.req.served {
			if p.req.served < a.req.served {
				anchor = i
			}
			continue
		}
		if p.seq < a.seq {
			anchor = i
		}
	}
	lo, hi := Group(lengths, anchor, b.cfg.MaxBatchPairs, b.cfg.MaxBatchTokens, b.cfg.OverheadTokens)
	chosen = append([]*pair(nil), pending[lo:hi]...)
	for _, p := range chosen {
		p.req.served++
	}
	round = pending[anchor].round
	rest = append(pending[:lo], pending[hi:]...)
	clear(pending[len(rest):])
	return chosen, rest, round
}

// Group chooses a batch from lengths, sorted ascending: the half-open run
// [lo, hi) that contains anchor, has at most maxPairs entries and at most
// maxTokens padded tokens (entries × longest), and maximises real tokens per
// unit of compute, real / (padded + overhead). Ties go to the larger run.
func Group(lengths []int, anchor, maxPairs, maxTokens, overhead int) (lo, hi int) {
	prefix := make([]int, len(lengths)+1)
	for i, l := range lengths {
		prefix[i+1] = prefix[i] + l
	}
	lo, hi = anchor, anchor+1
	best := -1.0
	for i := max(0, anchor-maxPairs+1); i <= anchor; i++ {
		for j := anchor; j < len(lengths) && j-i+1 <= maxPairs; j++ {
			n := j - i + 1
			padded := n * lengths[j]
			if padded > maxTokens && n > 1 {
				break
			}
			eff := float64(prefix[j+1]-prefix[i]) / float64(padded+overhead)
			if eff > best+1e-12 || (eff > best-1e-12 && n > hi-lo) {
				best, lo, hi = eff, i, j+1
			}
		}
	}
	return lo, hi
}

func (b *Batcher) worker() {
	defer b.workers.Done()
	w := make(chan *batch, 1)
	var mb models.Batch
	for {
		select {
		case b.want <- w:
		case <-b.drained:
			return
		}
		bt := <-w
		if bt == nil {
			return
		}
		b.run(bt, &mb)
	}
}

func (b *Batcher) run(bt *batch, mb *models.Batch) {
	start := time.Now()
	longest, real := 0, 0
	for _, p := range bt.pairs {
		longest = max(longest, p.length)
		real += p.length
	}
	mb.Reset(len(bt.pairs), longest)
	for i, p := range bt.pairs {
		s := p.req.seqs[p.idx]
		mb.SetRow(i, s.IDs, s.TypeIDs)
	}
	var (
		logits []float32
		embs   [][]float32
		err    error
	)
	if b.embed != nil {
		embs, err = b.embed.Embed(b.ctx, mb)
		if err == nil && len(embs) != len(bt.pairs) {
			err = fmt.Errorf("backend returned %d embeddings for %d sequences", len(embs), len(bt.pairs))
		}
	} else {
		logits, err = b.scorer.Score(b.ctx, mb)
		if err == nil && len(logits) != len(bt.pairs) {
			err = fmt.Errorf("backend returned %d logits for %d pairs", len(logits), len(bt.pairs))
		}
	}
	if err != nil {
		err = fmt.Errorf("batcher %s: score batch of %d: %w", b.name, len(bt.pairs), err)
	}
	d := time.Since(start)
	b.rec.Batch(b.name, len(bt.pairs), real, len(bt.pairs)*longest)
	b.rec.Stage(metrics.StageInference, d)

	// Group this batch's pairs by request, keeping first-seen order.
	groups := make(map[*request][]int, 4)
	var order []*request
	var ids []uint64
	for i, p := range bt.pairs {
		if _, ok := groups[p.req]; !ok {
			order = append(order, p.req)
			ids = append(ids, p.req.id)
		}
		groups[p.req] = append(groups[p.req], i)
	}
	// Observers see the batch before its requests are answered, so a test
	// that checks the log after its requests returned sees every batch.
	if b.observe != nil {
		b.observe(BatchInfo{Model: b.name, Pairs: len(bt.pairs), RealTokens: real, PaddedTokens: len(bt.pairs) * longest, Requests: ids, Inference: d, Err: err})
	}
	var batchSpan trace.SpanContext
	if b.tracer != nil {
		batchSpan = b.traceBatch(order, groups, start, d, real, len(bt.pairs)*longest, err)
	}
	for _, r := range order {
		b.rec.Stage(metrics.StageQueue, start.Sub(r.enq))
		r.mu.Lock()
		for _, i := range groups[r] {
			p := bt.pairs[i]
			switch {
			case err != nil:
			case embs != nil:
				r.res.Embeddings[p.idx] = embs[i]
			default:
				r.res.Logits[p.idx] = logits[i]
			}
			r.res.PaddedTokens += longest
		}
		r.res.Batches++
		if start.After(r.lastStart) {
			r.lastStart = start
		}
		if err != nil && r.err == nil {
			r.err = err
		}
		r.remaining -= len(groups[r])
		if r.remaining == 0 {
			now := time.Now()
			r.res.Queue = r.lastStart.Sub(r.enq)
			r.res.Inference = now.Sub(r.lastStart)
			if b.tracer != nil {
				b.traceRequest(r, batchSpan, start, now, r.res.Batches == 1, true)
			}
			close(r.done)
		} else if b.tracer != nil {
			b.traceRequest(r, batchSpan, start, time.Time{}, r.res.Batches == 1, false)
		}
		r.mu.Unlock()
	}
}
