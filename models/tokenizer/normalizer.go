package tokenizer

import (
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// nchar is one character of a normalized string with the byte range of the
// original text it came from (alignment, as the reference keeps it).
type nchar struct {
	r    rune
	s, e int32
}

// normStep is one elementary normalization; normalizers from the JSON are
// flattened into a list of steps at load.
// stepScratch holds buffers steps reuse between calls.
type stepScratch struct {
	buf []byte
	pos []int32
	it  norm.Iter
}

type normStep interface {
	// apply appends the result of normalizing src to dst[:0].
	apply(dst, src []nchar, sc *stepScratch) []nchar
	// perChar reports whether the step maps each ASCII character on its own,
	// independently of its neighbours (so an ASCII table can replace it).
	perChar() bool
}

// cleanStep is BertNormalizer's clean_text: drop NUL, U+FFFD and control
// characters, map whitespace to a space.
type cleanStep struct{}

func (cleanStep) perChar() bool { return true }
func (cleanStep) apply(dst, src []nchar, _ *stepScratch) []nchar {
	dst = dst[:0]
	for _, c := range src {
		if c.r == 0 || c.r == utf8.RuneError || cleanRemoveTable.has(c.r) {
			continue
		}
		if isSpace(c.r) {
			c.r = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// chineseStep is BertNormalizer's handle_chinese_chars: a space either side
// of each CJK ideograph.
type chineseStep struct{}

func (chineseStep) perChar() bool { return true }
func (chineseStep) apply(dst, src []nchar, _ *stepScratch) []nchar {
	dst = dst[:0]
	for _, c := range src {
		if isChineseChar(c.r) {
			dst = append(dst, nchar{' ', c.s, c.e}, c, nchar{' ', c.s, c.e})
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// filterStep drops the characters in a table (nonspacing marks).
type filterStep struct{ table rangeTable }

func (filterStep) perChar() bool { return true }
func (f filterStep) apply(dst, src []nchar, _ *stepScratch) []nchar {
	dst = dst[:0]
	for _, c := range src {
		if c.r >= 0x300 && f.table.has(c.r) {
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// lowerStep is the Lowercase normalizer (char::to_lowercase, which can give
// more than one character).
type lowerStep struct{}

func (lowerStep) perChar() bool { return true }
func (lowerStep) apply(dst, src []nchar, _ *stepScratch) []nchar {
	dst = dst[:0]
	for _, c := range src {
		r, multi := lowerOf(c.r)
		if r >= 0 {
			c.r = r
			dst = append(dst, c)
			continue
		}
		for _, m := range multi {
			dst = append(dst, nchar{m, c.s, c.e})
		}
	}
	return dst
}

// formStep applies a Unicode normalization form. Characters in inert are
// ones the reference's (older) Unicode data does not know; they are left
// as they are and cut the text into independently normalized runs.
type formStep struct {
	form  norm.Form
	inert rangeTable
}

func (formStep) perChar() bool { return true } // ASCII is stable in every form

func (f formStep) apply(dst, src []nchar, sc *stepScratch) []nchar {
	dst = dst[:0]
	start := 0
	for i, c := range src {
		if c.r >= 0x80 && f.inert.has(c.r) {
			dst = f.run(dst, src[start:i], sc)
			dst = append(dst, c)
			start = i + 1
		}
	}
	return f.run(dst, src[start:], sc)
}

// run normalizes one run of characters the reference's data all knows. An
// output character takes the alignment of the input character at the same
// place in its normalization segment (the last one when the segment shrank).
func (f formStep) run(dst, run []nchar, sc *stepScratch) []nchar {
	{
		ascii := true
		for _, c := range run {
			if c.r >= 0x80 {
				ascii = false
				break
			}
		}
		if ascii {
			return append(dst, run...)
		}
		buf, pos := sc.buf[:0], sc.pos[:0] // pos: byte offset in buf → index in run
		for i, c := range run {
			n := len(buf)
			buf = utf8.AppendRune(buf, c.r)
			for ; n < len(buf); n++ {
				pos = append(pos, int32(i))
			}
		}
		pos = append(pos, int32(len(run)))
		it := &sc.it
		it.Init(f.form, buf)
		for !it.Done() {
			in0 := pos[it.Pos()]
			seg := it.Next()
			in1 := pos[it.Pos()]
			k := int32(0)
			for len(seg) > 0 {
				r, n := utf8.DecodeRune(seg)
				seg = seg[n:]
				j := in0 + k
				if j >= in1 {
					j = in1 - 1
				}
				if j < in0 {
					j = in0
				}
				a := run[j]
				dst = append(dst, nchar{r, a.s, a.e})
				k++
			}
		}
		sc.buf, sc.pos = buf, pos
	}
	return dst
}

// replaceStep is the Replace normalizer with a literal pattern.
type replaceStep struct{ pattern, content []rune }

func (replaceStep) perChar() bool { return false }
func (p replaceStep) apply(dst, src []nchar, _ *stepScratch) []nchar {
	dst = dst[:0]
	n := len(p.pattern)
	for i := 0; i < len(src); {
		if n > 0 && i+n <= len(src) && matchRunes(src[i:i+n], p.pattern) {
			s, e := src[i].s, src[i+n-1].e
			for _, r := range p.content {
				dst = append(dst, nchar{r, s, e})
			}
			i += n
			continue
		}
		dst = append(dst, src[i])
		i++
	}
	return dst
}

func matchRunes(cs []nchar, p []rune) bool {
	for i, r := range p {
		if cs[i].r != r {
			return false
		}
	}
	return true
}

// stripStep is the Strip normalizer: whitespace trimmed on either side.
type stripStep struct{ left, right bool }

func (stripStep) perChar() bool { return false }
func (p stripStep) apply(dst, src []nchar, _ *stepScratch) []nchar {
	i, j := 0, len(src)
	if p.left {
		for i < j && isSpace(src[i].r) {
			i++
		}
	}
	if p.right {
		for j > i && isSpace(src[j-1].r) {
			j--
		}
	}
	return append(dst[:0], src[i:j]...)
}

// prependStep is the Prepend normalizer: a string before non-empty text.
type prependStep struct{ prepend []rune }

func (prependStep) perChar() bool { return false }
func (p prependStep) apply(dst, src []nchar, _ *stepScratch) []nchar {
	dst = dst[:0]
	if len(src) == 0 {
		return dst
	}
	for _, r := range p.prepend {
		dst = append(dst, nchar{r, src[0].s, src[0].e})
	}
	return append(dst, src...)
}

// normalizer is the flattened list of steps plus, when every step is
// per-character on ASCII, a table for the all-ASCII fast path.
type normalizer struct {
	steps []normStep
	// ascii maps each ASCII byte to its normalized byte, or -1 when it is
	// removed; valid when asciiOK.
	ascii   [128]int16
	asciiOK bool
}

func newNormalizer(steps []normStep) *normalizer {
	n := &normalizer{steps: steps, asciiOK: true}
	for _, s := range steps {
		if !s.perChar() {
			n.asciiOK = false
		}
	}
	if !n.asciiOK {
		return n
	}
	var a, b []nchar
	var sc stepScratch
	for c := 0; c < 128; c++ {
		a = append(a[:0], nchar{rune(c), 0, 1})
		for _, s := range steps {
			b = s.apply(b, a, &sc)
			a, b = b, a
		}
		switch {
		case len(a) == 0:
			n.ascii[c] = -1
		case len(a) == 1 && a[0].r < 0x80:
			n.ascii[c] = int16(a[0].r)
		default:
			n.asciiOK = false
			return n
		}
	}
	return n
}
