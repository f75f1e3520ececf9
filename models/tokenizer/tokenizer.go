// Package tokenizer is a pure-Go implementation of the Hugging Face
// tokenizers library for the files cross-encoders ship with: it loads a
// tokenizer.json and encodes single texts and (query, passage) pairs
// token-for-token as the Rust library does.
//
// Supported components: normalizers BertNormalizer, Sequence, NFC, NFD,
// NFKC, NFKD, Lowercase, StripAccents, Replace (literal pattern), Strip,
// Prepend; pre-tokenizers BertPreTokenizer, Whitespace, WhitespaceSplit,
// Punctuation, Digits, Sequence; the WordPiece model; post-processors
// BertProcessing and TemplateProcessing; truncation longest_first,
// only_first and only_second, right or left; added tokens (single_word,
// lstrip, rstrip, normalized). Anything else makes Load fail with an error
// naming the component and its place in the JSON. The file's padding and
// decoder are ignored (encodings are unpadded; models.Batch pads), and so
// is truncation's stride (no overflowing encodings are produced). As in the
// reference, added tokens get their ids from the model's vocabulary, or the
// next ids after it, whatever ids the file lists.
//
// Character data (whitespace, punctuation, control characters, case,
// normalization forms) is generated from the reference library itself, so
// results agree for every Unicode scalar value (see testdata/gen).
//
// Invalid UTF-8: each byte that does not start a valid UTF-8 sequence is
// read as U+FFFD, exactly as a Go range loop decodes it; offsets still
// index the input's bytes.
//
// Offsets are byte offsets into the text the sequence came from ([0, 0]
// for special tokens); the reference reports the same ranges in characters.
package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Strategy chooses which sequence truncation shortens.
type Strategy int

const (
	// LongestFirst removes tokens from the longer sequence first.
	LongestFirst Strategy = iota
	// OnlyFirst truncates only the first sequence (the query).
	OnlyFirst
	// OnlySecond truncates only the second sequence (the passage).
	OnlySecond
)

// String returns the strategy's name as the CLI and tokenizer.json spell it.
func (s Strategy) String() string {
	switch s {
	case LongestFirst:
		return "longest_first"
	case OnlyFirst:
		return "only_first"
	case OnlySecond:
		return "only_second"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// ParseStrategy parses "longest_first", "only_first" or "only_second".
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "longest_first", "LongestFirst":
		return LongestFirst, nil
	case "only_first", "OnlyFirst":
		return OnlyFirst, nil
	case "only_second", "OnlySecond":
		return OnlySecond, nil
	}
	return 0, fmt.Errorf("tokenizer: unknown truncation strategy %q (want longest_first, only_first or only_second)", s)
}

// Direction is the side truncation cuts from.
type Direction int

const (
	// Right keeps the start of a sequence.
	Right Direction = iota
	// Left keeps the end of a sequence.
	Left
)

// String returns "right" or "left".
func (d Direction) String() string {
	if d == Left {
		return "left"
	}
	return "right"
}

// ParseDirection parses "right" or "left".
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "right", "Right":
		return Right, nil
	case "left", "Left":
		return Left, nil
	}
	return 0, fmt.Errorf("tokenizer: unknown truncation direction %q (want right or left)", s)
}

// Truncation limits an encoding's length, special tokens included. A zero
// MaxLength means no truncation.
type Truncation struct {
	MaxLength int
	Strategy  Strategy
	Direction Direction
}

// Encoding is one encoded sequence or pair.
type Encoding struct {
	IDs, TypeIDs, AttentionMask []int64
	// Offsets are byte ranges into the text each token came from; special
	// tokens have [0, 0].
	Offsets [][2]int
}

// Len returns the number of tokens.
func (e Encoding) Len() int { return len(e.IDs) }

// Errors the truncation reports, as the reference does.
var (
	ErrSequenceTooShort = errors.New("tokenizer: truncation: the sequence to truncate is too short to respect the maximum length")
	ErrNoSecondSequence = errors.New("tokenizer: truncation: only_second needs a second sequence")
)

