package tokenizer

import (
	"bytes"
	"slices"
	"unicode"
	"unicode/utf8"
)

// words is the pre-tokenizers' working state: words as spans of a buffer
// whose bytes carry their original byte range (as, ae).
type words struct {
	b      []byte
	as, ae []int32
	sp     []span
}

func (w *words) reset() {
	w.b, w.as, w.ae, w.sp = w.b[:0], w.as[:0], w.ae[:0], w.sp[:0]
}

// appendRune appends r with alignment (s, e) for each of its bytes.
func (w *words) appendRune(r rune, s, e int32) {
	n := len(w.b)
	w.b = utf8.AppendRune(w.b, r)
	for ; n < len(w.b); n++ {
		w.as = append(w.as, s)
		w.ae = append(w.ae, e)
	}
}

// preTransform is a pre-tokenizer that rewrites the text of the words
// (Metaspace, ByteLevel) into dst as well as splitting them.
type preTransform interface {
	transform(src, dst *words, sc *scratch)
}

const metaspace = '▁'

// metaspacePre is the Metaspace pre-tokenizer: spaces become the
// replacement character, one is prepended to each word (always), to the
// word at the very start of the text (first) or to none (never), unless
// it starts with one already; with split, words are cut before each
// replacement character (MergedWithNext).
type metaspacePre struct {
	repl    rune
	prepend int // prependAlways, prependFirst, prependNever
	split   bool
}

const (
	prependAlways = iota
	prependFirst
	prependNever
)

func (m metaspacePre) transform(src, dst *words, _ *scratch) {
	for _, sp := range src.sp {
		if sp[0] >= sp[1] {
			continue
		}
		start := int32(len(dst.b))
		first, _ := decode(src.b, sp[0])
		if first != ' ' && first != m.repl {
			if m.prepend == prependAlways || m.prepend == prependFirst && src.as[sp[0]] == 0 {
				dst.appendRune(m.repl, src.as[sp[0]], src.ae[sp[0]])
			}
		}
		for i := sp[0]; i < sp[1]; {
			if src.b[i] == ' ' {
				dst.appendRune(m.repl, src.as[i], src.ae[i])
				i++
				continue
			}
			j := i + 1
			if k := bytes.IndexByte(src.b[j:sp[1]], ' '); k >= 0 {
				j += int32(k)
			} else {
				j = sp[1]
			}
			dst.b = append(dst.b, src.b[i:j]...)
			dst.as = append(dst.as, src.as[i:j]...)
			dst.ae = append(dst.ae, src.ae[i:j]...)
			i = j
		}
		end := int32(len(dst.b))
		if !m.split {
			dst.sp = append(dst.sp, span{start, end})
			continue
		}
		// MergedWithNext on each replacement character comes down to a cut
		// before each one (a run of them gives one-character words but the
		// last, which starts the next word)
		var rb [utf8.UTFMax]byte
		rep := rb[:utf8.EncodeRune(rb[:], m.repl)]
		w := start
		for i := start; i < end; {
			k := bytes.Index(dst.b[i:end], rep)
			if k < 0 {
				break
			}
			p := i + int32(k)
			if p > w {
				dst.sp = append(dst.sp, span{w, p})
			}
			w = p
			i = p + int32(len(rep))
		}
		if end > w {
			dst.sp = append(dst.sp, span{w, end})
		}
	}
}

// byteLevelPre is the ByteLevel pre-tokenizer: a space before each word
// that does not start with one (add_prefix_space), the GPT-2 split
// (use_regex), then every byte mapped to its printable stand-in.
type byteLevelPre struct {
	addPrefix, useRegex bool
}

// byteChar maps each byte to the character GPT-2's bytes_to_unicode gives it.
var byteChar = func() (t [256]rune) {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			t[b] = rune(b)
		} else {
			t[b] = 256 + n
			n++
		}
	}
	return t
}()

// byteCharUTF8 holds the UTF-8 form of byteChar.
var byteCharUTF8 = func() (t [256][2]byte) {
	for b := 0; b < 256; b++ {
		var buf [4]byte
		n := utf8.EncodeRune(buf[:], byteChar[b])
		t[b] = [2]byte{buf[0], buf[1]}
		if n == 1 {
			t[b][1] = 0
		}
	}
	return t
}()

func (p byteLevelPre) transform(src, dst *words, sc *scratch) {
	tmp := &sc.blTmp
	for _, sp := range src.sp {
		if sp[0] >= sp[1] {
			continue
		}
		b, as, ae := src.b[sp[0]:sp[1]], src.as[sp[0]:sp[1]], src.ae[sp[0]:sp[1]]
		if p.addPrefix && b[0] != ' ' {
			tmp.reset()
			tmp.appendRune(' ', as[0], ae[0])
			tmp.b = append(tmp.b, b...)
			tmp.as = append(tmp.as, as...)
			tmp.ae = append(tmp.ae, ae...)
			b, as, ae = tmp.b, tmp.as, tmp.ae
		}
		if !p.useRegex {
			p.emit(dst, b, as, ae)
			continue
		}
		for i := 0; i < len(b); {
			j := gpt2Next(b, i)
			p.emit(dst, b[i:j], as[i:j], ae[i:j])
			i = j
		}
	}
}

