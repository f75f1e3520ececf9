//go:build wasip1

package crossrankplugin

import (
	"unsafe"

	"github.com/crossrank/crossrank/plugins/abi"
)

// The guest's state: one instance serves one call at a time, so these
// buffers are reused from call to call (no per-call allocation that would
// wake the guest's GC).
var (
	runner Runner
	inBuf  []byte
	words  []Word
	ids    []int32
)

// Register installs the plugin's handlers. Call it from an init function.
func Register(p Plugin) { runner.P = &p }

func ptrOf(b []byte) uint32 {
	if cap(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

//go:wasmexport crossrank_abi_version
func exportVersion() int32 { return abi.Version }

//go:wasmexport crossrank_stages
func exportStages() int32 {
	if runner.P == nil {
		return 0
	}
	return int32(runner.P.Stages())
}

//go:wasmexport crossrank_buffer
func exportBuffer(size int32) int32 {
	if size < 0 {
		return 0
	}
	if cap(inBuf) < int(size) {
		inBuf = make([]byte, size, size+size/4)
	}
	inBuf = inBuf[:size]
	return int32(ptrOf(inBuf))
}

//go:wasmexport crossrank_configure
func exportConfigure(n int32) int64 {
	out := runner.Configure(inBuf[:n])
	return int64(abi.Pack(ptrOf(out), uint32(len(out))))
}

//go:wasmexport crossrank_run
func exportRun(stage, n int32) int64 {
	out := runner.Run(uint32(stage), inBuf[:n])
	return int64(abi.Pack(ptrOf(out), uint32(len(out))))
}

//go:wasmimport crossrank count_tokens
func hostCountTokens(ptr unsafe.Pointer, n int32) int32

//go:wasmimport crossrank word_tokens
func hostWordTokens(ptr unsafe.Pointer, n int32, out unsafe.Pointer, outCap int32, limit int32) int32

//go:wasmimport crossrank tokenize
func hostTokenize(ptr unsafe.Pointer, n int32, out unsafe.Pointer, outCap int32) int32

//go:wasmimport crossrank log
func hostLog(level int32, ptr unsafe.Pointer, n int32)

// CountTokens returns the number of word pieces the serving model's
// tokenizer makes of text (no special tokens).
func CountTokens(text []byte) int {
	return int(hostCountTokens(unsafe.Pointer(unsafe.SliceData(text)), int32(len(text))))
}

// WordTokens splits text at Unicode white space and returns each word with
// its token count. With limit > 0 it stops after the word at which the
// running total first exceeds limit. The result is reused by the next call.
func WordTokens(text []byte, limit int) []Word {
	for {
		if cap(words) == 0 {
			words = make([]Word, 256)
		}
		words = words[:cap(words)]
		n := hostWordTokens(unsafe.Pointer(unsafe.SliceData(text)), int32(len(text)),
			unsafe.Pointer(unsafe.SliceData(words)), int32(len(words)), int32(limit))
		if n < 0 {
			return words[:0]
		}
		if int(n) <= len(words) {
			return words[:n]
		}
		words = make([]Word, n)
	}
}

// Tokenize returns the token IDs the serving model's tokenizer makes of text
// (no special tokens), or nil and false when the host's tokenizer cannot
// give IDs. The result is reused by the next call.
func Tokenize(text []byte) ([]int32, bool) {
	for {
		if cap(ids) == 0 {
			ids = make([]int32, 512)
		}
		ids = ids[:cap(ids)]
		n := hostTokenize(unsafe.Pointer(unsafe.SliceData(text)), int32(len(text)),
			unsafe.Pointer(unsafe.SliceData(ids)), int32(len(ids)))
		if n < 0 {
			return nil, false
		}
		if int(n) <= len(ids) {
			return ids[:n], true
		}
		ids = make([]int32, n)
	}
}

// Log writes a message to the host's log at a level (abi.LogDebug…abi.LogError).
func Log(level int, msg string) {
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}
