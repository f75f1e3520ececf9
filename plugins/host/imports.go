package host

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// callState is what the host functions need during one guest call; it
// travels in the call's context.
type callState struct {
	tok      plugins.Tokenizer
	plugin   string
	logger   *slog.Logger
	logs     *logLimits
	maxInput int // Config.MaxHostInputBytes
}

type callKey struct{}

func stateOf(ctx context.Context) *callState {
	cs, _ := ctx.Value(callKey{}).(*callState)
	return cs
}

// instantiateImports registers the "crossrank" host module in r.
func instantiateImports(ctx context.Context, r wazero.Runtime) error {
	i32 := api.ValueTypeI32
	b := r.NewHostModuleBuilder(abi.ImportModule)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(countTokens),
		[]api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len").Export(abi.ImportCountTokens)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(wordTokens),
		[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len", "out_ptr", "out_cap", "limit").Export(abi.ImportWordTokens)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(tokenize),
		[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len", "out_ptr", "out_cap").Export(abi.ImportTokenize)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(logMessage),
		[]api.ValueType{i32, i32, i32}, nil).
		WithParameterNames("level", "ptr", "len").Export(abi.ImportLog)
	_, err := b.Instantiate(ctx)
	return err
}

// limitError is a guest's host call over one of the host's limits; the
// host function panics with it, which wazero turns into a trap, and the
// call fails as KindMalformed.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// enter is the start of every host function: a call made after the guest's
// deadline traps at once (the guest may be looping over host calls).
func enter(ctx context.Context) *callState {
	if err := ctx.Err(); err != nil {
		panic(fmt.Errorf("plugins: host call after the deadline: %w", err))
	}
	return stateOf(ctx)
}

// view returns guest memory [ptr, ptr+n) without copying, as a string
// valid only during the host call (the guest cannot run, grow or change
// its memory meanwhile, and the tokenizer keeps no reference to its
// input). A range outside memory traps the guest, as does one over max
// bytes (max < 0: no limit).
func view(m api.Module, fn string, ptr, n uint32, max int) string {
	if max >= 0 && uint64(n) > uint64(max) {
		panic(&limitError{fmt.Sprintf("%s: input of %d bytes exceeds the host's %d-byte limit", fn, n, max)})
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("crossrank: %s argument [%#x, +%d) outside guest memory", fn, ptr, n))
	}
	if n == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// outView returns guest memory for n records of size bytes, or traps.
func outView(m api.Module, fn string, ptr, n uint32, size uint64) []byte {
	total := uint64(n) * size
	if total > math.MaxUint32 {
		panic(fmt.Errorf("crossrank: %s output of %d × %d bytes exceeds guest memory", fn, n, size))
	}
	b, ok := m.Memory().Read(ptr, uint32(total))
	if !ok {
		panic(fmt.Errorf("crossrank: %s output [%#x, +%d) outside guest memory", fn, ptr, total))
	}
	return b
}

func countTokens(ctx context.Context, m api.Module, stack []uint64) {
	cs := enter(ctx)
	if cs == nil || cs.tok == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	text := view(m, abi.ImportCountTokens, uint32(stack[0]), uint32(stack[1]), cs.maxInput)
	stack[0] = api.EncodeI32(clampI32(cs.tok.CountTokens(text)))
}

func clampI32(n int) int32 {
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(n)
}

// wordTokens splits the text at Unicode white space and writes, per word,
// three u32 (start, end, tokens) to out, at most outCap words; it returns the
// number of words (more than outCap: the guest retries with a bigger buffer).
// With limit > 0 it stops after the word at which the running total first
// exceeds limit. It reads the text in place, word by word, checks the
// deadline every wordsPerCheck words, and traps on a word over the input
// limit.
func wordTokens(ctx context.Context, m api.Module, stack []uint64) {
	cs := enter(ctx)
	if cs == nil || cs.tok == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	text := view(m, abi.ImportWordTokens, uint32(stack[0]), uint32(stack[1]), -1)
	outPtr, outCap, limit := uint32(stack[2]), uint32(stack[3]), int32(stack[4])
	out := outView(m, abi.ImportWordTokens, outPtr, outCap, 12)
	const wordsPerCheck = 1024
	n, total := uint32(0), 0
	for i := 0; i < len(text); {
		r, w := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(text[i:])
		}
		if unicode.IsSpace(r) {
			i += w
			continue
		}
		start := i
		for i < len(text) {
			r, w = rune(text[i]), 1
			if r >= utf8.RuneSelf {
				r, w = utf8.DecodeRuneInString(text[i:])
			}
			if unicode.IsSpace(r) {
				break
			}
			i += w
		}
		if i-start > cs.maxInput {
			panic(&limitError{fmt.Sprintf("%s: a word of %d bytes exceeds the host's %d-byte limit", abi.ImportWordTokens, i-start, cs.maxInput)})
		}
		c := cs.tok.CountTokens(text[start:i])
		if n < outCap {
			o := out[uint64(n)*12:]
			binary.LittleEndian.PutUint32(o, uint32(start))
			binary.LittleEndian.PutUint32(o[4:], uint32(i))
			binary.LittleEndian.PutUint32(o[8:], uint32(c))
		}
		n++
		total += c
		if limit > 0 && total > int(limit) {
			break
		}
		if n%wordsPerCheck == 0 {
			enter(ctx)
		}
		if n == math.MaxInt32 {
			break
		}
	}
	stack[0] = api.EncodeI32(int32(n))
}

