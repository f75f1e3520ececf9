package host_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
)

// Timing bounds of the sandbox tests. The machine running them may be
// loaded, so the bounds leave room; without the sandbox each case below
// runs for 20 s or more (or forever), so they still tell.
const (
	sbCallLimit = 500 * time.Millisecond
	sbSlack     = 2 * time.Second // over a deadline, for the failing request to come back
	sbOtherMax  = time.Second     // latency of the other requests meanwhile
)

// bystander sends ordinary requests through the standard "normalize"
// pipeline of h until stopped, and collects their worst latency, while a
// goroutine collects garbage all along (a collection stops the world, so a
// guest that cannot be preempted would stall every request).
type bystander struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	worst time.Duration
	n     int
	err   error
}

func startBystander(t *testing.T, h *host.Host) *bystander {
	t.Helper()
	p, ok := h.Pipeline("std")
	if !ok {
		t.Fatal("no std pipeline")
	}
	b := &bystander{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-b.stop:
				return
			case <-tick.C:
			}
			if i%3 == 0 {
				runtime.GC()
			}
			t0 := time.Now()
			out, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "Ｑ", Documents: docs("Ｈｉ")})
			d := time.Since(t0)
			b.mu.Lock()
			b.n++
			b.worst = max(b.worst, d)
			if err == nil && (out.Query != "Q" || out.Passages[0] != "Hi") {
				err = errors.New("wrong output " + out.Query)
			}
			if err != nil && b.err == nil {
				b.err = err
			}
			b.mu.Unlock()
		}
	}()
	return b
}

// finish stops the bystander and checks it was served throughout.
func (b *bystander) finish(t *testing.T) {
	t.Helper()
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	t.Logf("other requests: %d, worst latency %v", b.n, b.worst)
	if b.err != nil {
		t.Errorf("another request failed: %v", b.err)
	}
	if b.n == 0 {
		t.Error("no other request was served")
	}
	if b.worst > sbOtherMax {
		t.Errorf("another request took %v (want under %v)", b.worst, sbOtherMax)
	}
}

// lockedBuffer collects log output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

const (
	mib     = 1 << 20
	bigLen  = 48 * mib
	bigAt   = 65536
	bigPage = (bigAt+bigLen)/65536 + 1
)

