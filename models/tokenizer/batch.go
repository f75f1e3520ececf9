package tokenizer

import (
	"fmt"
	"math"
)

// BatchEncoder encodes many (query, passage) pairs with reused buffers: in
// steady state it allocates nothing per pair. It is not safe for concurrent
// use; make one per goroutine with Tokenizer.NewBatchEncoder.
type BatchEncoder interface {
	// EncodePairs encodes (query, passages[i]) for each i, truncated as the
	// tokenizer is configured. The encodings share buffers that stay valid
	// until the next call; copy what must outlive it. An error names the
	// first pair that could not be encoded.
	EncodePairs(query string, passages []string) ([]Encoding, error)
	// Encode encodes one text; the result is valid until the next call.
	Encode(text string) (Encoding, error)
}

// NewBatchEncoder returns a BatchEncoder for t.
func (t *Tokenizer) NewBatchEncoder() BatchEncoder {
	return &batchEncoder{t: t}
}

type batchEncoder struct {
	t    *Tokenizer
	s    scratch
	buf  encBuf
	lens []int
	encs []Encoding
}

func (be *batchEncoder) EncodePairs(query string, passages []string) ([]Encoding, error) {
	t, s := be.t, &be.s
	keep := t.keep()
	if err := t.encodeSeq(s, query, &s.a, keep, math.MaxInt); err != nil {
		return nil, fmt.Errorf("tokenizer: query: %w", err)
	}
	be.buf.ids, be.buf.types, be.buf.mask, be.buf.offs = be.buf.ids[:0], be.buf.types[:0], be.buf.mask[:0], be.buf.offs[:0]
	be.lens = be.lens[:0]
	for i, p := range passages {
		if err := t.encodeSeq(s, p, &s.b, keep, passageNeed(keep, s.a.total)); err != nil {
			return nil, fmt.Errorf("tokenizer: pair %d: %w", i, err)
		}
		n := len(be.buf.ids)
		if err := t.build(&s.a, &s.b, &be.buf); err != nil {
			return nil, fmt.Errorf("tokenizer: pair %d: %w", i, err)
		}
		be.lens = append(be.lens, len(be.buf.ids)-n)
	}
	return be.carve(), nil
}

func (be *batchEncoder) Encode(text string) (Encoding, error) {
	t, s := be.t, &be.s
	if err := t.encodeSeq(s, text, &s.a, t.keep(), -1); err != nil {
		return Encoding{}, err
	}
	be.buf.ids, be.buf.types, be.buf.mask, be.buf.offs = be.buf.ids[:0], be.buf.types[:0], be.buf.mask[:0], be.buf.offs[:0]
	if err := t.build(&s.a, nil, &be.buf); err != nil {
		return Encoding{}, err
	}
	be.lens = append(be.lens[:0], len(be.buf.ids))
	return be.carve()[0], nil
}

// carve slices the shared buffers into one Encoding per recorded length.
func (be *batchEncoder) carve() []Encoding {
	be.encs = be.encs[:0]
	off := 0
	for _, n := range be.lens {
		e := off + n
		be.encs = append(be.encs, Encoding{
			IDs:           be.buf.ids[off:e:e],
			TypeIDs:       be.buf.types[off:e:e],
			AttentionMask: be.buf.mask[off:e:e],
			Offsets:       be.buf.offs[off:e:e],
		})
		off = e
	}
	return be.encs
}