// emit appends one word, each byte mapped.
func (byteLevelPre) emit(dst *words, b []byte, as, ae []int32) {
	start := len(dst.b)
	need := start + 2*len(b)
	dst.b = slices.Grow(dst.b, need-len(dst.b))[:need]
	dst.as = slices.Grow(dst.as, need-len(dst.as))[:need]
	dst.ae = slices.Grow(dst.ae, need-len(dst.ae))[:need]
	o, ob, oas, oae := start, dst.b, dst.as, dst.ae
	for i, c := range b {
		u := byteCharUTF8[c]
		ob[o], oas[o], oae[o] = u[0], as[i], ae[i]
		o++
		if u[1] != 0 {
			ob[o], oas[o], oae[o] = u[1], as[i], ae[i]
			o++
		}
	}
	dst.b, dst.as, dst.ae = ob[:o], oas[:o], oae[:o]
	dst.sp = append(dst.sp, span{int32(start), int32(o)})
}

// GPT-2's pattern, as the reference's ByteLevel pre-tokenizer compiles it:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no look-ahead, so the match is computed by hand: gpt2Next
// returns the end of the match starting at i. Every character belongs to
// some alternative, so the matches tile the text.
func gpt2Next(b []byte, i int) int {
	if b[i] == '\'' && i+1 < len(b) {
		switch b[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(b) && b[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(b) && b[i+2] == 'l' {
				return i + 3
			}
		}
	}
	j := i
	if b[i] == ' ' && i+1 < len(b) {
		if r, _ := utf8.DecodeRune(b[i+1:]); !isRegexSpace(r) {
			j = i + 1
		}
	}
	r, n := utf8.DecodeRune(b[j:])
	cls := gpt2Class(r)
	if cls != gpt2Space {
		k := j + n
		for k < len(b) {
			r, n := utf8.DecodeRune(b[k:])
			if gpt2Class(r) != cls {
				break
			}
			k += n
		}
		return k
	}
	// \s+(?!\S), else \s+
	k, last := i, i
	for k < len(b) {
		r, n := utf8.DecodeRune(b[k:])
		if !isRegexSpace(r) {
			break
		}
		last = k
		k += n
	}
	if k == len(b) || last == i {
		return k
	}
	return last
}

const (
	gpt2Letter = iota
	gpt2Number
	gpt2Other
	gpt2Space
)

func gpt2Class(r rune) int {
	if r < 0x80 {
		switch {
		case 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
			return gpt2Letter
		case '0' <= r && r <= '9':
			return gpt2Number
		case r == ' ' || '\t' <= r && r <= '\r':
			return gpt2Space
		}
		return gpt2Other
	}
	switch {
	case unicode.IsLetter(r):
		return gpt2Letter
	case unicode.IsNumber(r):
		return gpt2Number
	case isRegexSpace(r):
		return gpt2Space
	}
	return gpt2Other
}

// isRegexSpace is the regex engine's \s (White_Space).
func isRegexSpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || '\t' <= r && r <= '\r'
	}
	return unicode.Is(unicode.White_Space, r)
}

// splitPre is the Split pre-tokenizer: a pattern's matches (or, inverted,
// what lies between them) treated with one of the split behaviours.
type splitPre struct {
	p        *pattern
	behavior behavior
	invert   bool
}

func (s splitPre) split(b []byte, in, out []span) []span {
	var ms [][2]int
	var pieces []splitPiece
	for _, sp := range in {
		ms = s.p.find(b[sp[0]:sp[1]], ms[:0])
		pieces = pieces[:0]
		last := int32(0)
		for _, m := range ms {
			ms0, ms1 := int32(m[0]), int32(m[1])
			if ms0 > last {
				pieces = append(pieces, splitPiece{span{sp[0] + last, sp[0] + ms0}, s.invert})
			}
			pieces = append(pieces, splitPiece{span{sp[0] + ms0, sp[0] + ms1}, !s.invert})
			last = ms1
		}
		if sp[0]+last < sp[1] {
			pieces = append(pieces, splitPiece{span{sp[0] + last, sp[1]}, s.invert})
		}
		out = foldPieces(pieces, s.behavior, out)
	}
	return out
}

type splitPiece struct {
	sp      span
	isMatch bool
}

// foldPieces applies a split behaviour to a span's pieces (the reference's
// NormalizedString::split); empty words are dropped.
func foldPieces(pieces []splitPiece, b behavior, out []span) []span {
	base := len(out)
	switch b {
	case removed:
		for _, p := range pieces {
			if !p.isMatch {
				out = append(out, p.sp)
			}
		}
	case isolated:
		for _, p := range pieces {
			out = append(out, p.sp)
		}
	case mergedWithPrevious:
		prev := false
		for _, p := range pieces {
			if p.isMatch && !prev && len(out) > base {
				out[len(out)-1][1] = p.sp[1]
			} else {
				out = append(out, p.sp)
			}
			prev = p.isMatch
		}
	case mergedWithNext:
		prev := false
		for k := len(pieces) - 1; k >= 0; k-- {
			p := pieces[k]
			if p.isMatch && !prev && len(out) > base {
				out[len(out)-1][0] = p.sp[0]
			} else {
				out = append(out, p.sp)
			}
			prev = p.isMatch
		}
		for i, j := base, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	case contiguous:
		prev := false
		for _, p := range pieces {
			if p.isMatch == prev && len(out) > base {
				out[len(out)-1][1] = p.sp[1]
			} else {
				out = append(out, p.sp)
			}
			prev = p.isMatch
		}
	}
	// drop empty words
	k := base
	for _, sp := range out[base:] {
		if sp[1] > sp[0] {
			out[k] = sp
			k++
		}
	}
	return out[:k]
}