// TestSandboxCalls runs each hostile guest's crossrank_run on the request
// path. Each request fails within its call limit, with an error of the
// right kind, while other requests on the same host keep being served in
// under a second, and the host does not copy the guest's 48 MiB around.
func TestSandboxCalls(t *testing.T) {
	i32store := []byte{0x36, 0x02, 0x00}
	i64store := []byte{0x37, 0x03, 0x00}
	// rec(n) = n == 0 ? 1 : rec(n-1) + rec(n-1): 2^n calls, no loop.
	rec := cat([]byte{0x20, 0, 0x45, 0x04, 0x7f}, i32c(1), []byte{0x05},
		[]byte{0x20, 0}, i32c(1), []byte{0x6b}, call(fnRec),
		[]byte{0x20, 0}, i32c(1), []byte{0x6b}, call(fnRec), []byte{0x6a, 0x0b})
	cases := []struct {
		name  string
		g     guest
		kind  string
		msg   string
		cause error // instead of a PluginError: the request's own deadline
		ctxTO time.Duration
		// callTO replaces sbCallLimit where reaching the failure takes real
		// work (growing memory to its limit) that a loaded machine slows.
		callTO time.Duration
	}{
		{name: "memory.fill 48MiB", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: bigPage, run: forever(i32c(bigAt), i32c(7), i32c(bigLen), opMemoryFill)}},
		{name: "memory.copy 48MiB", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: bigPage, run: forever(i32c(0), i32c(bigAt), i32c(bigLen), opMemoryCopy)}},
		{name: "count_tokens 48MiB", kind: host.KindMalformed, msg: "exceeds the host's",
			g: guest{pages: bigPage, run: forever(i32c(bigAt), i32c(bigLen), call(fnCountTokens), opDrop)}},
		{name: "count_tokens 1MiB loop", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: bigPage, run: cat(fillWords(bigAt, mib), forever(i32c(bigAt), i32c(mib), call(fnCountTokens), opDrop))}},
		{name: "word_tokens 48MiB loop", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: bigPage, run: cat(fillWords(bigAt, bigLen), forever(i32c(bigAt), i32c(bigLen), i32c(0), i32c(0), i32c(0), call(fnWordTokens), opDrop))}},
		{name: "word_tokens one 48MiB word", kind: host.KindMalformed, msg: "a word of",
			g: guest{pages: bigPage, run: cat(i32c(bigAt), i32c(0x61), i32c(bigLen), opMemoryFill, forever(i32c(bigAt), i32c(bigLen), i32c(0), i32c(0), i32c(0), call(fnWordTokens), opDrop))}},
		{name: "tokenize loop", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: 2, run: forever(i32c(0), i32c(100), i32c(0), i32c(0), call(fnTokenize), opDrop)}},
		{name: "word_tokens output overflow", kind: host.KindTrap, msg: "exceeds guest memory",
			g: guest{pages: 2, run: cat(i32c(0), i32c(10), i32c(0), i32c(0x15555556), i32c(0), call(fnWordTokens), opDrop)}},
		{name: "WASI sleep 30s", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: 2, run: cat(i32c(0x110), i32c(1), i32store, i32c(0x118), i64c(30e9), i64store,
				i32c(0x100), i32c(0x200), i32c(1), i32c(0x300), call(fnPollOneoff), opDrop)}},
		{name: "WASI clock loop", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: 2, run: forever(i32c(1), i64c(0), i32c(0x400), call(fnClockTime), opDrop)}},
		{name: "WASI random_get 48MiB", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: bigPage, run: forever(i32c(bigAt), i32c(bigLen), call(fnRandomGet), opDrop)}},
		{name: "WASI fd_write 48MiB", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: bigPage, run: cat(i32c(0x100), i32c(bigAt), i32store, i32c(0x104), i32c(bigLen), i32store,
				forever(i32c(1), i32c(0x100), i32c(1), i32c(0x200), call(fnFdWrite), opDrop))}},
		{name: "recursion without loops", kind: host.KindTimeout, msg: "call limit",
			g: guest{pages: 2, rec: rec, run: cat(i32c(62), call(fnRec), opDrop)}},
		{name: "table.grow", kind: host.KindTrap, msg: "unreachable",
			g: guest{pages: 2, withTable: true, tableMin: 1, run: forever([]byte{0xd0, 0x70}, i32c(65536), []byte{0xfc, 0x0f, 0x00}, opDrop)}},
		{name: "memory.grow to the limit", kind: host.KindMemory, msg: "memory limit", callTO: 10 * time.Second,
			g: guest{pages: 2, run: cat(opLoop, i32c(16), []byte{0x40, 0x00}, i32c(-1), []byte{0x47}, opBrIf0, opEnd, opUnreach)}},
		{name: "memory.fill past the request deadline", cause: context.DeadlineExceeded, ctxTO: 200 * time.Millisecond,
			g: guest{pages: bigPage, run: forever(i32c(bigAt), i32c(7), i32c(bigLen), opMemoryFill)}},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			callTO := sbCallLimit
			switch {
			case c.callTO > 0:
				callTO = c.callTO
			case c.cause == nil && c.kind != host.KindTimeout:
				// The case ends in a refusal, not a timeout: the guest's
				// set-up (filling 48 MiB) must not race the call limit
				// on a loaded machine.
				callTO = 10 * time.Second
			}
			h := newHost(t, host.Config{Recorder: rec, PoolSize: 2, CallTimeout: callTO})
			path := c.g.write(t, dir, "g"+string(rune('a'+i)))
			if err := h.Load(context.Background(), map[string][]host.Step{
				"attack": {{Plugin: path}},
				"std":    {{Plugin: "normalize"}},
			}, ""); err != nil {
				t.Fatal(err)
			}
			p, _ := h.Pipeline("attack")
			by := startBystander(t, h)
			time.Sleep(50 * time.Millisecond)
			ctx := context.Background()
			limit := callTO
			if c.ctxTO > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.ctxTO)
				defer cancel()
				limit = c.ctxTO
			}
			a0 := totalAlloc()
			t0 := time.Now()
			_, err := p.Prepare(ctx, wordTok{}, plugins.Input{Query: "q", Documents: docs("d")})
			took := time.Since(t0)
			alloc := totalAlloc() - a0
			time.Sleep(100 * time.Millisecond)
			by.finish(t)
			t.Logf("took %v, allocated %d MiB: %v", took, alloc>>20, err)
			if took > limit+sbSlack {
				t.Errorf("the request took %v, past its %v limit", took, limit)
			}
			if alloc > 256*mib {
				t.Errorf("%d MiB allocated during the request: the host copies guest memory", alloc>>20)
			}
			if c.cause != nil {
				if !errors.Is(err, c.cause) {
					t.Fatalf("got %v, want %v", err, c.cause)
				}
				if _, ok := host.AsPluginError(err); ok {
					t.Errorf("the request's own deadline became a plugin error: %v", err)
				}
				return
			}
			pe, ok := host.AsPluginError(err)
			if !ok {
				t.Fatalf("got %v, want a *host.PluginError", err)
			}
			if pe.Kind != c.kind || !strings.Contains(err.Error(), c.msg) || pe.Plugin != path {
				t.Errorf("got kind %q %q, want kind %q naming %s and saying %q", pe.Kind, err, c.kind, path, c.msg)
			}
			if rec.count(path+"/"+c.kind) == 0 {
				t.Errorf("no %s error recorded", c.kind)
			}
		})
	}
}

