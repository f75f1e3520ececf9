package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// compiled is one compiled .wasm, shared by every step and generation that
// uses the same bytes (keyed by content hash), closed when the last releases it.
type compiled struct {
	key  string
	path string
	mod  wazero.CompiledModule
	refs int
}

// exportSig is the signature of each ABI export.
var exportSig = map[string][2][]api.ValueType{
	abi.ExportVersion:   {nil, {api.ValueTypeI32}},
	abi.ExportStages:    {nil, {api.ValueTypeI32}},
	abi.ExportBuffer:    {{api.ValueTypeI32}, {api.ValueTypeI32}},
	abi.ExportConfigure: {{api.ValueTypeI32}, {api.ValueTypeI64}},
	abi.ExportRun:       {{api.ValueTypeI32, api.ValueTypeI32}, {api.ValueTypeI64}},
}

// checkExports verifies a compiled module has every ABI export with the
// right signature and a memory.
func checkExports(cm wazero.CompiledModule) error {
	fns := cm.ExportedFunctions()
	var missing []string
	for name, sig := range exportSig {
		def, ok := fns[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if !sameTypes(def.ParamTypes(), sig[0]) || !sameTypes(def.ResultTypes(), sig[1]) {
			return fmt.Errorf("export %s has signature %v -> %v, want %v -> %v",
				name, def.ParamTypes(), def.ResultTypes(), sig[0], sig[1])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("module lacks export(s) %s (see sdk/ABI.md)", strings.Join(sortStrings(missing), ", "))
	}
	if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Errorf("module exports no memory named %q", abi.ExportMemory)
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tailWriter keeps the last bytes a guest wrote to stdout/stderr, to explain
// a trap (a Go guest prints its panic there).
//
// A write copies at most tailMax bytes whatever its size, and fails once
// the instance's call is interrupted (fd_write then returns EIO, and the
// check after the import call traps).
type tailWriter struct {
	mu   sync.Mutex
	in   *instance
	head []byte // the first bytes (a panic's message comes first)
	buf  []byte // the last bytes
}

const tailMax = 2048

func (w *tailWriter) Write(p []byte) (int, error) {
	if w.in != nil && w.in.interrupted() {
		return 0, errInterrupted
	}
	total := len(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := 512 - len(w.head); n > 0 {
		w.head = append(w.head, p[:min(n, len(p))]...)
	}
	if len(p) > tailMax {
		p = p[len(p)-tailMax:]
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) > tailMax {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailMax:]...)
	}
	return total, nil
}

// errInterrupted is what the instance's WASI hooks return once its call's
// deadline has passed.
var errInterrupted = errors.New("plugins: call interrupted")

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.buf))
}

func (w *tailWriter) Head() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.head)
}

func (w *tailWriter) reset() {
	w.mu.Lock()
	w.buf, w.head = w.buf[:0], w.head[:0]
	w.mu.Unlock()
}

// instance is one instantiated guest. It serves one call at a time.
type instance struct {
	// interrupt is the global the time-limit check reads (nil unless the
	// host instruments modules); state is 0 idle, 1 in a call, 2 interrupted.
	interrupt api.MutableGlobal
	state     atomic.Int32
	// done is the Done channel of the context the guest runs under (set by
	// arm); the WASI hooks (sleep, random, stdout) stop when it closes.
	done atomic.Pointer[doneChan]
	// linear is the instance's memory as charged to the host's budget.
	linear *budgetMemory

	mod    api.Module
	mem    api.Memory
	buffer api.Function
	run    api.Function
	config api.Function
	out    *tailWriter
	stack  [2]uint64
	stages abi.Stage
}

// pool is the ready instances of one pipeline step (one module with one
// config). Up to max instances exist; idle ones wait in ready.
type pool struct {
	h       *Host
	plugin  string // the name the step gave, for errors and metrics
	cm      *compiled
	config  []byte    // the step's config as JSON
	stages  abi.Stage // set from the first instance, before the pool is shared
	ready   chan *instance
	slots   chan struct{} // one token per instance that may still be created
	closeMu sync.Mutex
	closed  bool
}

