// Package tokenizer is a pure-Go implementation of the Hugging Face
// tokenizers library for the files cross-encoders ship with: it loads a
// tokenizer.json and encodes single texts and (query, passage) pairs
// token-for-token as the Rust library does, for the BERT (WordPiece),
// XLM-RoBERTa and DeBERTa-v3 (SentencePiece Unigram), RoBERTa and
// ModernBERT (byte-level BPE) families.
//
// Supported components: the models WordPiece, Unigram (Viterbi over the
// scores, unk_id, byte_fallback), BPE (merge ranks, byte_fallback,
// continuing_subword_prefix, end_of_word_suffix, ignore_merges, fuse_unk;
// dropout must be null) and WordLevel; normalizers BertNormalizer,
// Sequence, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Replace (string
// or regex), Strip, Prepend, Precompiled (SentencePiece charsmaps);
// pre-tokenizers BertPreTokenizer, Whitespace, WhitespaceSplit,
// Punctuation, Digits, Metaspace (every prepend_scheme, split), ByteLevel
// (add_prefix_space, use_regex with GPT-2's pattern), Split (string or
// regex, every behavior, invert), Sequence; post-processors BertProcessing,
// RobertaProcessing, TemplateProcessing, ByteLevel (trim_offsets) and a
// Sequence of them; truncation longest_first, only_first and only_second,
// right or left; added tokens (single_word, lstrip, rstrip, normalized).
// Anything else makes Load fail with an error naming the component and
// its place in the JSON. The file's padding and decoder are ignored
// (encodings are unpadded; models.Batch pads), and so is truncation's
// stride (no overflowing encodings are produced). As in the reference,
// added tokens get their ids from the model's vocabulary, or the next ids
// after it, whatever ids the file lists. Load also reads model_max_length
// from a tokenizer_config.json beside the file (ModelMaxLength).
//
// Regular expressions (Replace, Split) run on Go's regexp with \s, \d and
// \w widened to the Unicode classes of the reference's Oniguruma; patterns
// with look-around or back-references, which RE2 lacks, fail to load.
// GPT-2's split pattern, which needs a look-ahead, is implemented by hand.
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
// ByteLevel's trimming of a prefix space that shares a multi-byte
// character's alignment can leave an offset inside that character, where
// the reference's character offsets round down.
package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
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
	model model
	wp    *wordPiece // the model when it is WordPiece (the fused BERT path)
	added *addedVocab
	post  *template // nil: none
	// trims are the ByteLevel offset trimmings post-processing applies,
	// in order; lead and trail count each token's leading and trailing
	// spaces (by id, added tokens included).
	trims       []trimPass
	lead, trail []uint8
	// maxLen is tokenizer_config.json's model_max_length (0: unknown).
	maxLen int
	trunc  Truncation
	pool   *sync.Pool // of *scratch
	// fusedBert: the pre-tokenizer is BertPreTokenizer alone, so words go
	// straight from one scan to the model (bertWords).
	fusedBert bool
	// chunk is how encodeSeq may cut a long text (chunkNone, chunkWS,
	// chunkSpace; see canChunk).
	chunk chunkMode
	// unbounded turns bounded tokenization off (tests compare with it);
	// chunkBytes and windowBytes, when > 0, replace encodeSeq's chunk and
	// window sizes (tests cut often with them).
	unbounded               bool
	chunkBytes, windowBytes int
}

// Load reads a tokenizer.json file, and the model_max_length of the
// tokenizer_config.json beside it when there is one (ModelMaxLength).
func Load(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", path, err)
	}
	cfg := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	if t.maxLen, err = readModelMaxLength(cfg); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

// LoadDir reads DIR/tokenizer.json (and DIR/tokenizer_config.json), the
// layout of a Hugging Face model directory.
func LoadDir(dir string) (*Tokenizer, error) {
	return Load(filepath.Join(dir, "tokenizer.json"))
}

// maxModelLength bounds a usable model_max_length: transformers writes
// int(1e30) for "no limit".
const maxModelLength = 1 << 20