// TestSandboxLoad: a start section or _initialize that never ends fails the
// load within InitTimeout or LoadTimeout, naming the file, while requests on
// the pipelines already loaded keep being served; so does a table larger
// than the host allows.
func TestSandboxLoad(t *testing.T) {
	dir := t.TempDir()
	// The load limit also bounds loading the standard plugin first, which
	// may take a while on a loaded machine: 3 s.
	const loadLimit = 3 * time.Second
	cases := []struct {
		name  string
		g     guest
		cfg   host.Config
		msg   string
		limit time.Duration
	}{
		{"start section loops", guest{pages: 2, start: true, aux: forever()},
			host.Config{InitTimeout: sbCallLimit}, "start function ran past the 500ms", sbCallLimit},
		{"_initialize loops", guest{pages: 2, init: true, aux: forever()},
			host.Config{InitTimeout: sbCallLimit}, "_initialize ran past the 500ms", sbCallLimit},
		{"start section past the load limit", guest{pages: 20, start: true, aux: forever(i32c(bigAt), i32c(7), i32c(mib), opMemoryFill)},
			host.Config{LoadTimeout: loadLimit}, "load limit", loadLimit},
		{"huge table", guest{pages: 2, withTable: true, tableMin: 10_000_000}, host.Config{}, "exceeds the host's limit", 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.PoolSize = 2
			h := newHost(t, c.cfg)
			std := map[string][]host.Step{"std": {{Plugin: "normalize"}}}
			if err := h.Load(context.Background(), std, ""); err != nil {
				t.Fatal(err)
			}
			by := startBystander(t, h)
			path := c.g.write(t, dir, "l"+string(rune('a'+i)))
			t0 := time.Now()
			err := h.Load(context.Background(), map[string][]host.Step{"std": std["std"], "bad": {{Plugin: path}}}, "")
			took := time.Since(t0)
			time.Sleep(100 * time.Millisecond)
			by.finish(t)
			t.Logf("took %v: %v", took, err)
			if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, path, c.msg)
			}
			if took > c.limit+sbSlack {
				t.Errorf("the load took %v", took)
			}
			if _, ok := h.Pipeline("bad"); ok {
				t.Error("the failed load was installed")
			}
		})
	}
}

