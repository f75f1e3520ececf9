package loader

import (
	"fmt"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/tokenizer"
)

// HF adapts a Hugging Face tokenizer (models/tokenizer) to models.Tokenizer;
// maxLength is the model's longest sequence (models.Info.MaxLength).
func HF(tok *tokenizer.Tokenizer, maxLength int) models.Tokenizer {
	return hfTokenizer{tok: tok, max: maxLength}
}

type hfTokenizer struct {
	tok *tokenizer.Tokenizer
	max int
}

func (h hfTokenizer) CountTokens(text string) int { return h.tok.CountTokens(text) }
func (h hfTokenizer) MaxLength() int              { return h.max }

func (h hfTokenizer) NewPairEncoder(t models.Truncation) (models.PairEncoder, error) {
	tr := tokenizer.Truncation{MaxLength: t.MaxLength, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Right}
	if t.Direction == models.Left {
		tr.Direction = tokenizer.Left
	}
	if t.Off {
		tr.MaxLength = 0
	}
	if tr.MaxLength < 0 {
		return nil, fmt.Errorf("truncation max length %d is negative", tr.MaxLength)
	}
	return &hfEncoder{be: h.tok.WithTruncation(tr).NewBatchEncoder()}, nil
}

type hfEncoder struct {
	be   tokenizer.BatchEncoder
	seqs []models.Sequence
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