func newPool(h *Host, plugin string, cm *compiled, config []byte, size int) *pool {
	p := &pool{h: h, plugin: plugin, cm: cm, config: config,
		ready: make(chan *instance, size), slots: make(chan struct{}, size)}
	for i := 0; i < size; i++ {
		p.slots <- struct{}{}
	}
	return p
}

func (p *pool) fail(kind string, err error) *PluginError {
	p.h.cfg.Recorder.PluginError(p.plugin, kind)
	return &PluginError{Plugin: p.plugin, Kind: kind, Err: err}
}

// acquire returns an idle instance, creating one when none is idle and the
// pool is below its size, or waits for one.
func (p *pool) acquire(ctx context.Context) (*instance, error) {
	select {
	case in := <-p.ready:
		return in, nil
	default:
	}
	select {
	case in := <-p.ready:
		return in, nil
	case <-p.slots:
		in, err := p.create(ctx)
		if err != nil {
			p.slots <- struct{}{}
			return nil, err
		}
		return in, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin %q: waiting for an instance: %w", p.plugin, ctx.Err())
	}
}

func (p *pool) release(in *instance) {
	p.closeMu.Lock()
	closed := p.closed
	p.closeMu.Unlock()
	if closed || uint64(in.mem.Size()) > uint64(p.h.cfg.MemoryLimitPages)*65536/2 {
		p.discard(in) // a grown memory is not kept idle: a new instance starts small
		return
	}
	p.ready <- in
}

// discard closes a broken instance and frees its slot for a replacement.
func (p *pool) discard(in *instance) {
	_ = in.mod.Close(context.Background())
	p.slots <- struct{}{}
}

// close closes the idle instances; busy ones close on release.
func (p *pool) close(ctx context.Context) {
	p.closeMu.Lock()
	p.closed = true
	p.closeMu.Unlock()
	for {
		select {
		case in := <-p.ready:
			_ = in.mod.Close(ctx)
		default:
			return
		}
	}
}