// TestSandboxReload hot-swaps a pipeline's file for one whose start section
// never ends: the watcher's reload fails in time and logs the file, the old
// pipeline keeps serving, Reload returns the error, and Close does not hang.
func TestSandboxReload(t *testing.T) {
	dir := t.TempDir()
	logs := &lockedBuffer{}
	h, err := host.New(context.Background(), host.Config{
		PluginDir: testenvRoot(t) + "/plugins/wasm", CacheDir: "off",
		WatchInterval: 20 * time.Millisecond, InitTimeout: sbCallLimit,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	path := guest{pages: 2}.write(t, dir, "swap")
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}, "std": {{Plugin: "normalize"}}}, ""); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("p")
	by := startBystander(t, h)
	// A different size, so the watcher sees the change whatever the clock.
	if err := os.WriteFile(path+".tmp", guest{pages: 3, start: true, aux: forever()}.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(sbCallLimit + sbSlack + 5*time.Second)
	for !strings.Contains(logs.String(), "reload after file change failed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := logs.String(); !strings.Contains(s, "reload after file change failed") || !strings.Contains(s, path) {
		t.Fatalf("the watcher did not report the failed reload naming %s; log:\n%s", path, s)
	}
	if _, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "q", Documents: docs("d")}); err != nil {
		t.Errorf("the old pipeline stopped serving: %v", err)
	}
	t0 := time.Now()
	err = h.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) || time.Since(t0) > sbCallLimit+sbSlack {
		t.Errorf("Reload: %v after %v, want an error naming %s within the limit", err, time.Since(t0), path)
	}
	by.finish(t)
	closed := make(chan error, 1)
	go func() { closed <- h.Close(context.Background()) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung")
	}
}

// TestSandboxPoolGrowth: an instance created inside a request (the pool
// replacing a discarded one) whose start section never ends fails by the
// request's deadline, or by InitTimeout when that comes first. The guest's
// start loops only once the clock passes a time set after the load.
func TestSandboxPoolGrowth(t *testing.T) {
	h := newHost(t, host.Config{PoolSize: 1, InitTimeout: 3 * sbCallLimit, CallTimeout: sbCallLimit})
	// Compile the standard plugin first, so the load below is quick.
	if err := h.Load(context.Background(), map[string][]host.Step{"std": {{Plugin: "normalize"}}}, ""); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(3 * time.Second)
	start := cat(i32c(0), i64c(0), i32c(0x400), call(fnClockTime), opDrop,
		i32c(0x400), []byte{0x29, 0x03, 0x00}, i64c(after.UnixNano()), []byte{0x55, 0x04, 0x40}, forever(), opEnd)
	path := guest{pages: 2, start: true, aux: start, run: opUnreach}.write(t, t.TempDir(), "grow")
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}, "std": {{Plugin: "normalize"}}}, ""); err != nil {
		t.Fatal(err)
	}
	if time.Now().After(after) {
		t.Fatal("loading took over 3s: the test cannot tell the load from the request")
	}
	time.Sleep(time.Until(after) + 50*time.Millisecond)
	p, _ := h.Pipeline("p")
	in := plugins.Input{Query: "q", Documents: docs("d")}
	if _, err := p.Prepare(context.Background(), wordTok{}, in); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("first request: %v, want the trap that discards the instance", err)
	}
	by := startBystander(t, h)
	defer by.finish(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := p.Prepare(ctx, wordTok{}, in)
	t.Logf("request deadline: %v after %v", err, time.Since(t0))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 300*time.Millisecond+sbSlack {
		t.Errorf("got %v after %v, want the request's deadline", err, time.Since(t0))
	}
	t0 = time.Now()
	_, err = p.Prepare(context.Background(), wordTok{}, in)
	t.Logf("init limit: %v after %v", err, time.Since(t0))
	if pe, ok := host.AsPluginError(err); !ok || pe.Kind != host.KindTimeout || !strings.Contains(err.Error(), "start function") ||
		time.Since(t0) > 3*sbCallLimit+sbSlack {
		t.Errorf("got %v after %v, want a start-function timeout", err, time.Since(t0))
	}
}

