package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// Bounded tokenization (issue 15): a passage is tokenized only as far as
// truncation can keep its tokens. See RATIONALE.md, "Bounded memory".

// chunkMode is where a long text may be cut so that tokenizing the chunks
// one after the other gives exactly the tokens of the whole text.
type chunkMode uint8

const (
	// chunkNone: no cut is exact; a text longer than fallbackBytes is
	// tokenized in one window of that size (inexact, see encodeSeq).
	chunkNone chunkMode = iota
	// chunkWS: where a run of ASCII whitespace starts (whitespace is
	// removed by the first pre-tokenizer).
	chunkWS
	// chunkSpace: before a single space between two printable ASCII
	// characters (Metaspace with split, ByteLevel with the GPT-2 regex:
	// the space starts the next word).
	chunkSpace
)

// Bounds of encodeSeq's chunks.
const (
	minChunkBytes = 16 << 10 // a chunk is at least this long,
	chunkPerToken = 16       // or this many bytes per token kept,
	maxChunkScan  = 64 << 10 // and ends at a cut found within this many more bytes
	// A text of a tokenizer that cannot be chunked is tokenized whole up
	// to max(fallbackMin, keep*fallbackPerToken) bytes.
	fallbackMin      = 256 << 10
	fallbackPerToken = 256
)

// keep is how many tokens of one sequence truncation can keep (-1: all).
func (t *Tokenizer) keep() int {
	if t.trunc.MaxLength > 0 {
		return t.trunc.MaxLength
	}
	return -1
}

// passageNeed is how many tokens of a passage encodeSeq must count after a
// query of queryTotal: more than the query's when the query alone fills the
// maximum length (truncation then asks which one is longer), else none.
func passageNeed(keep, queryTotal int) int {
	if keep >= 0 && queryTotal >= keep {
		return queryTotal
	}
	return -1
}

// encodeSeq tokenizes text (no specials, no truncation) into enc, keeping
// at most keep tokens (keep < 0: all) in bounded memory, and counting them
// until more than need are found (need < 0: until more than keep are).
//
// When the tokenizer can be chunked (t.chunk), a long text is tokenized
// chunk by chunk, each ending at a cut where every stage of the tokenizer
// has a hard boundary, so the tokens are exactly those of the whole text,
// and only the tokens truncation can keep are held: with direction right,
// the first keep, and the work stops once more than keep and need are
// found (the truncation rule only asks whether the passage is longer than
// the query, when both are long); with direction left, the last keep,
// counting all. The only chunkable text whose tokens can differ from
// tokenizing it whole is one without a cut for 64 KiB, which is cut at a
// character boundary.
//
// Otherwise a text longer than max(256 KiB, 256 bytes per kept token) is
// tokenized in windows of that size, cut where possible as chunkSpace
// would (direction right: from its start, as chunks; left: its last window
// only, whose tokens alone are counted). The tokens kept can then differ
// from the whole text's near a window's edge only.
func (t *Tokenizer) encodeSeq(s *scratch, text string, enc *seqEnc, keep, need int) error {
	enc.toks, enc.total, enc.text = enc.toks[:0], 0, text
	s.rawEnd = -1
	// A text of at most keep/8 bytes is tokenized whole: its memory is
	// bounded by keep already (a byte gives a few tokens at most), and the
	// sizes below cannot overflow for a huge keep.
	if keep < 0 || t.unbounded || len(text) <= keep/8 {
		err := t.encodeRange(s, text, 0, len(text), enc)
		enc.total = len(enc.toks)
		return err
	}
	left := t.trunc.Direction == Left
	chunk := max(minChunkBytes, keep*chunkPerToken)
	if t.chunkBytes > 0 {
		chunk = t.chunkBytes
	}
	if t.chunk == chunkNone {
		chunk = max(fallbackMin, keep*fallbackPerToken)
		if t.windowBytes > 0 {
			chunk = t.windowBytes
		}
		if left && len(text) > chunk {
			from := cutNear(text, len(text)-chunk, len(text))
			err := t.encodeRange(s, text, from, len(text), enc)
			enc.total = len(enc.toks)
			return err
		}
	}
	if len(text) <= chunk {
		err := t.encodeRange(s, text, 0, len(text), enc)
		enc.total = len(enc.toks)
		return err
	}
	dropped := 0
	for c := 0; c < len(text); {
		e := t.cutAt(text, c, chunk)
		if err := t.encodeRange(s, text, c, e, enc); err != nil {
			return err
		}
		c = e
		n := len(enc.toks)
		switch {
		case left && n > 2*keep:
			d := n - keep
			copy(enc.toks, enc.toks[d:])
			enc.toks = enc.toks[:keep]
			dropped += d
		case !left && n > keep && dropped+n > need:
			enc.total = dropped + n
			enc.toks = enc.toks[:keep]
			return nil
		case !left && n > keep:
			dropped += n - keep
			enc.toks = enc.toks[:keep]
		}
	}
	enc.total = dropped + len(enc.toks)
	return nil
}

func isASCIISpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isPrintASCII: a printable ASCII character other than the space.
func isPrintASCII(c byte) bool { return c > ' ' && c < 0x7f }

// spaceCut reports whether text[p] is a single space between two printable
// ASCII characters.
func spaceCut(text string, p int) bool {
	return p > 0 && p+1 < len(text) && text[p] == ' ' && isPrintASCII(text[p-1]) && isPrintASCII(text[p+1])
}

// cutAt is the end of the chunk of text starting at c: the first cut of
// t.chunk's kind at or after c+chunk, else (none within maxChunkScan) a
// character boundary.
func (t *Tokenizer) cutAt(text string, c, chunk int) int {
	target := c + chunk
	if target >= len(text) {
		return len(text)
	}
	lim := min(len(text), target+maxChunkScan)
	for w := target; w < lim; w++ {
		switch t.chunk {
		case chunkWS:
			if isASCIISpace(text[w]) {
				e := w
				for e > c && isASCIISpace(text[e-1]) {
					e--
				}
				if e == c {
					e = w
				}
				return e
			}
		case chunkSpace:
			if spaceCut(text, w) {
				return w
			}
		case chunkNone:
			if e := cutNear(text, target, len(text)); e > c {
				return e
			}
			return runeStartBefore(text, target, c)
		}
	}
	if lim == len(text) {
		return lim
	}
	return runeStartBefore(text, lim, target)
}

// runeStartBefore is the last character boundary at or before e (not
// before lo).
func runeStartBefore(text string, e, lo int) int {
	for e > lo && e < len(text) && !utf8.RuneStart(text[e]) {
		e--
	}
	return e
}

// cutNear is a cut near p for the chunkNone window: the last space between
// printable ASCII characters in the 4 KiB before p, else the start of the
// last ASCII whitespace run there, else the character boundary at p.
func cutNear(text string, p, n int) int {
	lo := max(1, p-4<<10)
	for w := p; w >= lo; w-- {
		if spaceCut(text, w) {
			return w
		}
	}
	for w := p; w >= lo; w-- {
		if w < n && isASCIISpace(text[w]) && !isASCIISpace(text[w-1]) {
			return w
		}
	}
	return runeStartBefore(text, p, 0)
}

// encodeRange appends the tokens of text[from:to] to enc (offsets into
// text). encodeSeq calls it on consecutive chunks.
func (t *Tokenizer) encodeRange(s *scratch, text string, from, to int, enc *seqEnc) error {
	// A chunk's first piece starts inside the text, so Strip must keep the
	// space that starts it (canChunk) — unless an added token of the
	// previous chunk ends there, making it a piece of the whole text too.
	mid := from > 0 && s.rawEnd != from
	s.rawM = t.added.raw.find(text[from:to], s.rawM[:0])
	last := from
	for _, m := range s.rawM {
		ms, me := from+int(m.s), from+int(m.e)
		if ms > last {
			s.step.midText = mid && last == from
			err := t.encodePiece(s, text, last, ms, enc)
			s.step.midText = false
			if err != nil {
				return err
			}
		}
		enc.pushAdded(m.id, int32(ms), int32(me))
		last = me
	}
	s.rawEnd = last
	if last < to {
		s.step.midText = mid && last == from
		err := t.encodePiece(s, text, last, to, enc)
		s.step.midText = false
		return err
	}
	return nil
}