func tokenize(ctx context.Context, m api.Module, stack []uint64) {
	cs := enter(ctx)
	var it plugins.IDTokenizer
	if cs != nil {
		it, _ = cs.tok.(plugins.IDTokenizer)
	}
	if it == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	ids := it.TokenIDs(view(m, abi.ImportTokenize, uint32(stack[0]), uint32(stack[1]), cs.maxInput))
	outPtr, outCap := uint32(stack[2]), uint32(stack[3])
	n := uint32(min(uint64(len(ids)), uint64(outCap)))
	out := outView(m, abi.ImportTokenize, outPtr, n, 4)
	for i := uint32(0); i < n; i++ {
		binary.LittleEndian.PutUint32(out[uint64(i)*4:], uint32(int32(ids[i])))
	}
	stack[0] = api.EncodeI32(clampI32(len(ids)))
}

// logMaxBytes is the most of a log message the host reads.
const logMaxBytes = 4096

// logMessage logs a guest's message. A line over the plugin's rate limit is
// counted and dropped without reading guest memory; otherwise at most
// logMaxBytes are read (the range is still checked against memory).
func logMessage(ctx context.Context, m api.Module, stack []uint64) {
	cs := enter(ctx)
	if cs == nil || cs.logger == nil {
		return
	}
	ptr, n := uint32(stack[1]), uint32(stack[2])
	if uint64(ptr)+uint64(n) > uint64(m.Memory().Size()) {
		panic(fmt.Errorf("crossrank: log argument [%#x, +%d) outside guest memory", ptr, n))
	}
	level := slog.LevelInfo
	switch int32(stack[0]) {
	case abi.LogDebug:
		level = slog.LevelDebug
	case abi.LogWarn:
		level = slog.LevelWarn
	case abi.LogError:
		level = slog.LevelError
	}
	if !cs.logger.Enabled(ctx, level) {
		return
	}
	if cs.logs != nil && !cs.logs.allow(cs.plugin) {
		return
	}
	b, _ := m.Memory().Read(ptr, min(n, logMaxBytes))
	msg := strings.ToValidUTF8(string(b), "\uFFFD")
	if n > logMaxBytes {
		cs.logger.Log(ctx, level, msg, "plugin", cs.plugin, "truncated_from", n)
		return
	}
	cs.logger.Log(ctx, level, msg, "plugin", cs.plugin)
}