// TestSandboxLogFlood: 200,000 log calls of 48 MiB each in one request log
// at most the burst plus one summary line, read at most 4 KiB a line, and
// count the rest.
func TestSandboxLogFlood(t *testing.T) {
	logs := &lockedBuffer{}
	const burst = 50
	h := newHost(t, host.Config{Logger: slog.New(slog.NewTextHandler(logs, nil)), LogRate: 10, LogBurst: burst, CallTimeout: 30 * time.Second})
	path := guest{pages: bigPage, run: cat(i32c(bigAt), i32c('x'), i32c(bigLen), opMemoryFill,
		times(200_000, i32c(3), i32c(bigAt), i32c(bigLen), call(fnLog)))}.write(t, t.TempDir(), "flood")
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}}, ""); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("p")
	a0 := totalAlloc()
	t0 := time.Now()
	if _, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "q", Documents: docs("d")}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	alloc := totalAlloc() - a0
	out := logs.String()
	lines := strings.Count(out, "\n")
	summaries := strings.Count(out, "log lines over the rate limit")
	allowed := burst + int(took.Seconds()*10) + 1
	t.Logf("%v, %d lines, %d summaries, %d dropped, %d KiB allocated", took, lines, summaries, h.DroppedLogLines(), alloc>>10)
	if lines > allowed+1 || summaries != 1 {
		t.Errorf("%d lines logged with %d summaries, want at most %d and one summary", lines, summaries, allowed+1)
	}
	if d := h.DroppedLogLines(); d < uint64(200_000-allowed) || d > 200_000 {
		t.Errorf("%d lines counted as dropped", d)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if len(l) > 4096+512 {
			t.Errorf("a log line of %d bytes", len(l))
		}
	}
	if alloc > 64*mib {
		t.Errorf("%d MiB allocated: log copies guest memory", alloc>>20)
	}
}

// TestSandboxIntegers: max_tokens_per_doc outside an i32 is refused with a
// 422 InputError naming the field, never wrapped.
func TestSandboxIntegers(t *testing.T) {
	h := newHost(t, host.Config{})
	if err := h.Load(context.Background(), map[string][]host.Step{"std": {{Plugin: "normalize"}}}, ""); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("std")
	for _, n := range []int{4294967297, -1, 1 << 31} {
		_, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "q", Documents: docs("d"), MaxTokensPerDoc: n})
		var ie *host.InputError
		if !errors.As(err, &ie) || ie.Field != "max_tokens_per_doc" || ie.HTTPStatus() != 422 {
			t.Errorf("max_tokens_per_doc=%d: got %v, want a 422 InputError", n, err)
		}
	}
	if _, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "q", Documents: docs("d"), MaxTokensPerDoc: 1<<31 - 1}); err != nil {
		t.Errorf("the largest i32: %v", err)
	}
}

