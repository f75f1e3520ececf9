package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Per-call time limits without wazero's close-on-context-done.
//
// wazero's WithCloseOnContextDone makes compiled code leave native code for
// Go at every loop iteration to ask whether the module was closed (native
// code cannot be preempted, so the Go scheduler and garbage collector need
// those trips). A Go guest enters a loop on every function call (Go's wasm
// back end wraps each function in one), so that cost 3–7x on our plugins
// (see BenchmarkPipeline).
//
// Instead the host rewrites each module once, before compiling it. It adds
// two mutable i32 globals, a countdown and an interrupt flag (exported as
// InterruptGlobal), and at the top of every loop body inserts
//
//	countdown -= 1
//	if countdown == 0 {
//		countdown = checkEvery
//		memory.grow 0; drop        ;; a trip through Go: a preemption point
//		if interrupt { unreachable }
//	}
//
// so the guest pays a decrement and a branch per iteration and leaves
// native code only every checkEvery iterations. The same check opens every
// function body, so recursion without loops (fib(60) written with calls
// only) is caught like a loop. Work that one instruction does in bulk
// counts by its size: before memory.fill, memory.copy, memory.init,
// table.fill, table.copy and table.init the countdown drops by the length
// operand / bulkUnit (a 48 MiB fill counts as 196,608 iterations, so it
// checks at once), which bounds the time between checks by a few
// milliseconds of memory bandwidth however the guest combines them. After
// every call to an import (WASI or a host function) and every call_indirect
// (which may reach an import through a table) the flag alone is read, so a
// loop of slow host calls stops after the one in progress. table.grow is
// checked against maxTableElements (beyond it the guest traps), and a
// module's start section is removed and its function exported as
// StartExport, for the host to run under the deadline after instantiation
// (a start section would run inside InstantiateModule, before the flag
// exists). A fourth global counts the call depth: raised at every function
// entry (past maxCallDepth the guest traps) and lowered before every way
// out of the function (return, the final end, a branch to the function's
// label), so a recursion cannot grow wazero's native stack to its ~100 MB
// ceiling. validate.go bounds the counts the decoder trusts. memory.grow by 0 pages is
// how it leaves: wazero implements it in Go, and growing by nothing changes
// nothing. A call's deadline (or its caller's cancellation) sets the flag
// from a timer goroutine; the guest traps within checkEvery iterations,
// which no code path can avoid, since any endless execution must loop (or
// recurse, which ends in a stack overflow trap). The instance is then
// discarded. Because the guest reaches Go regularly, a looping guest cannot
// hold up the garbage collector's stop-the-world either (a flag checked only
// in native code would: the timer that sets it could never run).

// checkEvery is how many loop iterations pass between trips through Go.
const checkEvery = 1 << 14

// bulkShift: a bulk memory operation of n bytes counts as n>>bulkShift
// loop iterations (256 bytes each); table operations count n>>tableShift
// (32 elements of 8 bytes each).
const (
	bulkShift  = 8
	tableShift = 5
)

// maxTableElements bounds every table's size (declared or grown): 8 bytes
// each, so 8 MiB a table. Go guests have one table of a few thousand
// functions.
const maxTableElements = 1 << 20

// maxCallDepth bounds the guest's call depth. wazero's own ceiling lets a
// call's native stack grow to ~100 MB before "stack overflow", per
// concurrent call; 100,000 frames of a Go or C guest take a few MB.
const maxCallDepth = 100000

// StartExport is the name under which the host exports a module's start
// function after removing its start section.
const StartExport = "crossrank_host_start"

// DepthGlobal is the name of the call-depth global the host adds and
// exports (0 between calls).
const DepthGlobal = "crossrank_depth"

// InterruptGlobal is the name of the global the host adds and exports.
const InterruptGlobal = "crossrank_interrupt"

// Section IDs and the order the spec requires for them.
const (
	secCustom = 0
	secGlobal = 6
	secExport = 7
	secCode   = 10
	secImport = 2
	secMemory = 5
	secTable  = 4
	secStart  = 8
	secFunc   = 3
	secType   = 1
	secElem   = 9
	secData   = 11
)

var sectionOrder = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

