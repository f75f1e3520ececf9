package host

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// doneChan holds the Done channel of the context a guest runs under.
type doneChan struct{ c <-chan struct{} }

// interrupted reports whether the guest's current call (or creation) has
// passed its deadline or been cancelled.
func (in *instance) interrupted() bool {
	d := in.done.Load()
	if d == nil {
		return false
	}
	select {
	case <-d.c:
		return true
	default:
		return false
	}
}

// nanosleep is the instance's WASI sleep (poll_oneoff with a clock): it
// returns early when the call's deadline passes; the check after the
// import call then traps.
func (in *instance) nanosleep(ns int64) {
	if ns <= 0 {
		return
	}
	d := in.done.Load()
	if d == nil {
		return // the guest runs only under a deadline; nothing to wait for
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-d.c:
	}
}

// randReader is the instance's WASI random source: crypto/rand, read in
// chunks, failing (random_get returns EIO) once the deadline passes, so one
// random_get of 48 MiB cannot outlast it.
type randReader struct{ in *instance }

func (r randReader) Read(p []byte) (int, error) {
	const chunk = 64 << 10
	n := 0
	for n < len(p) {
		if r.in.interrupted() {
			return n, errInterrupted
		}
		m, err := rand.Read(p[n:min(len(p), n+chunk)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// instantiate instantiates a compiled module for in, with its memory
// charged to the host's budget.
func (h *Host) instantiate(ctx context.Context, in *instance, cm wazero.CompiledModule, mc wazero.ModuleConfig) (api.Module, error) {
	alloc := experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		m := &budgetMemory{b: h.memAlloc, max: max}
		in.linear = m
		return m
	})
	return h.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, alloc), cm, mc)
}

// memoryBudget bounds the bytes of linear memory of every instance of a
// Host together (Config.MaxGuestMemoryBytes): a memory.grow that would pass
// it fails (the guest sees -1, as at its own limit), so pool size × the
// per-instance limit cannot exhaust the machine.
type memoryBudget struct {
	max  int64
	used atomic.Int64
}

func (b *memoryBudget) reserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *memoryBudget) release(n int64) { b.used.Add(-n) }

// fits reports whether n more bytes fit the budget now.
func (b *memoryBudget) fits(n int64) bool { return b.used.Load()+n <= b.max }

// budgetMemory is one instance's linear memory, charged to the budget by
// length.
type budgetMemory struct {
	b       *memoryBudget
	buf     []byte
	max     uint64
	refused atomic.Bool // a grow failed for the budget
}

func (m *budgetMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	old := uint64(len(m.buf))
	if m.buf == nil {
		// The initial allocation must not fail (wazero does not expect it
		// to); create checked the budget for it beforehand.
		m.b.used.Add(int64(size))
		m.buf = make([]byte, size)
		return m.buf
	}
	if size > old && !m.b.reserve(int64(size-old)) {
		m.refused.Store(true)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	// Double the capacity (Go guests grow a few pages at a time); pages
	// past the length are never touched, so only the length is charged.
	nb := make([]byte, size, min(max(size, 2*uint64(cap(m.buf))), m.max))
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

func (m *budgetMemory) Free() {
	m.b.release(int64(len(m.buf)))
	m.buf = nil
}

// logLimiter rate-limits one plugin's log lines (a token bucket); the lines
// it drops are counted, never copied, and summarised in one line at most
// once per logSummaryEvery.
type logLimiter struct {
	mu        sync.Mutex
	tokens    float64
	last      time.Time
	dropped   uint64 // since the last summary
	summaryAt time.Time
}

const logSummaryEvery = time.Second

// logLimits holds the per-plugin limiters of a Host.
type logLimits struct {
	rate    float64 // lines per second
	burst   float64
	mu      sync.Mutex
	plugins map[string]*logLimiter
	dropped atomic.Uint64 // in total
}

func (l *logLimits) get(plugin string) *logLimiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	ll := l.plugins[plugin]
	if ll == nil {
		ll = &logLimiter{tokens: l.burst, last: time.Now()}
		l.plugins[plugin] = ll
	}
	return ll
}

// allow takes a token for one line of plugin's; false: drop it (counted).
func (l *logLimits) allow(plugin string) bool {
	ll := l.get(plugin)
	ll.mu.Lock()
	defer ll.mu.Unlock()
	now := time.Now()
	ll.tokens = min(l.burst, ll.tokens+now.Sub(ll.last).Seconds()*l.rate)
	ll.last = now
	if ll.tokens >= 1 {
		ll.tokens--
		return true
	}
	ll.dropped++
	l.dropped.Add(1)
	return false
}

// summarise logs one line for plugin's dropped lines, if any and if the last
// summary is old enough (force: regardless of age, as at Close).
func (l *logLimits) summarise(logger *slog.Logger, plugin string, force bool) {
	ll := l.get(plugin)
	ll.mu.Lock()
	n := ll.dropped
	now := time.Now()
	if n == 0 || (!force && now.Sub(ll.summaryAt) < logSummaryEvery) {
		ll.mu.Unlock()
		return
	}
	ll.dropped = 0
	ll.summaryAt = now
	ll.mu.Unlock()
	logger.Warn(fmt.Sprintf("plugins: dropped %d log lines over the rate limit of %g/s", n, l.rate), "plugin", plugin, "dropped", n)
}

// summariseAll logs every plugin's pending summary.
func (l *logLimits) summariseAll(logger *slog.Logger) {
	l.mu.Lock()
	names := make([]string, 0, len(l.plugins))
	for n := range l.plugins {
		names = append(names, n)
	}
	l.mu.Unlock()
	for _, n := range names {
		l.summarise(logger, n, true)
	}
}

// DroppedLogLines is how many guest log lines the rate limit dropped since
// the Host was created.
func (h *Host) DroppedLogLines() uint64 { return h.logs.dropped.Load() }
