package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Which sequence a template piece stands for.
const (
	seqNone = iota
	seqA
	seqB
)

// piece is one element of a post-processing template: special token ids,
// or sequence A or B, with the type ID its tokens get.
type piece struct {
	seq    int
	ids    []int64
	typeID int64
}

// template is the post-processor (BertProcessing becomes the equivalent
// template).
type template struct {
	single, pair   []piece
	hasPair        bool
	nSingle, nPair int // special tokens added
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse tokenizer.json: %w", err)
	}
	return nil
}

// keepLens applies truncation to sequences of na and nb tokens (nb < 0: no
// second sequence) and returns how many of each to keep.
func (t *Tokenizer) keepLens(na, nb int) (ka, kb int, err error) {
	ka, kb = na, nb
	tr := t.trunc
	if tr.MaxLength <= 0 {
		return ka, kb, nil
	}
	pair := nb >= 0
	added := t.SpecialTokens(pair)
	if tr.MaxLength < added {
		return 0, 0, fmt.Errorf("tokenizer: max length %d is shorter than the %d special tokens", tr.MaxLength, added)
	}
	limit := tr.MaxLength - added
	if limit == 0 {
		if pair {
			return 0, 0, nil
		}
		return 0, kb, nil
	}
	total := na + max(nb, 0)
	if total <= limit {
		return ka, kb, nil
	}
	remove := total - limit
	switch tr.Strategy {
	case LongestFirst:
		if !pair {
			return total - remove, kb, nil
		}
		n1, n2 := na, nb
		swap := n1 > n2
		if swap {
			n1, n2 = n2, n1
		}
		if n1 > limit {
			n2 = n1
		} else {
			n2 = max(n1, limit-n1)
		}
		if n1+n2 > limit {
			n1 = limit / 2
			n2 = n1 + limit%2
		}
		if swap {
			n1, n2 = n2, n1
		}
		return min(na, n1), min(nb, n2), nil
	case OnlyFirst:
		if na > remove {
			return na - remove, kb, nil
		}
		return 0, 0, ErrSequenceTooShort
	case OnlySecond:
		if !pair {
			return 0, 0, ErrNoSecondSequence
		}
		if nb > remove {
			return ka, nb - remove, nil
		}
		return 0, 0, ErrSequenceTooShort
	}
	return 0, 0, fmt.Errorf("tokenizer: unknown truncation strategy %d", tr.Strategy)
}

// encBuf collects encodings' columns.
type encBuf struct {
	ids, types, mask []int64
	offs             [][2]int
	// seqs, when trackSeqs, records each token's sequence (0: special, 1:
	// first, 2: second); tests use it.
	seqs      []int8
	trackSeqs bool
}

// build truncates a (and b, when non-nil), applies the template and appends
// the result to out.
func (t *Tokenizer) build(a, b *seqEnc, out *encBuf) error {
	nb := -1
	if b != nil {
		nb = b.total
	}
	ka, kb, err := t.keepLens(a.total, nb)
	if err != nil {
		return err
	}
	left := t.trunc.MaxLength > 0 && t.trunc.Direction == Left
	seq := func(e *seqEnc, k int, typeID int64) {
		from := 0
		if left {
			from = len(e.toks) - k
		}
		n := len(out.ids)
		out.ids = slices.Grow(out.ids, k)[:n+k]
		out.types = slices.Grow(out.types, k)[:n+k]
		out.mask = slices.Grow(out.mask, k)[:n+k]
		out.offs = slices.Grow(out.offs, k)[:n+k]
		ids, types, mask, offs := out.ids[n:], out.types[n:], out.mask[n:], out.offs[n:]
		for i, tk := range e.toks[from : from+k] {
			ids[i] = int64(tk.id)
			types[i] = typeID
			mask[i] = 1
			offs[i] = [2]int{int(tk.s), int(tk.e)}
		}
		if len(t.trims) > 0 {
			for i, tk := range e.toks[from : from+k] {
				offs[i] = t.trimOffsets(i, tk, e.text, offs[i])
			}
		}
		if out.trackSeqs {
			sq := int8(1)
			if e == b {
				sq = 2
			}
			for range k {
				out.seqs = append(out.seqs, sq)
			}
		}
	}
	if t.post == nil {
		seq(a, ka, 0)
		if b != nil {
			seq(b, kb, 1)
		}
		return nil
	}
	pieces := t.post.single
	if b != nil {
		if !t.post.hasPair {
			return fmt.Errorf("tokenizer: the post-processor's template has no pair form")
		}
		pieces = t.post.pair
	}
	for _, p := range pieces {
		switch p.seq {
		case seqA:
			seq(a, ka, p.typeID)
		case seqB:
			if b != nil {
				seq(b, kb, p.typeID)
			}
		default:
			for _, id := range p.ids {
				out.ids = append(out.ids, id)
				out.types = append(out.types, p.typeID)
				out.mask = append(out.mask, 1)
				out.offs = append(out.offs, [2]int{})
				if out.trackSeqs {
					out.seqs = append(out.seqs, 0)
				}
			}
		}
	}
	return nil
}