var errInstrument = errors.New("instrument")

type reader struct {
	b []byte
	i int
}

func (r *reader) byte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, fmt.Errorf("%w: unexpected end at byte %d", errInstrument, r.i)
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

func (r *reader) uleb() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 70; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: LEB128 too long at byte %d", errInstrument, r.i)
}

// sleb skips a signed LEB128 (the value is not needed).
func (r *reader) sleb() error {
	_, err := r.uleb()
	return err
}

func (r *reader) skip(n int) error {
	if n < 0 || r.i+n > len(r.b) {
		return fmt.Errorf("%w: unexpected end at byte %d", errInstrument, r.i)
	}
	r.i += n
	return nil
}

func appendULEB(b []byte, v uint64) []byte {
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

// instrument returns the module with the interrupt global and its checks
// (see the comment at the top of this file).
func instrument(wasm []byte) ([]byte, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || binary.LittleEndian.Uint32(wasm[4:8]) != 1 {
		return nil, fmt.Errorf("%w: not a valid WASM module (no version 1 header)", errInstrument)
	}
	type section struct {
		id   byte
		body []byte
	}
	var secs []section
	r := &reader{b: wasm, i: 8}
	for r.i < len(wasm) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		n, err := r.uleb()
		if err != nil {
			return nil, err
		}
		if n > uint64(len(wasm)) {
			return nil, fmt.Errorf("%w: section %d of %d bytes in a %d-byte module", errInstrument, id, n, len(wasm))
		}
		start := r.i
		if err := r.skip(int(n)); err != nil {
			return nil, err
		}
		body := wasm[start:r.i]
		if id != secCustom {
			if err := checkVectors(id, body); err != nil {
				return nil, err
			}
		}
		secs = append(secs, section{id, body})
	}
	// Count imports: the new globals' indices follow the imported and the
	// module's own globals; calls below the imported-function count reach
	// the host.
	var imports importCounts
	definedGlobals := uint64(0)
	hasMemory := false
	startFunc, hasStart := uint64(0), false
	for _, s := range secs {
		switch s.id {
		case secMemory:
			hasMemory = true
		case secImport:
			c, err := countImports(s.body)
			if err != nil {
				return nil, err
			}
			imports = c
			hasMemory = hasMemory || c.memories > 0
		case secGlobal:
			n, err := (&reader{b: s.body}).uleb()
			if err != nil {
				return nil, err
			}
			definedGlobals = n
		case secTable:
			if err := checkTables(s.body); err != nil {
				return nil, err
			}
		case secStart:
			f, err := (&reader{b: s.body}).uleb()
			if err != nil {
				return nil, err
			}
			startFunc, hasStart = f, true
		}
	}
	if !hasMemory {
		return nil, fmt.Errorf("%w: the module has no memory", errInstrument)
	}
	ctr := imports.globals + definedGlobals // the countdown
	flag := ctr + 1                         // the interrupt flag
	scratch := ctr + 2                      // holds a bulk operation's length
	depth := ctr + 3                        // the call depth
	cx := &codeRewrite{
		importedFuncs: imports.funcs,
		check:         loopCheck(ctr, flag),
		flagCheck:     flagCheck(flag),
		ctr:           ctr, flag: flag, scratch: scratch, depth: depth,
	}

	newGlobals := []byte{0x7f, 0x01, 0x41} // (mut i32) (i32.const checkEvery)
	newGlobals = appendSLEB32(newGlobals, checkEvery)
	newGlobals = append(newGlobals, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b) // (mut i32) (i32.const 0): the flag
	newGlobals = append(newGlobals, 0x7f, 0x01, 0x41, 0x00, 0x0b)       // (mut i32) (i32.const 0): scratch
	newGlobals = append(newGlobals, 0x7f, 0x01, 0x41, 0x00, 0x0b)       // (mut i32) (i32.const 0): depth
	newExport := appendULEB(nil, uint64(len(InterruptGlobal)))
	newExport = append(newExport, InterruptGlobal...)
	newExport = append(newExport, 0x03)
	newExport = appendULEB(newExport, flag)
	newExport = appendULEB(newExport, uint64(len(DepthGlobal)))
	newExport = append(newExport, DepthGlobal...)
	newExport = append(newExport, 0x03)
	newExport = appendULEB(newExport, depth)
	nExports := uint64(2)
	if hasStart {
		newExport = appendULEB(newExport, uint64(len(StartExport)))
		newExport = append(newExport, StartExport...)
		newExport = append(newExport, 0x00)
		newExport = appendULEB(newExport, startFunc)
		nExports++
	}

	var out []section
	haveGlobal, haveExport := false, false
	insert := func(id byte, body []byte) {
		// Place a new section before the first later section.
		for i, s := range out {
			if s.id != secCustom && sectionOrder[s.id] > sectionOrder[id] {
				out = append(out[:i], append([]section{{id, body}}, out[i:]...)...)
				return
			}
		}
		out = append(out, section{id, body})
	}
	for _, s := range secs {
		switch s.id {
		case secCustom:
			nr := &reader{b: s.body}
			n, err := nr.uleb()
			if err != nil || n > uint64(len(s.body)-nr.i) {
				return nil, fmt.Errorf("%w: a custom section's name of %d bytes", errInstrument, n)
			}
			name := string(s.body[nr.i : nr.i+int(n)])
			if strings.HasPrefix(name, ".debug") {
				continue // code offsets change: drop DWARF
			}
			if name == "name" {
				// wazero decodes function names by counts it trusts (see
				// validate.go); errors quote no wasm stack trace anyway.
				continue
			}
			out = append(out, s)
		case secStart:
			continue // exported as StartExport instead; the host calls it
		case secGlobal:
			body, err := appendToVec(s.body, newGlobals, 4)
			if err != nil {
				return nil, err
			}
			out = append(out, section{s.id, body})
			haveGlobal = true
		case secExport:
			body, err := appendToVec(s.body, newExport, nExports)
			if err != nil {
				return nil, err
			}
			out = append(out, section{s.id, body})
			haveExport = true
		case secCode:
			body, err := cx.code(s.body)
			if err != nil {
				return nil, err
			}
			out = append(out, section{s.id, body})
		default:
			out = append(out, s)
		}
	}
	if !haveGlobal {
		insert(secGlobal, append([]byte{4}, newGlobals...))
	}
	if !haveExport {
		insert(secExport, append(appendULEB(nil, nExports), newExport...))
	}
	res := append([]byte(nil), wasm[:8]...)
	for _, s := range out {
		res = append(res, s.id)
		res = appendULEB(res, uint64(len(s.body)))
		res = append(res, s.body...)
	}
	return res, nil
}

