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
	// midText: the text starts inside a longer one (a chunk encodeSeq cut
	// at a space), so Strip keeps its leading whitespace.
	midText bool
	buf     []byte
	out     []byte
	it      norm.Iter
	tags    []int32
	rb      [utf8.UTFMax]byte
	changes []change
	ranges  [][2]int
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

// run normalizes one run of characters the reference's data all knows.
// The text is Go's (golang.org/x/text/unicode/norm); alignments follow the
// reference's rule (see align), or, should that not add up, position.
func (f formStep) run(dst, run []nchar, sc *stepScratch) []nchar {
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
	buf := sc.buf[:0]
	for _, c := range run {
		buf = utf8.AppendRune(buf, c.r)
	}
	out := sc.out[:0]
	it := &sc.it // an Iter kept in the scratch: Form.Append allocates
	it.Init(f.form, buf)
	for !it.Done() {
		out = append(out, it.Next()...)
	}
	sc.buf, sc.out = buf, out
	start := len(dst)
	for len(out) > 0 {
		r, n := utf8.DecodeRune(out)
		out = out[n:]
		dst = append(dst, nchar{r, -1, -1})
	}
	if !f.align(dst[start:], run, sc) {
		for k := range dst[start:] {
			a := run[min(k, len(run)-1)]
			dst[start+k].s, dst[start+k].e = a.s, a.e
		}
	}
	return dst
}

func (f formStep) decomposition() norm.Form {
	if f.form == norm.NFKC || f.form == norm.NFKD {
		return norm.NFKD
	}
	return norm.NFD
}

// decompLen returns how many characters r decomposes into under form dec.
func decompLen(dec norm.Form, r rune, sc *stepScratch) int {
	if r >= 0xAC00 && r <= 0xD7A3 { // Hangul syllables: LV or LVT
		if (r-0xAC00)%28 == 0 {
			return 2
		}
		return 3
	}
	n := utf8.EncodeRune(sc.rb[:], r)
	d := dec.Properties(sc.rb[:n]).Decomposition()
	if d == nil {
		return 1
	}
	return utf8.RuneCount(d)
}

// align sets out's alignments from in (the run's input) the way
// the reference's alignment-tracking normalization does: the segment's
// input, each character decomposed (the pieces share its alignment), is
// consumed in order; an output character consumes as many of those
// positions as it has characters decomposed, and takes the alignment of
// the first. False when the counts do not add up.
func (f formStep) align(out, in []nchar, sc *stepScratch) bool {
	dec := f.decomposition()
	tags := sc.tags[:0]
	for j, c := range in {
		for k := decompLen(dec, c.r, sc); k > 0; k-- {
			tags = append(tags, int32(j))
		}
	}
	sc.tags = tags
	p := 0
	for i := range out {
		if p >= len(tags) {
			return false
		}
		a := in[tags[p]]
		out[i].s, out[i].e = a.s, a.e
		p += decompLen(dec, out[i].r, sc)
	}
	return p == len(tags)
}

// replaceStep is the Replace normalizer with a literal pattern.
type replaceStep struct{ pattern, content []rune }

func (replaceStep) perChar() bool { return false }
func (p replaceStep) apply(dst, src []nchar, _ *stepScratch) []nchar {
	dst = dst[:0]
	n := len(p.pattern)
	for i := 0; i < len(src); {
		if n > 0 && i+n <= len(src) && matchRunes(src[i:i+n], p.pattern) {
			// as in the reference, the replacement takes the alignment
			// of the match's last character
			s, e := src[i+n-1].s, src[i+n-1].e
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
func (p stripStep) apply(dst, src []nchar, sc *stepScratch) []nchar {
	i, j := 0, len(src)
	if p.left && !sc.midText {
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

// composes reports whether a step composes characters (NFC, NFKC).
func (n *normalizer) composes() bool {
	for _, s := range n.steps {
		if f, ok := s.(formStep); ok && (f.form == norm.NFC || f.form == norm.NFKC) {
			return true
		}
	}
	return false
}