// create instantiates the module with no file system, network, environment
// or arguments (clock and random only), runs its _initialize, checks its ABI
// version and passes it its config.
func (p *pool) create(ctx context.Context) (*instance, error) {
	in := &instance{}
	out := &tailWriter{in: in}
	in.out = out
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // _initialize runs below, under the time limit
		WithSysWalltime().WithSysNanotime().
		WithNanosleep(in.nanosleep).
		WithRandSource(randReader{in}).
		WithStdout(out).WithStderr(out)
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, parentKey{}, ctx), p.h.cfg.InitTimeout)
	defer cancel()
	// A module's start section (exported as StartExport by instrument) and
	// its _initialize run under the deadline, like any call.
	if m, ok := p.cm.mod.ExportedMemories()[abi.ExportMemory]; ok && !p.h.memAlloc.fits(int64(m.Min())*65536) {
		return nil, p.fail(KindMemory, fmt.Errorf("instantiate %s: its %d-page memory does not fit the host's guest memory budget of %d bytes (%d in use)",
			p.cm.path, m.Min(), p.h.memAlloc.max, p.h.memAlloc.used.Load()))
	}
	in.done.Store(&doneChan{cctx.Done()})
	mod, err := p.h.instantiate(cctx, in, p.cm.mod, mc)
	in.done.Store(nil)
	if err != nil {
		if in.linear != nil {
			// wazero does not close a module whose data segments failed
			// to apply: give its memory back to the budget (Free is
			// idempotent).
			in.linear.Free()
		}
		kind := KindTrap
		if cctx.Err() != nil && ctx.Err() == nil {
			kind = KindTimeout
		} else if ctx.Err() != nil {
			return nil, fmt.Errorf("plugin %q: instantiate %s: %w", p.plugin, p.cm.path, context.Cause(ctx))
		} else if strings.Contains(err.Error(), "memory") || strings.Contains(out.String(), "out of memory") {
			kind = KindMemory
		}
		return nil, p.fail(kind, fmt.Errorf("instantiate %s: %w%s", p.cm.path, err, tailNote(out)))
	}
	in.mod, in.mem = mod, mod.Memory()
	in.buffer = mod.ExportedFunction(abi.ExportBuffer)
	in.run = mod.ExportedFunction(abi.ExportRun)
	in.config = mod.ExportedFunction(abi.ExportConfigure)
	fail := func(kind string, err error) (*instance, error) {
		_ = mod.Close(context.Background())
		return nil, p.fail(kind, err)
	}
	if in.mem == nil {
		return fail(KindMissingExport, fmt.Errorf("module exports no memory"))
	}
	if p.h.cfg.interrupt == interruptGlobal {
		g, ok := mod.ExportedGlobal(InterruptGlobal).(api.MutableGlobal)
		if !ok {
			return fail(KindMalformed, fmt.Errorf("module lacks the host's %s global", InterruptGlobal))
		}
		in.interrupt = g
	}
	// The start function, _initialize and the version and stage queries run
	// under one arming of the deadline.
	disarm := in.arm(cctx)
	armed := true
	defer func() {
		if armed {
			disarm()
		}
	}()
	limit := p.h.cfg.InitTimeout
	for _, name := range []string{StartExport, abi.ExportInitialize} {
		init := mod.ExportedFunction(name)
		if init == nil {
			continue
		}
		shown := name
		if name == StartExport {
			shown = "start function"
		}
		if _, err := init.Call(cctx); err != nil {
			armed = false
			disarm()
			_ = mod.Close(context.Background())
			return nil, in.classify(cctx, p, shown, err, limit)
		}
	}
	var got [2]uint64
	for i, name := range []string{abi.ExportVersion, abi.ExportStages} {
		res, err := mod.ExportedFunction(name).Call(cctx)
		if err != nil {
			armed = false
			disarm()
			_ = mod.Close(context.Background())
			return nil, in.classify(cctx, p, name, err, limit)
		}
		got[i] = res[0]
	}
	armed = false
	if !disarm() {
		_ = mod.Close(context.Background())
		return nil, in.classify(cctx, p, abi.ExportInitialize, cctx.Err(), limit)
	}
	if v := api.DecodeI32(got[0]); v != abi.Version {
		return fail(KindMissingExport, fmt.Errorf("ABI version %d, want %d", v, abi.Version))
	}
	stages := abi.Stage(api.DecodeI32(got[1]))
	if stages == 0 || stages&^(abi.StageQuery|abi.StagePassage|abi.StageTruncate) != 0 {
		return fail(KindMalformed, fmt.Errorf("stages bit set %#x has no stage or unknown bits", uint32(stages)))
	}
	in.stages = stages
	resp, err := in.call(cctx, p, in.config, 0, p.config, limit)
	if err != nil {
		_ = mod.Close(context.Background())
		return nil, err
	}
	switch {
	case len(resp) == 1 && resp[0] == abi.StatusOK:
	case resp[0] == abi.StatusError:
		return fail(KindOther, fmt.Errorf("rejected its config %s: %s", p.config, resp[1:]))
	default:
		return fail(KindMalformed, fmt.Errorf("%s returned %d bytes starting %#x, want one status byte or an error", abi.ExportConfigure, len(resp), resp[0]))
	}
	return in, nil
}

// tailNote quotes what the guest printed: a Go guest's panic line, if any,
// and the last few hundred bytes.
func tailNote(w *tailWriter) string {
	s := w.String()
	if s == "" {
		return ""
	}
	head := ""
	for _, marker := range []string{"panic: ", "fatal error: "} {
		if i := strings.Index(w.Head(), marker); i >= 0 {
			line := w.Head()[i:]
			if j := strings.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			head = line
			break
		}
	}
	if len(s) > 300 {
		s = "…" + s[len(s)-300:]
	}
	if head != "" && !strings.HasPrefix(s, head) {
		return "; guest output: " + head + " […] " + s
	}
	return "; guest output: " + s
}