// assemble builds a fresh Encoding.
func (t *Tokenizer) assemble(a, b *seqEnc, out *Encoding, _ bool) error {
	var buf encBuf
	if err := t.build(a, b, &buf); err != nil {
		return err
	}
	*out = Encoding{IDs: buf.ids, TypeIDs: buf.types, AttentionMask: buf.mask, Offsets: buf.offs}
	return nil
}

// trimPass is one ByteLevel offset trimming (ByteLevel or RobertaProcessing
// with trim_offsets): offsets leave out the spaces a token starts or ends
// with, except the one add_prefix_space put before a sequence's first word.
type trimPass struct{ addPrefix bool }

// spaceCounts counts each token's leading and trailing spaces (the
// byte-level 'Ġ' or whitespace characters) for the trimmings.
func (t *Tokenizer) spaceCounts() {
	n := t.model.vocabSize()
	for id := range t.added.byID {
		n = max(n, int(id)+1)
	}
	t.lead, t.trail = make([]uint8, n), make([]uint8, n)
	for id := 0; id < n; id++ {
		s, ok := t.IDToToken(int64(id))
		if !ok {
			continue
		}
		l, r := countSpaces(s)
		t.lead[id], t.trail[id] = uint8(min(l, 255)), uint8(min(r, 255))
	}
}

// countSpaces counts the leading and trailing characters of s that are
// whitespace or the byte-level space 'Ġ'.
func countSpaces(s string) (lead, trail int) {
	isSp := func(r rune) bool { return r == byteChar[' '] || unicode.IsSpace(r) }
	rs := []rune(s)
	for lead < len(rs) && isSp(rs[lead]) {
		lead++
	}
	for trail < len(rs) && isSp(rs[len(rs)-1-trail]) {
		trail++
	}
	return lead, trail
}

// trimOffsets applies the trimmings to token i of a sequence. An added
// token's spaces are those of the text it matched (its lstrip and rstrip
// spaces included), a model token's those of its vocabulary entry.
func (t *Tokenizer) trimOffsets(i int, tk token, text string, o [2]int) [2]int {
	var lead, trail int
	if tk.added {
		lead, trail = countSpaces(text[tk.s:tk.e])
	} else if int(tk.id) < len(t.lead) {
		lead, trail = int(t.lead[tk.id]), int(t.trail[tk.id])
	}
	if lead == 0 && trail == 0 {
		return o
	}
	// the reference trims character offsets: move by characters of text
	for _, p := range t.trims {
		lead := lead
		if lead > 0 {
			if (i == 0 || o[0] == 0) && p.addPrefix && lead == 1 {
				lead = 0
			}
			pos := o[0]
			for n := lead; n > 0 && pos < len(text); n-- {
				_, sz := utf8.DecodeRuneInString(text[pos:])
				pos += sz
			}
			o[0] = min(pos, o[1])
		}
		if trail > 0 && utf8.RuneCountInString(text[:min(o[1], len(text))]) >= trail {
			pos := o[1]
			for n := trail; n > 0 && pos > 0; n-- {
				_, sz := utf8.DecodeLastRuneInString(text[:pos])
				pos -= sz
			}
			o[1] = max(pos, o[0])
		}
	}
	return o
}