// canChunk says how texts can be cut into chunks tokenized one by one with
// the same result as the whole text (see chunkMode). No added token may
// hold ASCII whitespace or strip the whitespace on its right (it would take
// the space that starts the next chunk).
//
// chunkWS: the normalizer, if any, maps each ASCII character on its own and
// keeps ASCII whitespace whitespace; the first pre-tokenizer removes
// whitespace as a split (BertPreTokenizer, Whitespace, WhitespaceSplit) and
// the others only split the words further.
//
// chunkSpace: a cut is a single space between printable ASCII characters,
// which every normalizer step keeps (per-character steps and Precompiled,
// checked on each ASCII character; a grapheme never joins a printable
// ASCII character and a space), Strip (it keeps a chunk's leading space:
// scratch.midText) and Replace of a run of two or more spaces (no such run
// touches the cut); the pre-tokenizer is Metaspace with split, after
// splitters that do not split on the space, or ByteLevel with the GPT-2
// regex alone: both start a word at the cut's space.
func (t *Tokenizer) canChunk(added []addedJSON) chunkMode {
	for _, a := range added {
		if a.RStrip || strings.ContainsAny(a.Content, " \t\n\r") {
			return chunkNone
		}
	}
	if len(t.pre) == 0 {
		return chunkNone
	}
	switch p := t.pre[0].(type) {
	case bertPre, whitespacePre:
		return t.chunkWSOK()
	case charSplit:
		if p.behavior == removed && isWhitespaceMatcher(p) {
			return t.chunkWSOK()
		}
	}
	switch p := t.pre[len(t.pre)-1].(type) {
	case metaspacePre:
		if !p.split {
			return chunkNone
		}
		for _, q := range t.pre[:len(t.pre)-1] {
			if c, ok := q.(charSplit); !ok || c.match(' ') {
				return chunkNone
			}
		}
	case byteLevelPre:
		if !p.useRegex || len(t.pre) > 1 {
			return chunkNone
		}
	default:
		return chunkNone
	}
	if t.norm != nil && !t.norm.asciiOK && !spaceSafeSteps(t.norm.steps) {
		return chunkNone
	}
	if t.norm != nil && t.norm.asciiOK {
		if t.norm.ascii[' '] != ' ' {
			return chunkNone
		}
		for c := byte('!'); c < 0x7f; c++ {
			if m := t.norm.ascii[c]; m < 0 || !isPrintASCII(byte(m)) {
				return chunkNone
			}
		}
	}
	return chunkSpace
}

// chunkWSOK is chunkWS when the normalizer and the pre-tokenizers after the
// first allow it (see canChunk).
func (t *Tokenizer) chunkWSOK() chunkMode {
	for _, p := range t.pre[1:] {
		if _, ok := p.(preSplitter); !ok {
			return chunkNone
		}
	}
	if t.norm == nil {
		return chunkWS
	}
	if !t.norm.asciiOK {
		return chunkNone
	}
	for _, c := range []byte{' ', '\t', '\n', '\r'} {
		if m := t.norm.ascii[c]; m < 0 || !isASCIISpace(byte(m)) {
			return chunkNone
		}
	}
	return chunkWS
}

// spaceSafeSteps reports whether every normalizer step keeps a chunkSpace
// cut (see canChunk).
func spaceSafeSteps(steps []normStep) bool {
	var sc stepScratch
	var dst []nchar
	for _, st := range steps {
		switch st := st.(type) {
		case stripStep:
			continue
		case regexReplaceStep:
			if st.p.run >= 2 && st.p.runCh == ' ' {
				continue
			}
			return false
		case *precompiledStep:
		default:
			if !st.perChar() {
				return false
			}
		}
		for c := byte(' '); c < 0x7f; c++ {
			dst = st.apply(dst, []nchar{{rune(c), 0, 1}}, &sc)
			if len(dst) != 1 || c == ' ' && dst[0].r != ' ' || c != ' ' && (dst[0].r >= 0x80 || !isPrintASCII(byte(dst[0].r))) {
				return false
			}
		}
	}
	return true
}

// isWhitespaceMatcher reports whether a charSplit splits on exactly the
// whitespace (WhitespaceSplit).
func isWhitespaceMatcher(p charSplit) bool {
	for _, r := range []rune{' ', '\t', '\n', '\r', '\u3000'} {
		if !p.match(r) {
			return false
		}
	}
	for _, r := range []rune{'a', '.', '1', 'é', '東'} {
		if p.match(r) {
			return false
		}
	}
	return true
}
