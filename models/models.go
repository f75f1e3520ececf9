// Package models holds the contracts between the tokenizer, the inference
// backends and the sidecar: a padded batch of token IDs goes in, one logit per
// pair comes out. Concrete backends live in sub-packages (models/ort), so a new
// backend can be added without touching the tokenizer or the sidecar.
package models

import "context"

// Batch is a padded, row-major batch of N sequences of length L.
// InputIDs, AttentionMask and TokenTypeIDs each hold N*L values.
type Batch struct {
	N, L          int
	InputIDs      []int64
	AttentionMask []int64
	TokenTypeIDs  []int64
}

// Reset sizes the batch for n rows of length l, reusing its buffers, and
// zeroes them (zero is the pad id, mask and type for BERT-style models).
func (b *Batch) Reset(n, l int) {
	b.N, b.L = n, l
	b.InputIDs = grow(b.InputIDs, n*l)
	b.AttentionMask = grow(b.AttentionMask, n*l)
	b.TokenTypeIDs = grow(b.TokenTypeIDs, n*l)
}

// SetRow copies one encoded sequence into row i; the rest of the row stays padding.
func (b *Batch) SetRow(i int, ids, typeIDs []int64) {
	off := i * b.L
	copy(b.InputIDs[off:off+b.L], ids)
	copy(b.TokenTypeIDs[off:off+b.L], typeIDs)
	m := b.AttentionMask[off : off+b.L]
	for j := range m {
		if j < len(ids) {
			m[j] = 1
		} else {
			m[j] = 0
		}
	}
}

func grow(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// Scorer runs a cross-encoder over a batch and returns one logit per row
// (the configured label of the classifier output). Implementations must be
// safe for concurrent use.
type Scorer interface {
	Score(ctx context.Context, b *Batch) ([]float32, error)
	// Info describes the loaded model.
	Info() Info
	Close() error
}

// Info describes a loaded model.
type Info struct {
	Name       string // model name as served
	Dir        string // model directory
	File       string // the .onnx file in use
	Provider   string // cpu, cuda, tensorrt, coreml
	MaxLength  int    // max sequence length (position embeddings)
	NumLabels  int
	HasTypeIDs bool
	Twin       bool // true when the folder is a crossrank shape twin (random weights)
}
