// Package swar holds the 8-bytes-at-a-time ("SIMD within a register")
// helpers the standard plugins use to scan text quickly: byte loops are slow
// in a Go WASM guest, while one i64 load and a few bit operations are cheap.
package swar

import "unsafe"

// Lo7s has 0x7F in every byte; His has 0x80 in every byte.
const (
	Lo7s = 0x7F7F7F7F7F7F7F7F
	His  = 0x8080808080808080
)

// Load64 reads 8 bytes of b at i (i+8 <= len(b)) as one little-endian
// word: a single i64.load in WASM.
func Load64(b []byte, i int) uint64 {
	_ = b[i+7]
	return *(*uint64)(unsafe.Pointer(&b[i]))
}

// Store64 writes x as 8 little-endian bytes of b at i (i+8 <= len(b)).
func Store64(b []byte, i int, x uint64) {
	_ = b[i+7]
	*(*uint64)(unsafe.Pointer(&b[i])) = x
}

// EqMask has 0x80 in each byte of x that equals the byte repeated in rep,
// and 0 elsewhere.
func EqMask(x, rep uint64) uint64 {
	t := x ^ rep
	return ^((t&Lo7s + Lo7s) | t | Lo7s)
}

// CtlMask has 0x80 in each byte of x below 0x20, and 0 elsewhere.
func CtlMask(x uint64) uint64 {
	return ^((x&Lo7s + 0x6060606060606060) | x | Lo7s)
}
