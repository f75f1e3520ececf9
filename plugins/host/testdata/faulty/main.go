//go:build wasip1

// Command faulty is a purpose-built misbehaving plugin for the host's tests.
// It implements the ABI by hand (no SDK) and echoes its input, except when
// the query names a fault: "trap" (panic), "unreachable" (a wasm trap via a
// nil dereference), "loop" (never returns), "spin" (a million-step loop, then echo), "grow" (allocates past any
// memory limit), "oversized" (claims a 2 GiB output), "outside" (points
// outside memory), "malformed" (garbage output), "count" (one passage too
// few), "error" (a guest-reported error). Config {"reject": true} makes
// configure fail.
package main

import (
	"bytes"
	"unsafe"

	"github.com/crossrank/crossrank/plugins/abi"
)

func main() {}

var (
	in, out []byte
	req     abi.Request
	hog     [][]byte
	spin    int
)

func ptr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

//go:wasmexport crossrank_abi_version
func version() int32 { return abi.Version }

//go:wasmexport crossrank_stages
func stages() int32 { return int32(abi.StageQuery | abi.StagePassage) }

//go:wasmexport crossrank_buffer
func buffer(n int32) int32 {
	if cap(in) < int(n) {
		in = make([]byte, n)
	}
	in = in[:n]
	return int32(ptr(in))
}

//go:wasmexport crossrank_configure
func configure(n int32) int64 {
	if bytes.Contains(in[:n], []byte(`"reject":true`)) {
		out = abi.AppendError(out[:0], "faulty: told to reject its config")
	} else {
		out = append(out[:0], abi.StatusOK)
	}
	return int64(abi.Pack(ptr(out), uint32(len(out))))
}

//go:wasmexport crossrank_run
func run(stage, n int32) int64 {
	if err := abi.DecodeRequest(in[:n], &req); err != nil {
		out = abi.AppendError(out[:0], err.Error())
		return int64(abi.Pack(ptr(out), uint32(len(out))))
	}
	items := req.Items
	switch string(req.Query) {
	case "trap":
		panic("faulty: told to trap")
	case "unreachable":
		var p *int
		spin = *p
	case "loop":
		for {
			spin++
		}
	case "spin": // a bounded busy loop, for the time-limit benchmark
		for i := 0; i < 1_000_000; i++ {
			spin += i ^ spin>>3
		}
	case "grow":
		for {
			hog = append(hog, make([]byte, 1<<20))
		}
	case "oversized":
		return int64(abi.Pack(ptr(out), 1<<31))
	case "outside":
		return int64(abi.Pack(0xFFFFFF00, 1024))
	case "malformed":
		out = append(out[:0], abi.StatusOK, 0xff, 0xff, 0xff, 0x7f, 'x')
		return int64(abi.Pack(ptr(out), uint32(len(out))))
	case "count":
		if len(items) > 0 {
			items = items[:len(items)-1]
		}
	case "error":
		out = abi.AppendError(out[:0], "faulty: told to fail")
		return int64(abi.Pack(ptr(out), uint32(len(out))))
	}
	if abi.Stage(stage) == abi.StageQuery {
		items = nil
	}
	out = abi.AppendResponse(out[:0], req.Query, items)
	return int64(abi.Pack(ptr(out), uint32(len(out))))
}