// appendToVec adds k encoded entries to a section that is a vector.
func appendToVec(body, entries []byte, k uint64) ([]byte, error) {
	r := &reader{b: body}
	n, err := r.uleb()
	if err != nil {
		return nil, err
	}
	out := appendULEB(nil, n+k)
	out = append(out, body[r.i:]...)
	return append(out, entries...), nil
}

func globalOp(b []byte, op byte, idx uint64) []byte { return appendULEB(append(b, op), idx) }

// trip is the slow path of every check: reset the countdown, leave native
// code (memory.grow 0) and trap if the flag is set.
func trip(b []byte, ctr, flag uint64) []byte {
	b = append(b, 0x41)                         // i32.const checkEvery
	b = appendSLEB32(b, checkEvery)             //
	b = globalOp(b, 0x24, ctr)                  // global.set $ctr
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0; memory.grow 0; drop
	return flagCheck2(b, flag)
}

func flagCheck2(b []byte, flag uint64) []byte {
	b = globalOp(b, 0x23, flag)              // global.get $flag
	return append(b, 0x04, 0x40, 0x00, 0x0b) // if; unreachable; end
}

// flagCheck is inserted after calls that may reach the host.
func flagCheck(flag uint64) []byte { return flagCheck2(nil, flag) }

// loopCheck is the code inserted at the top of every loop body and function.
func loopCheck(ctr, flag uint64) []byte {
	var b []byte
	b = globalOp(b, 0x23, ctr)      // global.get $ctr
	b = append(b, 0x41, 0x01, 0x6b) // i32.const 1; i32.sub
	b = globalOp(b, 0x24, ctr)      // global.set $ctr
	b = globalOp(b, 0x23, ctr)      // global.get $ctr
	b = append(b, 0x45, 0x04, 0x40) // i32.eqz; if
	b = trip(b, ctr, flag)
	return append(b, 0x0b) // end
}

