package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
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
