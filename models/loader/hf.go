package loader

import (
	"fmt"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/tokenizer"
)

// HF adapts a Hugging Face tokenizer (models/tokenizer) to models.Tokenizer
// (a models.TextTokenizer: it also encodes single texts); maxLength is the
// model's longest sequence (models.Info.MaxLength).
func HF(tok *tokenizer.Tokenizer, maxLength int) models.TextTokenizer {
	return hfTokenizer{tok: tok, max: maxLength}
}

type hfTokenizer struct {
	tok *tokenizer.Tokenizer
	max int
}

func (h hfTokenizer) CountTokens(text string) int { return h.tok.CountTokens(text) }
func (h hfTokenizer) MaxLength() int              { return h.max }

func (h hfTokenizer) NewPairEncoder(t models.Truncation) (models.PairEncoder, error) {
	tr, err := truncation(t)
	if err != nil {
		return nil, err
	}
	return &hfEncoder{be: h.tok.WithTruncation(tr).NewBatchEncoder()}, nil
}

func (h hfTokenizer) NewEncoder(t models.Truncation) (models.TextEncoder, error) {
	tr, err := truncation(t)
	if err != nil {
		return nil, err
	}
	return &hfEncoder{be: h.tok.WithTruncation(tr).NewBatchEncoder()}, nil
}

func truncation(t models.Truncation) (tokenizer.Truncation, error) {
	tr := tokenizer.Truncation{MaxLength: t.MaxLength, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Right}
	if t.Direction == models.Left {
		tr.Direction = tokenizer.Left
	}
	if t.Off {
		tr.MaxLength = 0
	}
	if tr.MaxLength < 0 {
		return tr, fmt.Errorf("truncation max length %d is negative", tr.MaxLength)
	}
	return tr, nil
}

type hfEncoder struct {
	be   tokenizer.BatchEncoder
	seqs []models.Sequence
	flat []int64 // EncodeTexts' ids and type ids
}

func (e *hfEncoder) EncodePairs(query string, passages []string) ([]models.Sequence, error) {
	encs, err := e.be.EncodePairs(query, passages)
	if err != nil {
		return nil, err
	}
	e.seqs = e.seqs[:0]
	for _, enc := range encs {
		e.seqs = append(e.seqs, models.Sequence{IDs: enc.IDs, TypeIDs: enc.TypeIDs})
	}
	return e.seqs, nil
}

// EncodeTexts encodes each text alone; the sequences share one buffer owned
// by the encoder until the next call.
func (e *hfEncoder) EncodeTexts(texts []string) ([]models.Sequence, error) {
	e.seqs = e.seqs[:0]
	e.flat = e.flat[:0]
	total := 0
	for i, t := range texts {
		enc, err := e.be.Encode(t)
		if err != nil {
			return nil, fmt.Errorf("text %d: %w", i, err)
		}
		n := len(enc.IDs)
		if cap(e.flat)-total < 2*n {
			nf := make([]int64, total, 2*(total+2*n))
			copy(nf, e.flat[:total])
			// re-point the earlier sequences into the new buffer
			off := 0
			for j := range e.seqs {
				m := len(e.seqs[j].IDs)
				e.seqs[j] = models.Sequence{IDs: nf[off : off+m : off+m], TypeIDs: nf[off+m : off+2*m : off+2*m]}
				off += 2 * m
			}
			e.flat = nf
		}
		e.flat = e.flat[:total+2*n]
		ids, types := e.flat[total:total+n:total+n], e.flat[total+n:total+2*n:total+2*n]
		copy(ids, enc.IDs)
		copy(types, enc.TypeIDs)
		total += 2 * n
		e.seqs = append(e.seqs, models.Sequence{IDs: ids, TypeIDs: types})
	}
	return e.seqs, nil
}