// bulkCheck is inserted before a bulk operation whose length (i32) is on
// top of the stack: the countdown drops by length>>shift.
func bulkCheck(ctr, flag, scratch uint64, shift byte) []byte {
	var b []byte
	b = globalOp(b, 0x24, scratch)         // global.set $scratch (the length)
	b = globalOp(b, 0x23, ctr)             // global.get $ctr
	b = globalOp(b, 0x23, scratch)         // global.get $scratch
	b = append(b, 0x41, shift, 0x76, 0x6b) // i32.const shift; i32.shr_u; i32.sub
	b = globalOp(b, 0x24, ctr)             // global.set $ctr
	b = globalOp(b, 0x23, ctr)             // global.get $ctr
	b = append(b, 0x41, 0x00, 0x4c)        // i32.const 0; i32.le_s
	b = append(b, 0x04, 0x40)              // if
	b = trip(b, ctr, flag)                 //
	b = append(b, 0x0b)                    // end
	return globalOp(b, 0x23, scratch)      // global.get $scratch
}

// tableGrowCheck is inserted before table.grow t ([ref, n] on the stack):
// the guest traps if the table would exceed maxTableElements.
func tableGrowCheck(scratch, table uint64) []byte {
	var b []byte
	b = globalOp(b, 0x24, scratch) // global.set $scratch (n)
	b = globalOp(b, 0x23, scratch)
	b = append(b, 0x41)
	b = appendSLEB32(b, maxTableElements)
	b = append(b, 0x4b)                   // i32.gt_u
	b = append(b, 0xfc)                   // table.size t
	b = appendULEB(b, 16)                 //
	b = appendULEB(b, table)              //
	b = globalOp(b, 0x23, scratch)        //
	b = append(b, 0x6a, 0x41)             // i32.add; i32.const max
	b = appendSLEB32(b, maxTableElements) //
	b = append(b, 0x4b, 0x72)             // i32.gt_u; i32.or
	b = append(b, 0x04, 0x40, 0x00, 0x0b) // if; unreachable; end
	return globalOp(b, 0x23, scratch)
}

func appendSLEB32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// importCounts is how many of each kind a module imports.
type importCounts struct{ funcs, globals, memories uint64 }

// countImports counts a module's imported functions, globals and memories;
// an imported table larger than maxTableElements is an error.
func countImports(body []byte) (c importCounts, err error) {
	r := &reader{b: body}
	n, err := r.uleb()
	if err != nil {
		return c, err
	}
	for k := uint64(0); k < n; k++ {
		for j := 0; j < 2; j++ { // module and field names
			l, err := r.uleb()
			if err != nil {
				return c, err
			}
			if l > uint64(len(body)) {
				return c, fmt.Errorf("%w: import name of %d bytes", errInstrument, l)
			}
			if err := r.skip(int(l)); err != nil {
				return c, err
			}
		}
		kind, err := r.byte()
		if err != nil {
			return c, err
		}
		switch kind {
		case 0x00: // func
			c.funcs++
			_, err = r.uleb()
		case 0x01: // table: reftype, limits
			if _, err = r.byte(); err == nil {
				err = checkTableLimits(r)
			}
		case 0x02: // memory
			c.memories++
			err = skipLimits(r)
		case 0x03: // global: valtype, mut
			c.globals++
			var vt byte
			if vt, err = r.byte(); err == nil {
				if vt == 0x63 || vt == 0x64 {
					err = r.sleb()
				}
				if err == nil {
					_, err = r.byte()
				}
			}
		case 0x04: // tag
			if _, err = r.byte(); err == nil {
				_, err = r.uleb()
			}
		default:
			return c, fmt.Errorf("%w: unknown import kind %#x", errInstrument, kind)
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkTableLimits reads a table's limits and refuses a minimum above
// maxTableElements (instantiating it would allocate 8 bytes per element).
func checkTableLimits(r *reader) error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	min, err := r.uleb()
	if err != nil {
		return err
	}
	if min > maxTableElements {
		return fmt.Errorf("%w: a table of %d elements exceeds the host's limit of %d", errInstrument, min, maxTableElements)
	}
	if flags&1 != 0 {
		_, err = r.uleb()
	}
	return err
}

// checkTables refuses a table section declaring a table above maxTableElements.
func checkTables(body []byte) error {
	r := &reader{b: body}
	n, err := r.uleb()
	if err != nil {
		return err
	}
	for k := uint64(0); k < n; k++ {
		if r.i < len(body) && body[r.i] == 0x40 { // table with an initialiser: 0x40 0x00 tabletype expr
			return fmt.Errorf("%w: tables with initialisers are not supported", errInstrument)
		}
		vt, err := r.byte()
		if err != nil {
			return err
		}
		if vt == 0x63 || vt == 0x64 {
			if err := r.sleb(); err != nil {
				return err
			}
		}
		if err := checkTableLimits(r); err != nil {
			return err
		}
	}
	return nil
}

func skipLimits(r *reader) error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.uleb(); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = r.uleb()
	}
	return err
}

