package host_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// guest assembles a purpose-built hostile guest: a module with the ABI's
// exports whose crossrank_run body (and optionally start function or
// _initialize) does the attack. Hand-assembled bytes, not a compiler's
// output, so that each case is exactly the instruction sequence it names
// (a C or Go compiler may turn a side-effect-free loop into nothing, or add
// loops of its own).
//
// Imports (function indices 0–7):
//
//	0 crossrank.count_tokens (ptr, len) -> i32
//	1 crossrank.word_tokens (ptr, len, out, cap, limit) -> i32
//	2 crossrank.log (level, ptr, len)
//	3 wasi.poll_oneoff (in, out, n, nevents) -> errno
//	4 wasi.random_get (buf, len) -> errno
//	5 wasi.fd_write (fd, iovs, n, nwritten) -> errno
//	6 wasi.clock_time_get (id, precision i64, out) -> errno
//	7 crossrank.tokenize (ptr, len, out, cap) -> i32
//
// Defined functions: 8 version, 9 stages (query only), 10 buffer (always
// 1024), 11 configure (status OK), 12 run, 13 aux (the start function,
// _initialize or a helper: its type is auxType), 14 rec (i32) -> i32.
// Memory 0 (exported) has pages pages; the response of a run that returns
// is the 9 zero bytes at address 0: status OK, an empty query, no items.
type guest struct {
	pages     uint32
	run       []byte // body of crossrank_run (stage, len) -> i64, without the final end; one extra i32 local (2)
	aux       []byte // body of function 13 () -> (), without end
	rec       []byte // body of function 14 (i32) -> i32, without end
	start     bool   // function 13 is the start function
	init      bool   // function 13 is exported as _initialize
	tableMin  uint32 // a funcref table of this size (0: none)
	withTable bool
	stages    int64  // the stage bit set (0: query only)
	ret       []byte // what crossrank_run returns (nil: the empty response)
	runLocals []byte // crossrank_run's local declarations (nil: one i32)
}

const (
	fnCountTokens = 0
	fnWordTokens  = 1
	fnLog         = 2
	fnPollOneoff  = 3
	fnRandomGet   = 4
	fnFdWrite     = 5
	fnClockTime   = 6
	fnTokenize    = 7
	fnRec         = 14
)

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// Instruction helpers.
func i32c(v int64) []byte  { return sleb([]byte{0x41}, v) }
func i64c(v int64) []byte  { return sleb([]byte{0x42}, v) }
func call(f uint64) []byte { return uleb([]byte{0x10}, f) }
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var (
	opDrop       = []byte{0x1a}
	opEnd        = []byte{0x0b}
	opLoop       = []byte{0x03, 0x40}
	opBlock      = []byte{0x02, 0x40}
	opBr0        = []byte{0x0c, 0x00}
	opBrIf0      = []byte{0x0d, 0x00}
	opMemoryFill = []byte{0xfc, 0x0b, 0x00}
	opMemoryCopy = []byte{0xfc, 0x0a, 0x00, 0x00}
	opUnreach    = []byte{0x00}
	ret9         = i64c(9) // the 9-byte empty response at address 0
)

// forever wraps body in loop … br 0 end.
func forever(body ...[]byte) []byte { return cat(opLoop, cat(body...), opBr0, opEnd) }

// times runs body n times, counting in local 2.
func times(n int64, body ...[]byte) []byte {
	return cat(i32c(0), []byte{0x21, 2}, opBlock, opLoop, cat(body...),
		[]byte{0x20, 2}, i32c(1), []byte{0x6a, 0x22, 2}, i32c(n), []byte{0x49}, opBrIf0, opEnd, opEnd)
}

// fillWords writes "a a a …" over [from, from+n) with a store loop.
func fillWords(from, n int64) []byte {
	return cat(i32c(from), []byte{0x21, 2}, opBlock, opLoop,
		[]byte{0x20, 2}, i32c(0x2061), []byte{0x3b, 0x00, 0x00}, // i32.store16 "a "
		[]byte{0x20, 2}, i32c(2), []byte{0x6a, 0x22, 2}, i32c(from+n), []byte{0x49}, opBrIf0, opEnd, opEnd)
}