// call writes req into the guest's buffer, calls fn (configure or run) and
// returns a view of the guest's output, valid until the next call. Any error
// is a *PluginError (or the caller's context error); after one, the
// instance must be discarded.
func (in *instance) call(ctx context.Context, p *pool, fn api.Function, stage abi.Stage, req []byte, limit time.Duration) ([]byte, error) {
	in.out.reset()
	disarm := in.arm(ctx)
	err := in.callGuest(ctx, fn, stage, req)
	if !disarm() && err == nil {
		err = ctx.Err() // interrupted as it returned: the instance is poisoned
	}
	if err != nil {
		name := fn.Definition().Name()
		if names := fn.Definition().ExportNames(); len(names) > 0 {
			name = names[0] // the ABI's name, whatever the module's name section says
		}
		if errors.Is(err, errBufferCall) {
			name = abi.ExportBuffer
		}
		if pe, ok := err.(*PluginError); ok {
			return nil, p.fail(pe.Kind, pe.Err)
		}
		return nil, in.classify(ctx, p, name, err, limit)
	}
	optr, n := abi.Unpack(in.stack[0])
	if int64(n) > int64(p.h.cfg.MaxOutputBytes) {
		return nil, p.fail(KindMalformed, fmt.Errorf("output of %d bytes exceeds the %d-byte limit", n, p.h.cfg.MaxOutputBytes))
	}
	b, ok := in.mem.Read(optr, n)
	if !ok || n == 0 {
		return nil, p.fail(KindMalformed, fmt.Errorf("output [%#x, +%d) is empty or outside guest memory (%d bytes)", optr, n, in.mem.Size()))
	}
	return b, nil
}

var errBufferCall = errors.New("buffer call failed")

// arm makes the instance's time-limit check fire when ctx is done; the
// returned disarm reports false if it fired (the instance must then go).
func (in *instance) arm(ctx context.Context) (disarm func() bool) {
	in.done.Store(&doneChan{ctx.Done()})
	if in.interrupt == nil {
		return func() bool { in.done.Store(nil); return true }
	}
	in.state.Store(1)
	stop := context.AfterFunc(ctx, func() {
		if in.state.CompareAndSwap(1, 2) {
			in.interrupt.Set(1)
		}
	})
	return func() bool {
		stop()
		in.done.Store(nil)
		return in.state.CompareAndSwap(1, 0)
	}
}

// callGuest writes req into the guest's buffer and calls fn.
func (in *instance) callGuest(ctx context.Context, fn api.Function, stage abi.Stage, req []byte) error {
	in.stack[0] = uint64(len(req))
	if err := in.buffer.CallWithStack(ctx, in.stack[:]); err != nil {
		return fmt.Errorf("%w: %w", errBufferCall, err)
	}
	ptr := uint32(in.stack[0])
	if ptr == 0 && len(req) > 0 || !in.mem.Write(ptr, req) {
		return &PluginError{Kind: KindMalformed, Err: fmt.Errorf("%s returned %#x, which cannot hold %d bytes in %d bytes of memory",
			abi.ExportBuffer, ptr, len(req), in.mem.Size())}
	}
	if fn == in.run {
		in.stack[0], in.stack[1] = uint64(stage), uint64(len(req))
	} else {
		in.stack[0] = uint64(len(req))
	}
	return fn.CallWithStack(ctx, in.stack[:])
}

// classify turns a failed guest call into an error.
func (in *instance) classify(ctx context.Context, p *pool, fn string, err error, limit time.Duration) error {
	if ctx.Err() != nil {
		parentDone := false
		if pc, ok := ctx.Value(parentKey{}).(context.Context); ok && pc.Err() != nil {
			parentDone = true
		}
		if parentDone || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("plugin %q: %s: %w", p.plugin, fn, context.Cause(ctx))
		}
		what := "call"
		if limit != p.h.cfg.CallTimeout {
			what = "instance set-up" // Config.InitTimeout
		}
		return p.fail(KindTimeout, fmt.Errorf("%s ran past the %s %s limit", fn, limit, what))
	}
	var le *limitError
	if errors.As(err, &le) {
		return p.fail(KindMalformed, fmt.Errorf("%s: %w", fn, le))
	}
	msg := err.Error()
	if i := strings.Index(msg, "\nwasm stack trace:"); i >= 0 {
		msg = msg[:i]
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		msg = fmt.Sprintf("guest exited with code %d", exit.ExitCode())
	}
	memLimit := uint64(p.h.cfg.MemoryLimitPages) * 65536
	if b := p.h.memAlloc; in.linear != nil && in.linear.refused.Load() {
		return p.fail(KindMemory, fmt.Errorf("%s: the host's guest memory budget of %d MiB is spent: %s%s", fn, b.max>>20, msg, tailNote(in.out)))
	}
	if strings.Contains(in.out.Head(), "out of memory") || uint64(in.mem.Size())+memLimit/8 >= memLimit {
		return p.fail(KindMemory, fmt.Errorf("%s: ran out of its %d MiB memory limit: %s%s", fn, memLimit>>20, msg, tailNote(in.out)))
	}
	return p.fail(KindTrap, fmt.Errorf("%s: %s%s%s", fn, msg, tailNote(in.out), buildHint(err, in.out.String())))
}