// codeRewrite inserts the checks into a code section.
type codeRewrite struct {
	importedFuncs             uint64
	check, flagCheck          []byte
	ctr, flag, scratch, depth uint64
}

// enter is inserted at every function entry: the call depth goes up, and
// past maxCallDepth the guest traps.
func (cx *codeRewrite) enter() []byte {
	var b []byte
	b = globalOp(b, 0x23, cx.depth)
	b = append(b, 0x41, 0x01, 0x6a) // i32.const 1; i32.add
	b = globalOp(b, 0x24, cx.depth)
	b = globalOp(b, 0x23, cx.depth)
	b = append(b, 0x41)
	b = appendSLEB32(b, maxCallDepth)
	b = append(b, 0x4b, 0x04, 0x40, 0x00, 0x0b) // i32.gt_u; if; unreachable; end
	return b
}

// leave is inserted before every way out of a function.
func (cx *codeRewrite) leave() []byte {
	var b []byte
	b = globalOp(b, 0x23, cx.depth)
	b = append(b, 0x41, 0x01, 0x6b) // i32.const 1; i32.sub
	return globalOp(b, 0x24, cx.depth)
}

// leaveIf is inserted before br_if or br_table ([..., i32] on the stack)
// when cond (code that turns the scratch global's value into an i32) says
// the branch leaves the function.
func (cx *codeRewrite) leaveIf(cond []byte) []byte {
	var b []byte
	b = globalOp(b, 0x24, cx.scratch)
	b = append(b, cond...)
	b = append(b, 0x04, 0x40) // if
	b = append(b, cx.leave()...)
	b = append(b, 0x0b) // end
	return globalOp(b, 0x23, cx.scratch)
}

// code rewrites every function body of a code section.
func (cx *codeRewrite) code(body []byte) ([]byte, error) {
	r := &reader{b: body}
	n, err := r.uleb()
	if err != nil {
		return nil, err
	}
	out := appendULEB(make([]byte, 0, len(body)+len(body)/8), n)
	var fn []byte
	for k := uint64(0); k < n; k++ {
		size, err := r.uleb()
		if err != nil {
			return nil, err
		}
		if size > uint64(len(body)) {
			return nil, fmt.Errorf("%w: function %d of %d bytes", errInstrument, k, size)
		}
		start := r.i
		if err := r.skip(int(size)); err != nil {
			return nil, err
		}
		fn, err = cx.function(fn[:0], body[start:r.i])
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", k, err)
		}
		out = appendULEB(out, uint64(len(fn)))
		out = append(out, fn...)
	}
	return out, nil
}