// TestSandboxMemoryBudget: guests growing their memory to the limit on
// every instance of a pool stay within the host's budget together, fail
// with a memory error, and give the memory back when discarded.
func TestSandboxMemoryBudget(t *testing.T) {
	const budget = 96 * mib
	h := newHost(t, host.Config{PoolSize: 4, MemoryLimitPages: 1024, MaxGuestMemoryBytes: budget, CallTimeout: 5 * time.Second})
	grow := cat(opLoop, i32c(16), []byte{0x40, 0x00}, i32c(-1), []byte{0x47}, opBrIf0, opEnd, opUnreach)
	path := guest{pages: 2, run: grow}.write(t, t.TempDir(), "grow")
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}}, ""); err != nil {
		t.Fatal(err)
	}
	base := h.GuestMemoryInUse()
	p, _ := h.Pipeline("p")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "q", Documents: docs("d")})
			errs <- err
			if u := h.GuestMemoryInUse(); u > budget {
				errs <- errors.New("over budget")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if pe, ok := host.AsPluginError(err); !ok || pe.Kind != host.KindMemory {
			t.Errorf("got %v, want a memory error", err)
		}
	}
	if u := h.GuestMemoryInUse(); u > base+4*65536 {
		t.Errorf("%d bytes still accounted after the instances were discarded (baseline %d)", u, base)
	}
}

// TestSandboxHostileModules: modules whose declared counts would make the
// decoder allocate tens of GiB (a fatal, unrecoverable out of memory) are
// refused at load with an error naming the file; a name section with such
// counts is dropped, not decoded; a memory or table over the limits is
// refused.
func TestSandboxHostileModules(t *testing.T) {
	h := newHost(t, host.Config{})
	dir := t.TempDir()
	sec := func(id byte, body ...[]byte) []byte {
		b := cat(body...)
		return cat([]byte{id}, uleb(nil, uint64(len(b))), b)
	}
	header := []byte("\x00asm\x01\x00\x00\x00")
	huge := uleb(nil, 0xffffffff)
	ok := guest{pages: 2}.bytes()
	cases := []struct {
		name string
		wasm []byte
		msg  string // "" : loads
	}{
		{"2^32 locals", guest{pages: 2, runLocals: cat([]byte{1}, uleb(nil, 0xfffffff0), []byte{0x7e})}.bytes(), "over 50000 locals"},
		{"2^32 imports", cat(header, sec(2, huge)), "declares 4294967295 entries"},
		{"2^32 type params", cat(header, sec(1, []byte{1, 0x60}, huge)), "declares 4294967295 value types"},
		{"2^32 element entries", cat(header, sec(9, []byte{1, 0}, i32c(0), opEnd, huge)), "declares 4294967295 elements"},
		{"2^32 data bytes", cat(header, sec(11, []byte{1, 1}, huge)), "declares 4294967295 data bytes"},
		{"2^32 export name", cat(header, sec(7, []byte{1}, huge)), "bytes of a name"},
		{"memory over the limit", guest{pages: 5000}.bytes(), "over limit"},
		{"name section with 2^32 names", cat(ok, sec(0, []byte{4}, []byte("name"), []byte{1, 5}, huge)), ""},
	}
	// The same checks hold when modules are not instrumented.
	hc := newHost(t, host.WithCloseOnContextDone(host.Config{}))
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := dir + "/" + string(rune('a'+i)) + ".wasm"
			if err := os.WriteFile(path, c.wasm, 0o644); err != nil {
				t.Fatal(err)
			}
			err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}}, "")
			errc := hc.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}}, "")
			if (err == nil) != (errc == nil) {
				t.Errorf("instrumented: %v; not instrumented: %v", err, errc)
			}
			if c.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, path, c.msg)
			}
		})
	}
}

// TestSandboxNestedJSON: a passage stage returning 8 MiB of '[' as a JSON
// item fails the request with an error naming the document (the host's
// JSON reading is iterative and bounds its depth), not a crash.
func TestSandboxNestedJSON(t *testing.T) {
	h := newHost(t, host.Config{})
	const n = 8 * mib
	i32store, i32store8 := []byte{0x36, 0x00, 0x00}, []byte{0x3a, 0x00, 0x00}
	// status 0 | qlen 0 | 1 item | kind JSON | length n | n × '['
	resp := cat(i32c(5), i32c(1), i32store, i32c(9), i32c(1), i32store8,
		i32c(10), i32c(n), i32store, i32c(14), i32c('['), i32c(n), opMemoryFill)
	path := guest{pages: 200, stages: 2, run: resp, ret: i64c(14 + n)}.write(t, t.TempDir(), "nested")
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}}, ""); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("p")
	_, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "q", Documents: docs("d")})
	if err == nil || !strings.Contains(err.Error(), "document 0") {
		t.Fatalf("got %v, want an error about document 0", err)
	}
}

