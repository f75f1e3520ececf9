package host

import (
	"context"
	"encoding/binary"
	"log/slog"
	"unicode"
	"unicode/utf8"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// callState is what the host functions need during one guest call; it
// travels in the call's context.
type callState struct {
	tok    plugins.Tokenizer
	plugin string
	logger *slog.Logger
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

// readString copies guest memory [ptr, ptr+n) into a Go string; a range
// outside memory panics, which wazero turns into a trap of the guest.
func readString(m api.Module, ptr, n uint32) string {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic("crossrank: host function argument outside guest memory")
	}
	return string(b)
}

func countTokens(ctx context.Context, m api.Module, stack []uint64) {
	cs := stateOf(ctx)
	if cs == nil || cs.tok == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	stack[0] = api.EncodeI32(int32(cs.tok.CountTokens(readString(m, uint32(stack[0]), uint32(stack[1])))))
}

// wordTokens splits the text at Unicode white space and writes, per word,
// three u32 (start, end, tokens) to out, at most outCap words; it returns the
// number of words (more than outCap: the guest retries with a bigger buffer).
// With limit > 0 it stops after the word at which the running total first
// exceeds limit.
func wordTokens(ctx context.Context, m api.Module, stack []uint64) {
	cs := stateOf(ctx)
	if cs == nil || cs.tok == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	text := readString(m, uint32(stack[0]), uint32(stack[1]))
	outPtr, outCap, limit := uint32(stack[2]), uint32(stack[3]), int32(stack[4])
	out, ok := m.Memory().Read(outPtr, outCap*12)
	if !ok {
		panic("crossrank: word_tokens output outside guest memory")
	}
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
		c := cs.tok.CountTokens(text[start:i])
		if n < outCap {
			o := out[n*12:]
			binary.LittleEndian.PutUint32(o, uint32(start))
			binary.LittleEndian.PutUint32(o[4:], uint32(i))
			binary.LittleEndian.PutUint32(o[8:], uint32(c))
		}
		n++
		total += c
		if limit > 0 && total > int(limit) {
			break
		}
	}
	stack[0] = api.EncodeI32(int32(n))
}

func tokenize(ctx context.Context, m api.Module, stack []uint64) {
	cs := stateOf(ctx)
	var it plugins.IDTokenizer
	if cs != nil {
		it, _ = cs.tok.(plugins.IDTokenizer)
	}
	if it == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	ids := it.TokenIDs(readString(m, uint32(stack[0]), uint32(stack[1])))
	outPtr, outCap := uint32(stack[2]), uint32(stack[3])
	n := uint32(len(ids))
	if n > outCap {
		n = outCap
	}
	out, ok := m.Memory().Read(outPtr, n*4)
	if !ok {
		panic("crossrank: tokenize output outside guest memory")
	}
	for i := uint32(0); i < n; i++ {
		binary.LittleEndian.PutUint32(out[i*4:], uint32(int32(ids[i])))
	}
	stack[0] = api.EncodeI32(int32(len(ids)))
}

func logMessage(ctx context.Context, m api.Module, stack []uint64) {
	cs := stateOf(ctx)
	if cs == nil || cs.logger == nil {
		return
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
	msg := readString(m, uint32(stack[1]), uint32(stack[2]))
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	cs.logger.Log(ctx, level, msg, "plugin", cs.plugin)
}