func (cx *codeRewrite) function(dst, body []byte) ([]byte, error) {
	r := &reader{b: body}
	groups, err := r.uleb()
	if err != nil {
		return nil, err
	}
	locals := uint64(0)
	for g := uint64(0); g < groups; g++ {
		n, err := r.uleb()
		if err != nil {
			return nil, err
		}
		if locals += n; locals > maxLocals {
			return nil, fmt.Errorf("%w: over %d locals", errInstrument, maxLocals)
		}
		vt, err := r.byte()
		if err != nil {
			return nil, err
		}
		if vt == 0x63 || vt == 0x64 {
			if err := r.sleb(); err != nil {
				return nil, err
			}
		}
	}
	dst = append(dst, body[:r.i]...)
	dst = append(dst, cx.check...) // function entry
	dst = append(dst, cx.enter()...)
	nest := uint64(0) // blocks open; a branch to label nest leaves the function
	for r.i < len(body) {
		at := r.i
		op, _ := r.byte()
		if err := skipImmediates(r, op); err != nil {
			return nil, fmt.Errorf("opcode %#x at byte %d: %w", op, at, err)
		}
		switch op {
		case 0x02, 0x03, 0x04, 0x06, 0x1f: // block loop if try try_table
			nest++
		case 0x0b, 0x18: // end, delegate
			if nest == 0 {
				dst = append(dst, cx.leave()...) // the function's end
			} else {
				nest--
			}
		case 0x0f: // return
			dst = append(dst, cx.leave()...)
		case 0x0c: // br
			if l, _ := (&reader{b: body, i: at + 1}).uleb(); l == nest {
				dst = append(dst, cx.leave()...)
			}
		case 0x0d: // br_if
			if l, _ := (&reader{b: body, i: at + 1}).uleb(); l == nest {
				dst = append(dst, cx.leaveIf(globalOp(nil, 0x23, cx.scratch))...)
			}
		case 0x0e: // br_table
			tr := &reader{b: body, i: at + 1}
			n, _ := tr.uleb()
			cond := []byte{0x41, 0x00}        // i32.const 0
			for i := uint64(0); i <= n; i++ { // skipImmediates bounded n
				l, _ := tr.uleb()
				if l != nest {
					continue
				}
				cond = globalOp(cond, 0x23, cx.scratch)
				cond = append(cond, 0x41)
				cond = appendSLEB32(cond, int32(min(i, 1<<31-1)))
				if i < n {
					cond = append(cond, 0x46, 0x72) // i32.eq; i32.or
				} else {
					cond = append(cond, 0x4f, 0x72) // default: i32.ge_u; i32.or
				}
			}
			if len(cond) > 2 {
				dst = append(dst, cx.leaveIf(cond)...)
			}
		}
		switch op {
		case 0xfc:
			sr := &reader{b: body, i: at + 1}
			sub, _ := sr.uleb()
			switch sub {
			case 8, 10, 11: // memory.init, memory.copy, memory.fill
				dst = append(dst, bulkCheck(cx.ctr, cx.flag, cx.scratch, bulkShift)...)
			case 12, 14, 17: // table.init, table.copy, table.fill
				dst = append(dst, bulkCheck(cx.ctr, cx.flag, cx.scratch, tableShift)...)
			case 15: // table.grow
				t, _ := sr.uleb()
				dst = append(dst, tableGrowCheck(cx.scratch, t)...)
			}
		}
		dst = append(dst, body[at:r.i]...)
		switch op {
		case 0x03: // loop
			dst = append(dst, cx.check...)
		case 0x10: // call
			if f, _ := (&reader{b: body, i: at + 1}).uleb(); f < cx.importedFuncs {
				dst = append(dst, cx.flagCheck...)
			}
		case 0x11: // call_indirect
			dst = append(dst, cx.flagCheck...)
		}
	}
	return dst, nil
}

func skipBlockType(r *reader) error {
	if r.i >= len(r.b) {
		return fmt.Errorf("%w: unexpected end", errInstrument)
	}
	c := r.b[r.i]
	if c == 0x40 || (c >= 0x6f && c <= 0x7f) {
		r.i++
		return nil
	}
	if c == 0x63 || c == 0x64 { // (ref null? ht)
		r.i++
		return r.sleb()
	}
	return r.sleb() // a type index (s33)
}

func skipMemArg(r *reader) error {
	align, err := r.uleb()
	if err != nil {
		return err
	}
	if align&0x40 != 0 { // multi-memory: a memory index follows
		if _, err := r.uleb(); err != nil {
			return err
		}
	}
	_, err = r.uleb()
	return err
}