// TestSandboxCloseDuringReload: Close ends a reload stuck in a start
// function long before the load and set-up limits.
func TestSandboxCloseDuringReload(t *testing.T) {
	h, err := host.New(context.Background(), host.Config{
		PluginDir: testenvRoot(t) + "/plugins/wasm", CacheDir: "off", WatchInterval: -1,
		InitTimeout: time.Minute, LoadTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := guest{pages: 2}.write(t, t.TempDir(), "p")
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}}, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, guest{pages: 2, start: true, aux: forever()}.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- h.Reload(context.Background()) }()
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	if err := h.Close(context.Background()); err != nil {
		t.Error(err)
	}
	if err := <-reloaded; err == nil {
		t.Error("the reload succeeded")
	}
	if d := time.Since(t0); d > sbSlack {
		t.Errorf("Close took %v during a reload", d)
	}
}

// TestSandboxFailedInstantiation: a module whose data segment lies outside
// its memory fails every instantiation, and gives its memory back to the
// budget each time.
func TestSandboxFailedInstantiation(t *testing.T) {
	h := newHost(t, host.Config{})
	m := guest{pages: 16}.bytes()
	// An active data segment at 1 MiB + 1 in a 1 MiB memory.
	m = append(m, cat([]byte{11}, uleb(nil, uint64(len(cat([]byte{1, 0}, i32c(mib+1), opEnd, []byte{1, 'x'})))),
		[]byte{1, 0}, i32c(mib+1), opEnd, []byte{1, 'x'})...)
	path := t.TempDir() + "/data.wasm"
	if err := os.WriteFile(path, m, 0o644); err != nil {
		t.Fatal(err)
	}
	base := h.GuestMemoryInUse()
	for i := 0; i < 3; i++ {
		err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}}, "")
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("got %v, want an error naming %s", err, path)
		}
	}
	if u := h.GuestMemoryInUse(); u != base {
		t.Errorf("%d bytes accounted after three failed instantiations (%d before)", u, base)
	}
}