// buildHint explains the trap of a Go guest built as a command: its exports
// run before the Go runtime is initialised. The trap names
// runtime.notInitialized only while the module keeps its name section (the
// host drops it), so the Go runtime's own message in the guest's output
// counts too.
func buildHint(err error, out string) string {
	if !strings.Contains(err.Error(), "runtime.notInitialized") &&
		!strings.Contains(out, "called before runtime initialization") {
		return ""
	}
	return " (a Go plugin must be built as a reactor: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared)"
}

type parentKey struct{}

// runStage runs one stage of this step on a batch: one guest call for the
// whole request. It returns the new query (query stage) or the new items.
func (p *pool) runStage(ctx context.Context, tok plugins.Tokenizer, stage abi.Stage, maxTokens int, query string, items []abi.Item, buf *[]byte) (string, []abi.Item, error) {
	in, err := p.acquire(ctx)
	if err != nil {
		return "", nil, err
	}
	if need := abi.RequestSize(query, items); cap(*buf) < need {
		*buf = make([]byte, 0, need+need/4)
	}
	*buf = abi.AppendRequest((*buf)[:0], maxTokens, query, items)
	cctx := context.WithValue(ctx, callKey{}, &callState{tok: tok, plugin: p.plugin, logger: p.h.cfg.Logger, logs: p.h.logs, maxInput: p.h.cfg.MaxHostInputBytes})
	cctx = context.WithValue(cctx, parentKey{}, ctx)
	cctx, cancel := context.WithTimeout(cctx, p.h.cfg.CallTimeout)
	defer cancel()
	resp, err := in.call(cctx, p, in.run, stage, *buf, p.h.cfg.CallTimeout)
	p.h.logs.summarise(p.h.cfg.Logger, p.plugin, false)
	if err != nil {
		p.discard(in)
		return "", nil, err
	}
	q, outItems, err := abi.DecodeResponse(resp, make([]abi.Item, 0, len(items)))
	if err != nil {
		var ge *abi.GuestError
		if errors.As(err, &ge) {
			p.release(in) // the guest handled the failure itself; the instance is sound
			return "", nil, p.fail(KindOther, fmt.Errorf("%s stage: %s", stage, ge.Msg))
		}
		p.discard(in)
		return "", nil, p.fail(KindMalformed, fmt.Errorf("%s stage output: %w", stage, err))
	}
	if stage == abi.StageQuery {
		if len(outItems) != 0 {
			p.discard(in)
			return "", nil, p.fail(KindMalformed, fmt.Errorf("query stage returned %d items, want 0", len(outItems)))
		}
		s := string(q)
		p.release(in)
		return s, items, nil
	}
	if len(outItems) != len(items) {
		p.discard(in)
		return "", nil, p.fail(KindMalformed, fmt.Errorf("%s stage returned %d passages for %d documents", stage, len(outItems), len(items)))
	}
	// Copy out of guest memory in one allocation before the instance is reused.
	total := 0
	for _, it := range outItems {
		total += len(it.Data)
	}
	arena := make([]byte, 0, total)
	for i, it := range outItems {
		start := len(arena)
		arena = append(arena, it.Data...)
		outItems[i].Data = arena[start:len(arena):len(arena)]
	}
	p.release(in)
	return query, outItems, nil
}

// sortStrings sorts a small slice in place and returns it.
func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
