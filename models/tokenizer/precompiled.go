package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// precompiledStep is the Precompiled normalizer: SentencePiece's
// precompiled_charsmap, a double-array trie (Darts) over UTF-8 byte
// strings whose values index a table of NUL-terminated replacements. As
// the reference (spm_precompiled) applies it: each extended grapheme
// cluster shorter than 6 bytes is looked up whole, else each of its
// characters; a lookup takes the first (shortest) prefix of the chunk the
// trie holds, and the chunk is replaced by that entry's string.
type precompiledStep struct {
	array      []uint32
	normalized []byte
	// ascii holds, for each ASCII byte on its own, the index of its
	// replacement in normalized, or -1 when the trie has none.
	ascii [128]int32
}

func parsePrecompiled(b64, where string) (*precompiledStep, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%s.precompiled_charsmap: %w", where, err)
	}
	if len(raw) < 4 {
		return nil, fmt.Errorf("%s.precompiled_charsmap: %d bytes, too short", where, len(raw))
	}
	size := int(binary.LittleEndian.Uint32(raw))
	if size%4 != 0 || size > len(raw)-4 || size == 0 {
		return nil, fmt.Errorf("%s.precompiled_charsmap: trie size %d does not fit the %d bytes", where, size, len(raw))
	}
	p := &precompiledStep{array: make([]uint32, size/4), normalized: raw[4+size:]}
	for i := range p.array {
		p.array[i] = binary.LittleEndian.Uint32(raw[4+4*i:])
	}
	for c := 0; c < 128; c++ {
		p.ascii[c] = p.lookup([]byte{byte(c)})
	}
	return p, nil
}

// lookup returns the index in normalized of the replacement of the first
// prefix of key the trie holds, or -1.
func (p *precompiledStep) lookup(key []byte) int32 {
	a := p.array
	pos := uint32(0)
	if len(a) == 0 {
		return -1
	}
	unit := a[0]
	pos ^= dartsOffset(unit)
	for _, c := range key {
		if c == 0 {
			break
		}
		pos ^= uint32(c)
		if int(pos) >= len(a) {
			return -1
		}
		unit = a[pos]
		if unit&(1<<31|0xFF) != uint32(c) {
			return -1
		}
		pos ^= dartsOffset(unit)
		if (unit>>8)&1 == 1 {
			if int(pos) >= len(a) {
				return -1
			}
			v := a[pos] & (1<<31 - 1)
			if int(v) >= len(p.normalized) {
				return -1
			}
			return int32(v)
		}
	}
	return -1
}

func dartsOffset(unit uint32) uint32 {
	return (unit >> 10) << ((unit & (1 << 9)) >> 6)
}

// replacement returns the NUL-terminated string at idx.
func (p *precompiledStep) replacement(idx int32) []byte {
	s := p.normalized[idx:]
	for i, c := range s {
		if c == 0 {
			return s[:i]
		}
	}
	return s
}

func (*precompiledStep) perChar() bool { return false }

// change is one character of a transformation, as the reference's
// NormalizedString::transform takes it: 0 replaces the next original
// character, 1 inserts one, -n replaces the next one and removes n more.
type change struct {
	r rune
	n int32
}

// replaceChunk appends the changes replacing a chunk of old characters by
// repl (spm_precompiled's replace).
func replaceChunk(tr []change, old int, repl []byte) []change {
	nw := 0
	for len(repl) > 0 {
		r, n := utf8.DecodeRune(repl)
		repl = repl[n:]
		tr = append(tr, change{r, 0})
		nw++
	}
	diff := nw - old
	switch {
	case diff > 0:
		for i := len(tr) - 1; i >= len(tr)-diff; i-- {
			tr[i].n = 1
		}
	case diff < 0:
		if len(tr) > 0 {
			tr[len(tr)-1].n += int32(diff)
		}
	}
	return tr
}

// applyChanges builds the transformed characters with the alignments the
// reference gives them.
func applyChanges(dst, src []nchar, tr []change) []nchar {
	dst = dst[:0]
	p := 0
	for _, c := range tr {
		var s, e int32
		if c.n > 0 {
			switch {
			case p > 0 && p <= len(src):
				s, e = src[p-1].s, src[p-1].e
			case len(src) > 0:
				s, e = src[0].s, src[0].s
			}
		} else {
			if p < len(src) {
				s, e = src[p].s, src[p].e
			} else if len(src) > 0 {
				s, e = src[len(src)-1].s, src[len(src)-1].e
			}
			p += 1 - int(c.n)
		}
		dst = append(dst, nchar{c.r, s, e})
	}
	return dst
}

func (p *precompiledStep) apply(dst, src []nchar, sc *stepScratch) []nchar {
	tr := sc.changes[:0]
	modified := false
	// An ASCII character followed by another (but CR LF) is a grapheme of
	// its own, looked up in the ASCII table; the rest is segmented in
	// regions that start and end at such characters.
	for i := 0; i < len(src); {
		c := src[i].r
		if c < 0x80 && (i+1 == len(src) || src[i+1].r < 0x80 && !(c == '\r' && src[i+1].r == '\n')) {
			if idx := p.ascii[c]; idx >= 0 {
				modified = true
				tr = replaceChunk(tr, 1, p.replacement(idx))
			} else {
				tr = append(tr, change{c, 0})
			}
			i++
			continue
		}
		// the region runs to the next ASCII character that begins a
		// grapheme for sure: not LF after CR, not after a Prepend character
		m := i + 1
		for m < len(src) && (src[m].r >= 0x80 || src[m].r == '\n' && src[m-1].r == '\r' || isPrepend(src[m-1].r)) {
			m++
		}
		var mod bool
		tr, mod = p.region(tr, src[i:m], sc)
		modified = modified || mod
		i = m
	}
	sc.changes = tr
	if !modified {
		return append(dst[:0], src...)
	}
	return applyChanges(dst, src, tr)
}

// region appends the changes of a run of characters, grapheme by grapheme.
func (p *precompiledStep) region(tr []change, src []nchar, sc *stepScratch) ([]change, bool) {
	buf := sc.buf[:0]
	for _, c := range src {
		buf = utf8.AppendRune(buf, c.r)
	}
	sc.buf = buf
	modified := false
	state := -1
	for rest := buf; len(rest) > 0; {
		var g []byte
		g, rest, _, state = uniseg.FirstGraphemeCluster(rest, state)
		if len(g) < 6 {
			if idx := p.lookup(g); idx >= 0 {
				modified = true
				tr = replaceChunk(tr, utf8.RuneCount(g), p.replacement(idx))
				continue
			}
		}
		for len(g) > 0 {
			r, n := utf8.DecodeRune(g)
			if idx := p.lookup(g[:n]); idx >= 0 {
				modified = true
				tr = replaceChunk(tr, 1, p.replacement(idx))
			} else {
				tr = append(tr, change{r, 0})
			}
			g = g[n:]
		}
	}
	return tr, modified
}

// isPrepend reports whether r has Grapheme_Cluster_Break=Prepend (no
// grapheme boundary after it).
func isPrepend(r rune) bool {
	switch {
	case r < 0x600:
		return false
	case r >= 0x600 && r <= 0x605, r == 0x6DD, r == 0x70F, r == 0x890, r == 0x891, r == 0x8E2, r == 0xD4E,
		r == 0x110BD, r == 0x110CD, r == 0x111C2, r == 0x111C3, r == 0x1193F, r == 0x11941, r == 0x11A3A,
		r >= 0x11A84 && r <= 0x11A89, r == 0x11D46, r == 0x11F02:
		return true
	}
	return false
}