func (g guest) bytes() []byte {
	sec := func(id byte, body []byte) []byte { return append(uleb([]byte{id}, uint64(len(body))), body...) }
	vec := func(items ...[]byte) []byte { return cat(uleb(nil, uint64(len(items))), cat(items...)) }
	name := func(s string) []byte { return append(uleb(nil, uint64(len(s))), s...) }
	const i32, i64 = 0x7f, 0x7e
	ft := func(params, results []byte) []byte {
		return cat([]byte{0x60}, uleb(nil, uint64(len(params))), params, uleb(nil, uint64(len(results))), results)
	}
	types := vec(
		ft([]byte{}, []byte{i32}),                        // 0 () -> i32
		ft([]byte{i32}, []byte{i32}),                     // 1 (i32) -> i32
		ft([]byte{i32}, []byte{i64}),                     // 2 (i32) -> i64
		ft([]byte{i32, i32}, []byte{i64}),                // 3 (i32 i32) -> i64
		ft(nil, nil),                                     // 4 () -> ()
		ft([]byte{i32, i32}, []byte{i32}),                // 5 (i32 i32) -> i32
		ft([]byte{i32, i32, i32, i32, i32}, []byte{i32}), // 6
		ft([]byte{i32, i32, i32}, nil),                   // 7 log
		ft([]byte{i32, i32, i32, i32}, []byte{i32}),      // 8 poll_oneoff, fd_write, tokenize
		ft([]byte{i32, i64, i32}, []byte{i32}),           // 9 clock_time_get
	)
	imp := func(mod, field string, typ byte) []byte { return cat(name(mod), name(field), []byte{0x00, typ}) }
	const wasi = "wasi_snapshot_preview1"
	imports := vec(
		imp("crossrank", "count_tokens", 5),
		imp("crossrank", "word_tokens", 6),
		imp("crossrank", "log", 7),
		imp(wasi, "poll_oneoff", 8),
		imp(wasi, "random_get", 5),
		imp(wasi, "fd_write", 8),
		imp(wasi, "clock_time_get", 9),
		imp("crossrank", "tokenize", 8),
	)
	funcs := vec([]byte{0}, []byte{0}, []byte{1}, []byte{2}, []byte{3}, []byte{4}, []byte{1})
	exp := func(n string, kind byte, idx uint64) []byte { return cat(name(n), []byte{kind}, uleb(nil, idx)) }
	exports := [][]byte{
		exp("memory", 0x02, 0),
		exp("crossrank_abi_version", 0, 8),
		exp("crossrank_stages", 0, 9),
		exp("crossrank_buffer", 0, 10),
		exp("crossrank_configure", 0, 11),
		exp("crossrank_run", 0, 12),
	}
	if g.init {
		exports = append(exports, exp("_initialize", 0, 13))
	}
	body := func(locals []byte, code []byte) []byte {
		b := cat(locals, code, opEnd)
		return append(uleb(nil, uint64(len(b))), b...)
	}
	noLocals := []byte{0}
	aux, rec := g.aux, g.rec
	if rec == nil {
		rec = i32c(0)
	}
	stages, ret, runLocals := g.stages, g.ret, g.runLocals
	if stages == 0 {
		stages = 1
	}
	if ret == nil {
		ret = ret9
	}
	if runLocals == nil {
		runLocals = []byte{1, 1, i32}
	}
	code := vec(
		body(noLocals, i32c(1)),          // version
		body(noLocals, i32c(stages)),     // stages
		body(noLocals, i32c(1024)),       // buffer
		body(noLocals, i64c(1)),          // configure: [0] = OK
		body(runLocals, cat(g.run, ret)), // run
		body(noLocals, aux),              // aux
		body(noLocals, rec),              // rec
	)
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, sec(1, types)...)
	m = append(m, sec(2, imports)...)
	m = append(m, sec(3, funcs)...)
	if g.withTable {
		m = append(m, sec(4, vec(uleb([]byte{0x70, 0x00}, uint64(g.tableMin))))...)
	}
	m = append(m, sec(5, vec(uleb([]byte{0x00}, uint64(g.pages))))...)
	m = append(m, sec(7, vec(exports...))...)
	if g.start {
		m = append(m, sec(8, uleb(nil, 13))...)
	}
	m = append(m, sec(10, code)...)
	return m
}

// write saves the module as NAME.wasm in dir and returns its path.
func (g guest) write(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name+".wasm")
	if err := os.WriteFile(p, g.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var _ = binary.LittleEndian