// Tokenizer encodes texts. It is immutable and safe for concurrent use.
type Tokenizer struct {
	norm  *normalizer // nil: no normalizer
	pre   []preStep
	wp    *wordPiece
	added *addedVocab
	post  *template // nil: none
	trunc Truncation
	pool  *sync.Pool // of *scratch
	// fusedBert: the pre-tokenizer is BertPreTokenizer alone, so words go
	// straight from one scan to the model (bertWords).
	fusedBert bool
	// chunkable: the normalizer works character by character and keeps
	// ASCII whitespace whitespace, the pre-tokenizers split at whitespace,
	// and no added token holds whitespace, so a text can be tokenized in
	// chunks cut at whitespace (encodeSeq).
	chunkable bool
}

// Load reads a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", path, err)
	}
	return t, nil
}

// FromBytes parses the contents of a tokenizer.json file.
func FromBytes(b []byte) (*Tokenizer, error) {
	t, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

func parse(b []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := jsonUnmarshal(b, &f); err != nil {
		return nil, err
	}
	t := &Tokenizer{pool: &sync.Pool{New: func() any { return new(scratch) }}}
	if !isNull(f.Normalizer) {
		steps, err := parseNormalizer(f.Normalizer, "normalizer", nil)
		if err != nil {
			return nil, err
		}
		t.norm = newNormalizer(steps)
	}
	if !isNull(f.PreTokenizer) {
		steps, err := parsePreTokenizer(f.PreTokenizer, "pre_tokenizer", nil)
		if err != nil {
			return nil, err
		}
		t.pre = steps
		if len(steps) == 1 {
			_, t.fusedBert = steps[0].(bertPre)
		}
	}
	var err error
	if t.wp, err = parseModel(f.Model); err != nil {
		return nil, err
	}
	if t.post, err = parsePostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	if t.trunc, err = parseTruncation(f.Truncation); err != nil {
		return nil, err
	}
	if t.added, err = parseAdded(f.AddedTokens, t.norm, t.wp); err != nil {
		return nil, err
	}
	t.chunkable = t.canChunk(f.AddedTokens)
	return t, nil
}

// WithTruncation returns a copy of t that truncates with tr instead of the
// file's own setting; a zero tr.MaxLength turns truncation off.
func (t *Tokenizer) WithTruncation(tr Truncation) *Tokenizer {
	c := *t
	c.trunc = tr
	return &c
}

// Truncation returns the effective truncation setting.
func (t *Tokenizer) Truncation() Truncation { return t.trunc }

// VocabSize returns the number of entries in the model's vocabulary.
func (t *Tokenizer) VocabSize() int { return t.wp.size }

// SpecialTokens returns how many special tokens the post-processor adds to
// a single sequence (pair false) or a pair (pair true).
func (t *Tokenizer) SpecialTokens(pair bool) int {
	if t.post == nil {
		return 0
	}
	if pair {
		return t.post.nPair
	}
	return t.post.nSingle
}

// Encode encodes one text with special tokens, truncated as configured.
func (t *Tokenizer) Encode(text string) (Encoding, error) {
	s := t.pool.Get().(*scratch)
	defer t.pool.Put(s)
	if err := t.encodeSeq(s, text, &s.a, t.keep(), false); err != nil {
		return Encoding{}, err
	}
	var out Encoding
	if err := t.assemble(&s.a, nil, &out, false); err != nil {
		return Encoding{}, err
	}
	return out, nil
}

// EncodePair encodes a (query, passage) pair: [CLS] query [SEP] passage
// [SEP] for BERT, with type IDs 0 for the first part and 1 for the second.
func (t *Tokenizer) EncodePair(query, passage string) (Encoding, error) {
	s := t.pool.Get().(*scratch)
	defer t.pool.Put(s)
	keep := t.keep()
	if err := t.encodeSeq(s, query, &s.a, keep, true); err != nil {
		return Encoding{}, err
	}
	if err := t.encodeSeq(s, passage, &s.b, keep, s.a.total >= keep); err != nil {
		return Encoding{}, err
	}
	var out Encoding
	if err := t.assemble(&s.a, &s.b, &out, false); err != nil {
		return Encoding{}, err
	}
	return out, nil
}

// CountTokens returns the number of tokens text encodes to without special
// tokens and without truncation (0 when it cannot be encoded at all, which
// only a vocabulary without its unk token causes). Its memory is bounded
// whatever the text's size (see encodeSeq).
func (t *Tokenizer) CountTokens(text string) int {
	s := t.pool.Get().(*scratch)
	defer t.pool.Put(s)
	if err := t.encodeSeq(s, text, &s.a, 0, true); err != nil {
		return 0
	}
	return s.a.total
}

// keep is how many tokens of one sequence truncation can keep (-1: all).
func (t *Tokenizer) keep() int {
	if t.trunc.MaxLength > 0 {
		return t.trunc.MaxLength
	}
	return -1
}

// token is one token of a sequence: its id and byte offsets into the
// sequence's text.
type token struct {
	id, s, e int32
}

// seqEnc is one sequence's tokens before post-processing: toks are all of
// them, or when encodeSeq bounded the work, the first (direction right) or
// last (left) ones truncation can keep; total is how many the whole text
// has (at least len(toks)+1 when encodeSeq stopped early).
type seqEnc struct {
	toks  []token
	total int
}

func (e *seqEnc) push(id, s, end int32) {
	e.toks = append(e.toks, token{id, s, end})
}

// scratch holds the buffers one encoding call reuses.
type scratch struct {
	n1, n2      []nchar
	nb          []byte
	as, ae      []int32
	sp1, sp2    []span
	rawM, normM []addedMatch
	step        stepScratch
	a, b        seqEnc
}

// Bounds of encodeSeq's chunks (see there).
const (
	minChunkBytes = 16 << 10 // a chunk is at least this long,
	chunkPerToken = 16       // or this many bytes per token kept,
	maxChunkScan  = 64 << 10 // and ends at whitespace found within this many more bytes
)

// encodeSeq tokenizes text (no specials, no truncation) into enc, keeping
// at most keep tokens (keep < 0: all) in bounded memory. A long text is
// tokenized chunk by chunk, each ending where a run of ASCII whitespace
// starts (a word boundary for every chunkable tokenizer, so the tokens are
// exactly those of the whole text), and only the tokens truncation can keep
// are held: with direction right, the first keep, and the work stops once
// more than keep are found unless exact asks for the whole count (the
// truncation rule needs it when both sequences are long); with direction
// left, the last keep, counting all. The only text whose tokens can differ
// from tokenizing it whole is one with a run of more than 64 KiB without
// ASCII whitespace, which is cut at a character boundary there.
func (t *Tokenizer) encodeSeq(s *scratch, text string, enc *seqEnc, keep int, exact bool) error {
	enc.toks, enc.total = enc.toks[:0], 0
	chunk := max(minChunkBytes, keep*chunkPerToken)
	if keep < 0 || !t.chunkable || len(text) <= chunk {
		err := t.encodeRange(s, text, 0, len(text), enc)
		enc.total = len(enc.toks)
		return err
	}
	left := t.trunc.Direction == Left
	dropped := 0
	for c := 0; c < len(text); {
		e := cutAt(text, c, chunk)
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
		case !left && n > keep && !exact:
			enc.total = n
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

// cutAt is the end of the chunk of text starting at c: where the run of
// ASCII whitespace at or after c+chunk starts, else (no whitespace within
// maxChunkScan) a character boundary.
func cutAt(text string, c, chunk int) int {
	target := c + chunk
	if target >= len(text) {
		return len(text)
	}
	lim := min(len(text), target+maxChunkScan)
	for w := target; w < lim; w++ {
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
	}
	if lim == len(text) {
		return lim
	}
	e := lim
	for e > target && !utf8.RuneStart(text[e]) {
		e--
	}
	return e
}

// encodeRange appends the tokens of text[from:to] to enc (offsets into
// text).
func (t *Tokenizer) encodeRange(s *scratch, text string, from, to int, enc *seqEnc) error {
	s.rawM = t.added.raw.find(text[from:to], s.rawM[:0])
	last := from
	for _, m := range s.rawM {
		ms, me := from+int(m.s), from+int(m.e)
		if ms > last {
			if err := t.encodePiece(s, text, last, ms, enc); err != nil {
				return err
			}
		}
		enc.push(m.id, int32(ms), int32(me))
		last = me
	}
	if last < to {
		return t.encodePiece(s, text, last, to, enc)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// encodePiece normalizes, pre-tokenizes and tokenizes text[ps:pe], a piece
// between raw added tokens.
func (t *Tokenizer) encodePiece(s *scratch, text string, ps, pe int, enc *seqEnc) error {
	s.nb, s.as, s.ae = s.nb[:0], s.as[:0], s.ae[:0]
	if t.norm != nil && !t.norm.asciiOK {
		t.normalizeGeneral(s, text, ps, pe)
	} else {
		// ASCII runs go through the per-byte table. A chunk boundary may
		// sit before any ASCII character: it is a starter no normalization
		// form composes with what precedes it. The ASCII character before
		// non-ASCII text goes with it (it may compose with a mark).
		for i := ps; i < pe; {
			j := i
			for j < pe && text[j] < 0x80 {
				j++
			}
			if j == pe {
				t.normalizeASCII(s, text, i, j)
				break
			}
			k := j
			if k > i {
				k--
			}
			t.normalizeASCII(s, text, i, k)
			m := j + 1
			for m < pe && text[m] >= 0x80 {
				m++
			}
			t.normalizeGeneral(s, text, k, m)
			i = m
		}
	}
	nb, as, ae := s.nb, s.as, s.ae
	if !t.added.normalized.any {
		return t.tokenizeRange(s, 0, int32(len(nb)), enc)
	}
	s.normM = t.added.normalized.find(string(nb), s.normM[:0])
	last := int32(0)
	for _, m := range s.normM {
		if m.s > last {
			if err := t.tokenizeRange(s, last, m.s, enc); err != nil {
				return err
			}
		}
		if m.e > m.s {
			enc.push(m.id, as[m.s], ae[m.e-1])
		}
		last = m.e
	}
	if last < int32(len(nb)) {
		return t.tokenizeRange(s, last, int32(len(nb)), enc)
	}
	return nil
}

// normalizeASCII appends text[from:to], all ASCII, normalized by the table.
func (t *Tokenizer) normalizeASCII(s *scratch, text string, from, to int) {
	if from >= to {
		return
	}
	n := len(s.nb)
	need := n + to - from
	s.nb = slices.Grow(s.nb, need-n)
	s.as = slices.Grow(s.as, need-len(s.as))
	s.ae = slices.Grow(s.ae, need-len(s.ae))
	nb, as, ae := s.nb[:need], s.as[:need], s.ae[:need]
	if t.norm == nil {
		copy(nb[n:], text[from:to])
		for i := from; i < to; i++ {
			as[n], ae[n] = int32(i), int32(i+1)
			n++
		}
	} else {
		tab := &t.norm.ascii
		for i := from; i < to; i++ {
			m := tab[text[i]]
			if m < 0 {
				continue
			}
			nb[n], as[n], ae[n] = byte(m), int32(i), int32(i+1)
			n++
		}
	}
	s.nb, s.as, s.ae = nb[:n], as[:n], ae[:n]
}

// normalizeGeneral appends text[from:to] normalized character by character
// through every step, invalid UTF-8 bytes read as U+FFFD.
func (t *Tokenizer) normalizeGeneral(s *scratch, text string, from, to int) {
	cs := s.n1[:0]
	for i := from; i < to; {
		r, n := utf8.DecodeRuneInString(text[i:])
		cs = append(cs, nchar{r, int32(i), int32(i + n)})
		i += n
	}
	if t.norm != nil {
		other := s.n2
		for _, st := range t.norm.steps {
			other = st.apply(other, cs, &s.step)
			cs, other = other, cs
		}
		s.n2 = other
	}
	s.n1 = cs
	nb, as, ae := s.nb, s.as, s.ae
	for _, c := range cs {
		n := len(nb)
		nb = utf8.AppendRune(nb, c.r)
		for ; n < len(nb); n++ {
			as = append(as, c.s)
			ae = append(ae, c.e)
		}
	}
	s.nb, s.as, s.ae = nb, as, ae
}

// tokenizeRange pre-tokenizes normalized bytes [from, to) and runs the model
// on each word.
func (t *Tokenizer) tokenizeRange(s *scratch, from, to int32, enc *seqEnc) error {
	if from >= to {
		return nil
	}
	if t.fusedBert {
		return t.bertWords(s, from, to, enc)
	}
	words := append(s.sp1[:0], span{from, to})
	other := s.sp2
	for _, p := range t.pre {
		other = p.split(s.nb, words, other[:0])
		words, other = other, words
	}
	s.sp1, s.sp2 = words, other
	for _, w := range words {
		if w[1] > w[0] {
			if err := t.wp.tokenize(s.nb, w[0], w[1], s.as, s.ae, enc); err != nil {
				return err
			}
		}
	}
	return nil
}

// bertWords is BertPreTokenizer followed by WordPiece in one scan: words
// end at whitespace (dropped) and punctuation (a word of its own), and
// each word's hash is computed as it is scanned.
func (t *Tokenizer) bertWords(s *scratch, from, to int32, enc *seqEnc) error {
	b, as, ae, wp := s.nb, s.as, s.ae, t.wp
	w, h := int32(-1), fnvOffset
	for i := from; i < to; {
		c := b[i]
		var n int32 = 1
		var cls uint8
		if c < 0x80 {
			cls = asciiClass[c] & (clsSpace | clsPunct)
		} else {
			var r rune
			r, n = decode(b, i)
			if isSpace(r) {
				cls = clsSpace
			} else if isPunct(r) {
				cls = clsPunct
			}
		}
		if cls == 0 {
			if w < 0 {
				w, h = i, fnvOffset
			}
			for k := i; k < i+n; k++ {
				h = (h ^ uint32(b[k])) * fnvPrime
			}
			i += n
			continue
		}
		if w >= 0 {
			if err := wp.tokenizeHashed(b, w, i, h, as, ae, enc); err != nil {
				return err
			}
			w = -1
		}
		if cls == clsPunct {
			ph := fnvOffset
			for k := i; k < i+n; k++ {
				ph = (ph ^ uint32(b[k])) * fnvPrime
			}
			if err := wp.tokenizeHashed(b, i, i+n, ph, as, ae, enc); err != nil {
				return err
			}
		}
		i += n
	}
	if w >= 0 {
		return wp.tokenizeHashed(b, w, to, h, as, ae, enc)
	}
	return nil
}

// normalizeString runs the normalizer on s (used for added tokens' patterns).
func (n *normalizer) normalizeString(s string) []byte {
	var cs, other []nchar
	for i, r := range s {
		cs = append(cs, nchar{r, int32(i), int32(i + utf8.RuneLen(r))})
	}
	var sc stepScratch
	for _, st := range n.steps {
		other = st.apply(other, cs, &sc)
		cs, other = other, cs
	}
	var b []byte
	for _, c := range cs {
		b = utf8.AppendRune(b, c.r)
	}
	return b
}

// canChunk says whether texts can be tokenized in chunks cut at ASCII
// whitespace with the same result (see Tokenizer.chunkable).
func (t *Tokenizer) canChunk(added []addedJSON) bool {
	if t.norm != nil {
		for _, st := range t.norm.steps {
			if !st.perChar() {
				return false
			}
		}
		if !t.norm.asciiOK {
			return false
		}
		for _, c := range []byte{' ', '\t', '\n', '\r'} {
			if m := t.norm.ascii[c]; m < 0 || !isASCIISpace(byte(m)) {
				return false
			}
		}
	}
	if len(t.pre) == 0 {
		return false
	}
	for _, p := range t.pre {
		switch p.(type) {
		case bertPre, whitespacePre:
		default:
			return false
		}
	}
	for _, a := range added {
		if strings.ContainsAny(a.Content, " \t\n\r") {
			return false
		}
	}
	return true
}