func ulebs(r *reader, n int) error {
	for i := 0; i < n; i++ {
		if _, err := r.uleb(); err != nil {
			return err
		}
	}
	return nil
}

// skipImmediates advances r past the immediates of op.
func skipImmediates(r *reader, op byte) error {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04 || op == 0x06: // block loop if try
		return skipBlockType(r)
	case op == 0x07 || op == 0x08 || op == 0x09 || op == 0x18: // catch throw rethrow delegate
		return ulebs(r, 1)
	case op == 0x0c || op == 0x0d || op == 0x10 || op == 0x12 || op == 0x14 || op == 0x15 ||
		op == 0xd2 || op == 0xd5 || op == 0xd6 || (op >= 0x20 && op <= 0x26):
		return ulebs(r, 1)
	case op == 0x0e: // br_table
		n, err := r.uleb()
		if err != nil {
			return err
		}
		if n >= uint64(len(r.b)-r.i) {
			return fmt.Errorf("%w: br_table of %d targets in %d bytes", errInstrument, n, len(r.b)-r.i)
		}
		return ulebs(r, int(n)+1)
	case op == 0x11 || op == 0x13: // call_indirect type table
		return ulebs(r, 2)
	case op == 0x1c: // select t*
		n, err := r.uleb()
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			vt, err := r.byte()
			if err != nil {
				return err
			}
			if vt == 0x63 || vt == 0x64 {
				if err := r.sleb(); err != nil {
					return err
				}
			}
		}
		return nil
	case op == 0x1f: // try_table bt vec(catch)
		if err := skipBlockType(r); err != nil {
			return err
		}
		n, err := r.uleb()
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			kind, err := r.byte()
			if err != nil {
				return err
			}
			if kind <= 1 {
				if err := ulebs(r, 1); err != nil {
					return err
				}
			}
			if err := ulebs(r, 1); err != nil {
				return err
			}
		}
		return nil
	case op >= 0x28 && op <= 0x3e:
		return skipMemArg(r)
	case op == 0x3f || op == 0x40:
		return ulebs(r, 1)
	case op == 0x41 || op == 0x42:
		return r.sleb()
	case op == 0x43:
		return r.skip(4)
	case op == 0x44:
		return r.skip(8)
	case op == 0xd0: // ref.null ht
		if r.i < len(r.b) && (r.b[r.i] == 0x70 || r.b[r.i] == 0x6f) {
			r.i++
			return nil
		}
		return r.sleb()
	case op == 0xfc:
		sub, err := r.uleb()
		if err != nil {
			return err
		}
		switch {
		case sub <= 7:
			return nil
		case sub == 8 || sub == 10 || sub == 12 || sub == 14:
			return ulebs(r, 2)
		case sub == 9 || sub == 11 || sub == 13 || (sub >= 15 && sub <= 17):
			return ulebs(r, 1)
		}
		return fmt.Errorf("%w: unknown 0xfc %d", errInstrument, sub)
	case op == 0xfd:
		sub, err := r.uleb()
		if err != nil {
			return err
		}
		switch {
		case sub <= 11 || sub == 92 || sub == 93:
			return skipMemArg(r)
		case sub == 12 || sub == 13:
			return r.skip(16)
		case sub >= 21 && sub <= 34:
			return r.skip(1)
		case sub >= 84 && sub <= 91:
			if err := skipMemArg(r); err != nil {
				return err
			}
			return r.skip(1)
		}
		return nil
	case op == 0xfe:
		sub, err := r.uleb()
		if err != nil {
			return err
		}
		if sub == 3 {
			return r.skip(1)
		}
		return skipMemArg(r)
	case op == 0xfb:
		return fmt.Errorf("%w: GC instructions are not supported", errInstrument)
	case op <= 0x01 || op == 0x05 || op == 0x0a || op == 0x0b || op == 0x0f || op == 0x19 ||
		op == 0x1a || op == 0x1b || (op >= 0x45 && op <= 0xc4) || op == 0xd1 || op == 0xd3 || op == 0xd4:
		return nil
	}
	return fmt.Errorf("%w: unknown opcode", errInstrument)
}