// readModelMaxLength returns model_max_length from a tokenizer_config.json:
// 0 when the file does not exist, has none, or says "no limit".
func readModelMaxLength(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var c struct {
		MaxLen *float64 `json:"model_max_length"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if c.MaxLen == nil || *c.MaxLen <= 0 || *c.MaxLen > maxModelLength || *c.MaxLen != math.Trunc(*c.MaxLen) {
		return 0, nil
	}
	return int(*c.MaxLen), nil
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
	}
	var err error
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, err
	}
	if wp, ok := t.model.(*wordPiece); ok {
		t.wp = wp
		if len(t.pre) == 1 {
			_, t.fusedBert = t.pre[0].(bertPre)
		}
	}
	if t.post, t.trims, err = parsePostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	if t.trunc, err = parseTruncation(f.Truncation); err != nil {
		return nil, err
	}
	if t.added, err = parseAdded(f.AddedTokens, t.norm, t.model); err != nil {
		return nil, err
	}
	if len(t.trims) > 0 {
		t.spaceCounts()
	}
	t.chunk = t.canChunk(f.AddedTokens)
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
func (t *Tokenizer) VocabSize() int { return t.model.vocabSize() }

// IDToToken returns the vocabulary entry (or added token) of an id.
func (t *Tokenizer) IDToToken(id int64) (string, bool) {
	if id < 0 || id > math.MaxInt32 {
		return "", false
	}
	if s, ok := t.added.byID[int32(id)]; ok {
		return s, true
	}
	return t.model.idToken(int32(id))
}

// ModelMaxLength returns tokenizer_config.json's model_max_length when the
// tokenizer was loaded from a file next to one (LoadDir, or Load of a
// tokenizer.json in such a directory), else 0.
func (t *Tokenizer) ModelMaxLength() int { return t.maxLen }

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
	if err := t.encodeSeq(s, text, &s.a, t.keep(), -1); err != nil {
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
	if err := t.encodeSeq(s, query, &s.a, keep, math.MaxInt); err != nil {
		return Encoding{}, err
	}
	if err := t.encodeSeq(s, passage, &s.b, keep, passageNeed(keep, s.a.total)); err != nil {
		return Encoding{}, err
	}
	var out Encoding
	if err := t.assemble(&s.a, &s.b, &out, false); err != nil {
		return Encoding{}, err
	}
	return out, nil
}

// encodeTracked is EncodePair (b non-nil) or Encode with each token's
// sequence recorded (tests).
func (t *Tokenizer) encodeTracked(a string, b *string) (Encoding, []int8, error) {
	s := t.pool.Get().(*scratch)
	defer t.pool.Put(s)
	keep := t.keep()
	if err := t.encodeSeq(s, a, &s.a, keep, math.MaxInt); err != nil {
		return Encoding{}, nil, err
	}
	var sb *seqEnc
	if b != nil {
		if err := t.encodeSeq(s, *b, &s.b, keep, passageNeed(keep, s.a.total)); err != nil {
			return Encoding{}, nil, err
		}
		sb = &s.b
	}
	buf := encBuf{trackSeqs: true}
	if err := t.build(&s.a, sb, &buf); err != nil {
		return Encoding{}, nil, err
	}
	return Encoding{IDs: buf.ids, TypeIDs: buf.types, AttentionMask: buf.mask, Offsets: buf.offs}, buf.seqs, nil
}

// CountTokens returns the number of tokens text encodes to without special
// tokens and without truncation (0 when it cannot be encoded at all, which
// only a vocabulary without its unk token causes). Its memory is bounded
// whatever the text's size for the tokenizers encodeSeq can chunk.
func (t *Tokenizer) CountTokens(text string) int {
	s := t.pool.Get().(*scratch)
	defer t.pool.Put(s)
	if err := t.encodeSeq(s, text, &s.a, 0, math.MaxInt); err != nil {
		return 0
	}
	return s.a.total
}

// token is one token of a sequence: its id and byte offsets into the
// sequence's text.
type token struct {
	id, s, e int32
	added    bool // an added token matched in the text
}

// seqEnc is one sequence's tokens before post-processing: toks are all of
// them, or when encodeSeq bounded the work, the first (direction right) or
// last (left) ones truncation can keep; total is how many the whole text
// has (at least len(toks)+1 when encodeSeq stopped early).
type seqEnc struct {
	toks  []token
	total int
	text  string
}

func (e *seqEnc) push(id, s, end int32) {
	e.toks = append(e.toks, token{id: id, s: s, e: end})
}

func (e *seqEnc) pushAdded(id, s, end int32) {
	e.toks = append(e.toks, token{id: id, s: s, e: end, added: true})
}

// scratch holds the buffers one encoding call reuses.
type scratch struct {
	n1, n2      []nchar
	nb          []byte
	as, ae      []int32
	sp1, sp2    []span
	rawM, normM []addedMatch
	rawEnd      int // where encodeRange's last added token ended
	step        stepScratch
	a, b        seqEnc
	// general pre-tokenization path
	w0, blTmp words
	tw        [2]words
	spTmp     []span
	// models
	wc      *wordCache
	lattice []vnode
	uniOut  []uniPiece
	uniToks []token
	syms    []bpeSym
	heap    []mergeEnt
	symBuf  []byte
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
			enc.pushAdded(m.id, as[m.s], ae[m.e-1])
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
	n := len(nb)
	need := n + 4*len(cs)
	nb = slices.Grow(nb, need-len(nb))[:need]
	as = slices.Grow(as, need-len(as))[:need]
	ae = slices.Grow(ae, need-len(ae))[:need]
	for _, c := range cs {
		if c.r < 0x80 {
			nb[n], as[n], ae[n] = byte(c.r), c.s, c.e
			n++
			continue
		}
		k := utf8.EncodeRune(nb[n:], c.r)
		for ; k > 0; k-- {
			as[n], ae[n] = c.s, c.e
			n++
		}
	}
	nb, as, ae = nb[:n], as[:n], ae[:n]
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
	cur := &s.w0
	cur.b, cur.as, cur.ae = s.nb, s.as, s.ae
	cur.sp = append(cur.sp[:0], span{from, to})
	k := 0
	for _, p := range t.pre {
		if tf, ok := p.(preTransform); ok {
			dst := &s.tw[k&1]
			k++
			dst.reset()
			tf.transform(cur, dst, s)
			cur = dst
			continue
		}
		s.spTmp = p.(preSplitter).split(cur.b, cur.sp, s.spTmp[:0])
		cur.sp, s.spTmp = s.spTmp, cur.sp
	}
	for _, w := range cur.sp {
		if w[1] > w[0] {
			if err := t.model.tokenize(s, cur.b, w[0], w[1], cur.as, cur.ae, enc); err != nil {
				return err
			}
		}
	}
	s.w0.b, s.w0.as, s.w0.ae = nil, nil, nil // those are s.nb, s.as, s.ae
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
