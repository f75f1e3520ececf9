// Package swar holds the 8-bytes-at-a-time ("SIMD within a register")
// helpers the standard plugins use to scan text quickly: byte loops are slow
// in a Go WASM guest, while one i64 load and a few bit operations are cheap.
package swar

import (
	"slices"
	"unsafe"
)

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

// Space says which bytes Collapse treats as white space.
type Space int

const (
	// ASCIISpace is space, tab, CR and LF.
	ASCIISpace Space = iota
	// HTMLSpace adds form feed, vertical tab and U+00A0 NO-BREAK SPACE.
	HTMLSpace
)

// Collapse appends src to dst with runs of white space turned into one space
// and the ends trimmed.
//
// It looks at 8 bytes at a time: a block without control bytes or two spaces
// in a row (and, for HTMLSpace, without 0xC2, the lead byte of U+00A0) is
// copied whole; any other block goes byte by byte.
func Collapse(dst, src []byte, ws Space) []byte {
	// The output is never longer than src: reserve it once and store into it.
	dst = slices.Grow(dst, len(src))
	w := len(dst)
	out := dst[:cap(dst)]
	space := false
	wrote := false
	i := 0
	for i < len(src) {
		if i+8 <= len(src) {
			x := Load64(src, i)
			sp := EqMask(x, 0x2020202020202020)
			slow := CtlMask(x)
			if ws == HTMLSpace {
				slow |= EqMask(x, 0xC2C2C2C2C2C2C2C2)
			}
			if slow == 0 && sp&(sp>>8) == 0 && (sp&0x80 == 0 || wrote && !space) {
				if space && wrote {
					out[w] = ' '
					w++
				}
				// Each output byte stands for at least one input byte, so
				// out has room for 8 bytes at w.
				Store64(out, w, x)
				if sp>>63 != 0 { // ends in a space: keep it pending
					w += 7
					space = true
				} else {
					w += 8
					space = false
				}
				wrote = true
				i += 8
				continue
			}
		}
		c := src[i]
		n := 0
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			n = 1
		case ws == HTMLSpace && (c == '\f' || c == '\v'):
			n = 1
		case ws == HTMLSpace && c == 0xC2 && i+1 < len(src) && src[i+1] == 0xA0:
			n = 2
		}
		if n > 0 {
			space = true
			i += n
			continue
		}
		if space && wrote {
			out[w] = ' '
			w++
		}
		space = false
		wrote = true
		out[w] = c
		w++
		i++
	}
	return out[:w]
}
