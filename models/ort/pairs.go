package ort

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/crossrank/crossrank/models"
)

// Pair is one (query, passage) to score.
type Pair struct {
	Query, Passage string
}

// PairEncoder turns a pair into token ids and token type ids, with special
// tokens, already truncated to the model's maximum length (for
// models/tokenizer: tok.EncodePair, returning enc.IDs and enc.TypeIDs).
// The returned slices are not kept past the next call.
type PairEncoder func(query, passage string) (ids, typeIDs []int64, err error)

// ScorePairs encodes pairs and scores them with s in batches of at most
// batchSize rows. Rows are grouped by length (so little padding is
// scored) and each batch is padded to its longest row; the logits come back
// in the order of pairs.
func ScorePairs(ctx context.Context, s models.Scorer, enc PairEncoder, pairs []Pair, batchSize int) ([]float32, error) {
	if batchSize <= 0 {
		return nil, fmt.Errorf("ort: score pairs: batch size must be > 0, got %d", batchSize)
	}
	maxLen := s.Info().MaxLength
	type row struct {
		ids, types []int64
	}
	rows := make([]row, len(pairs))
	for i, p := range pairs {
		ids, types, err := enc(p.Query, p.Passage)
		if err != nil {
			return nil, fmt.Errorf("ort: encode pair %d: %w", i, err)
		}
		if len(ids) == 0 || len(ids) != len(types) {
			return nil, fmt.Errorf("ort: encode pair %d: %d ids and %d type ids", i, len(ids), len(types))
		}
		if len(ids) > maxLen {
			return nil, fmt.Errorf("ort: encode pair %d: %d tokens exceed the model maximum %d (the encoder must truncate)", i, len(ids), maxLen)
		}
		rows[i] = row{slices.Clone(ids), slices.Clone(types)}
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(rows[a].ids), len(rows[b].ids)) })

	out := make([]float32, len(pairs))
	var b models.Batch
	for start := 0; start < len(order); start += batchSize {
		chunk := order[start:min(start+batchSize, len(order))]
		l := len(rows[chunk[len(chunk)-1]].ids) // sorted: last is longest
		b.Reset(len(chunk), l)
		for r, idx := range chunk {
			b.SetRow(r, rows[idx].ids, rows[idx].types)
		}
		logits, err := s.Score(ctx, &b)
		if err != nil {
			return nil, err
		}
		for r, idx := range chunk {
			out[idx] = logits[r]
		}
	}
	return out, nil
}