// TestSandboxCallDepth: the call depth the host counts returns to 0 after
// every call of real guests (Go, C, AssemblyScript: every way out of a
// function is counted), and a recursion past the bound traps long before
// wazero's own stack ceiling.
func TestSandboxCallDepth(t *testing.T) {
	h := newHost(t, host.Config{PoolSize: 1})
	steps := map[string][]host.Step{
		"go": {{Plugin: "fields", Config: map[string]any{"template": "{title}. {body}"}}, {Plugin: "html"}, {Plugin: "truncate", Config: map[string]any{"max_tokens": 8}}},
		"c":  {{Plugin: wasmPath(t, "example-c"), Config: map[string]any{"max_tokens": 8}}},
		"as": {{Plugin: wasmPath(t, "example-as"), Config: map[string]any{"max_tokens": 8}}},
	}
	// Each way out by a branch: br_if, br_table's default and br to the
	// function's label, at different nestings.
	branches := cat([]byte{0x02, 0x7f}, i32c(1), []byte{0x20, 0}, i32c(1), []byte{0x46, 0x0d, 1, 0x1a},
		i32c(2), []byte{0x20, 0, 0x0e, 2, 0, 0, 1, 0x0b, 0x1a}, i32c(3), []byte{0x0c, 0})
	run := cat(i32c(0), call(fnRec), opDrop, i32c(1), call(fnRec), opDrop, i32c(2), call(fnRec), opDrop, i32c(5), call(fnRec), opDrop)
	steps["branches"] = []host.Step{{Plugin: guest{pages: 2, rec: branches, run: run}.write(t, t.TempDir(), "branches")}}
	if err := h.Load(context.Background(), steps, ""); err != nil {
		t.Fatal(err)
	}
	in := plugins.Input{Query: "q", Documents: docs(`{"title": "T", "body": "<p>one <b>two</b> three four five six seven eight nine ten</p>"}`), MaxTokensPerDoc: 8}
	text := plugins.Input{Query: "q", Documents: docs("<p>one <b>two</b> three four five six seven eight nine ten</p>"), MaxTokensPerDoc: 8}
	for _, name := range []string{"go", "c", "as"} {
		p, _ := h.Pipeline(name)
		req := in
		if name != "go" {
			req = text
		}
		for i := 0; i < 20; i++ {
			if _, err := p.Prepare(context.Background(), wordTok{}, req); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	bp, _ := h.Pipeline("branches")
	for i := 0; i < 3; i++ {
		if _, err := bp.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "q"}); err != nil {
			t.Fatal(err)
		}
	}
	depths := h.IdleDepths()
	if len(depths) != 6 {
		t.Fatalf("%d idle instances, want 6", len(depths))
	}
	for _, d := range depths {
		if d != 0 {
			t.Errorf("call depth %d between calls, want 0: %v", d, depths)
		}
	}

	// rec(n) = rec(n+1): bounded by the host, not by a 100 MB stack.
	rec := cat([]byte{0x20, 0}, i32c(1), []byte{0x6a}, call(fnRec))
	path := guest{pages: 2, rec: rec, run: cat(i32c(0), call(fnRec), opDrop)}.write(t, t.TempDir(), "deep")
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}}, ""); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("p")
	a0 := totalAlloc()
	_, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "q", Documents: docs("d")})
	alloc := totalAlloc() - a0
	t.Logf("%v, %d MiB allocated", err, alloc>>20)
	if pe, ok := host.AsPluginError(err); !ok || pe.Kind != host.KindTrap || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("got %v, want the host's depth trap", err)
	}
	if alloc > 32*mib {
		t.Errorf("%d MiB allocated by a recursion: the depth bound did not hold", alloc>>20)
	}
}

// TestSandboxPendingRequests: requests queued behind a pool whose only
// instance loops end at their own deadlines, not after the instance's
// call limit, and the requests queued without a deadline are served in
// turn as each looping call hits its limit.
func TestSandboxPendingRequests(t *testing.T) {
	h := newHost(t, host.Config{PoolSize: 1, CallTimeout: sbCallLimit})
	path := guest{pages: 2, run: forever()}.write(t, t.TempDir(), "spin")
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: path}}, "std": {{Plugin: "normalize"}}}, ""); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("p")
	by := startBystander(t, h)
	const n = 6
	type result struct {
		took time.Duration
		err  error
	}
	results := make(chan result, 2*n)
	for i := 0; i < 2*n; i++ {
		go func(i int) {
			ctx := context.Background()
			if i < n {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
			}
			t0 := time.Now()
			_, err := p.Prepare(ctx, wordTok{}, plugins.Input{Query: "q"})
			if i < n {
				results <- result{time.Since(t0), err}
				return
			}
			results <- result{-1, err}
		}(i)
	}
	for i := 0; i < 2*n; i++ {
		r := <-results
		if r.took < 0 { // no deadline: the call limit ends it
			if pe, ok := host.AsPluginError(r.err); !ok || pe.Kind != host.KindTimeout {
				t.Errorf("a queued request without a deadline: %v", r.err)
			}
			continue
		}
		if r.err == nil || r.took > 300*time.Millisecond+sbSlack {
			t.Errorf("a queued request with a 300ms deadline: %v after %v", r.err, r.took)
		}
	}
	by.finish(t)
}
