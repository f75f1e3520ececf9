// Package models holds the contracts between the tokenizer, the inference
// backends and the sidecar: a padded batch of token IDs goes in, one logit per
// pair comes out. Concrete backends live in sub-packages (models/ort), so a new
// backend can be added without touching the tokenizer or the sidecar.
package models

import (
	"context"
	"fmt"
)

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

// Sequence is one encoded (query, passage) pair: token IDs and token type
// IDs, specials included, unpadded.
type Sequence struct {
	IDs, TypeIDs []int64
}

// Direction says which end of a text truncation cuts.
type Direction uint8

const (
	// Right keeps the start of a text and cuts its end (the default).
	Right Direction = iota
	// Left keeps the end of a text and cuts its start.
	Left
)

// String returns "right" or "left".
func (d Direction) String() string {
	if d == Left {
		return "left"
	}
	return "right"
}

// ParseDirection parses "right"/"Right" or "left"/"Left" ("" is Right).
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "", "right", "Right":
		return Right, nil
	case "left", "Left":
		return Left, nil
	}
	return Right, fmt.Errorf("%q is not right or left", s)
}

// Truncation says how a pair is cut to fit the model. It is the one
// truncation type of the project: the API decodes a request's truncation
// into it, the engine sets MaxLength, the tokenizer adapter applies it.
type Truncation struct {
	// MaxLength is the most tokens per pair, specials included (0: the
	// model's maximum).
	MaxLength int
	// Direction is the end of the longer text that is cut.
	Direction Direction
	// Off turns truncation off; pairs longer than the model's maximum are
	// then an error.
	Off bool
}

// Tokenizer is a model's tokenizer as the engine sees it.
type Tokenizer interface {
	// CountTokens returns the number of word pieces in text, without specials.
	CountTokens(text string) int
	// MaxLength is the model's longest sequence, specials included.
	MaxLength() int
	// NewPairEncoder returns an encoder for one goroutine at a time.
	NewPairEncoder(t Truncation) (PairEncoder, error)
}

// PairEncoder encodes (query, passage) pairs with longest-first truncation.
type PairEncoder interface {
	// EncodePairs returns one sequence per passage; the slices stay valid
	// only until the next call.
	EncodePairs(query string, passages []string) ([]Sequence, error)
}

// Kind is what a model computes.
type Kind string

const (
	// CrossEncoder scores each (query, passage) pair jointly: Scorer gives
	// one logit per pair. The only kind served today.
	CrossEncoder Kind = "cross-encoder"
)

// Model is one loaded model as the engine serves it: a name, a backend and
// its tokenizer. Kind "" means CrossEncoder. A later kind (a bi-encoder that
// embeds query and passages apart, issue 14) adds its backend as a new field
// beside Scorer; see docs/DESIGN.md.
type Model struct {
	Name      string
	Kind      Kind
	Scorer    Scorer
	Tokenizer Tokenizer
}
