package rerank

import (
	"fmt"

	"github.com/crossrank/crossrank/models/tokenizer"
	"github.com/crossrank/crossrank/sidecar/batcher"
)

// HF adapts a Hugging Face tokenizer (models/tokenizer) to the engine;
// maxLength is the model's longest sequence (models.Info.MaxLength).
func HF(tok *tokenizer.Tokenizer, maxLength int) Tokenizer {
	return hfTokenizer{tok: tok, max: maxLength}
}

type hfTokenizer struct {
	tok *tokenizer.Tokenizer
	max int
}

func (h hfTokenizer) CountTokens(text string) int { return h.tok.CountTokens(text) }
func (h hfTokenizer) MaxLength() int              { return h.max }

func (h hfTokenizer) NewEncoder(t Truncation) (Encoder, error) {
	tr := tokenizer.Truncation{MaxLength: t.MaxLength, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Right}
	if t.Left {
		tr.Direction = tokenizer.Left
	}
	if t.None {
		tr.MaxLength = 0
	}
	if tr.MaxLength < 0 {
		return nil, fmt.Errorf("truncation max length %d is negative", tr.MaxLength)
	}
	return &hfEncoder{be: h.tok.WithTruncation(tr).NewBatchEncoder()}, nil
}

type hfEncoder struct {
	be   tokenizer.BatchEncoder
	seqs []batcher.Seq
}

func (e *hfEncoder) EncodePairs(query string, passages []string) ([]batcher.Seq, error) {
	encs, err := e.be.EncodePairs(query, passages)
	if err != nil {
		return nil, err
	}
	e.seqs = e.seqs[:0]
	for _, enc := range encs {
		e.seqs = append(e.seqs, batcher.Seq{IDs: enc.IDs, TypeIDs: enc.TypeIDs})
	}
	return e.seqs, nil
}
