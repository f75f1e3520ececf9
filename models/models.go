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
	// Kind is what the model computes ("" is CrossEncoder).
	Kind Kind
	// Trained is false for random-weight twins and for folders whose
	// crossrank.json says so.
	Trained bool
	// Dim is a bi-encoder's embedding size (0 for a cross-encoder).
	Dim int
	// Label is the name of the classifier column a cross-encoder scores
	// (its config.json id2label entry, "" when it has none).
	Label string
	// Precision is the weights' precision of the graph in use: "int8" for
	// a dynamically quantised graph, "fp32" otherwise ("" when unknown).
	Precision string
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

// TextTokenizer is implemented by tokenizers that also encode single texts,
// as a bi-encoder needs (models/loader.HF does).
type TextTokenizer interface {
	Tokenizer
	// NewEncoder returns a single-text encoder for one goroutine at a time;
	// t.MaxLength bounds each text, specials included.
	NewEncoder(t Truncation) (TextEncoder, error)
}

// TextEncoder encodes single texts, with special tokens, truncated.
type TextEncoder interface {
	// EncodeTexts returns one sequence per text; the slices stay valid only
	// until the next call.
	EncodeTexts(texts []string) ([]Sequence, error)
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
	// one logit per pair.
	CrossEncoder Kind = "cross-encoder"
	// BiEncoder embeds the query and each passage apart (Embedder, single
	// sequences); the relevance is their cosine similarity.
	BiEncoder Kind = "bi-encoder"
)

// Embedder runs a bi-encoder over a batch of single sequences and returns
// one embedding per row. Implementations must be safe for concurrent use.
type Embedder interface {
	Embed(ctx context.Context, b *Batch) ([][]float32, error)
	// Info describes the loaded model.
	Info() Info
	Close() error
}

// Model is one loaded model as the engine serves it: a name, a backend and
// its tokenizer. Kind "" means CrossEncoder, served by Scorer; a BiEncoder
// is served by Embedder, and its Tokenizer must be a TextTokenizer.
type Model struct {
	Name      string
	Kind      Kind
	Scorer    Scorer
	Embedder  Embedder
	Tokenizer Tokenizer
}

// Info describes the model's backend, whichever kind it is.
func (m Model) Info() Info {
	var info Info
	switch {
	case m.Embedder != nil && (m.Kind == BiEncoder || m.Scorer == nil):
		info = m.Embedder.Info()
	case m.Scorer != nil:
		info = m.Scorer.Info()
	}
	if info.Kind == "" {
		info.Kind = m.Kind
	}
	if info.Kind == "" {
		info.Kind = CrossEncoder
	}
	return info
}

// Close closes the model's backend.
func (m Model) Close() error {
	if m.Embedder != nil {
		return m.Embedder.Close()
	}
	if m.Scorer != nil {
		return m.Scorer.Close()
	}
	return nil
}
