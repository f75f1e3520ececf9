// Package plugins defines how the sidecar asks a preprocessing pipeline to
// prepare a request. The wazero host that runs WASM plugins is in plugins/host;
// the standard plugins' sources are in plugins/std.
package plugins

import (
	"context"
	"encoding/json"
)

// Tokenizer is the serving model's tokenizer as plugins see it (host
// functions count_tokens and tokenize).
type Tokenizer interface {
	// CountTokens returns the number of word pieces in text, without specials.
	CountTokens(text string) int
}

// Input is one request to prepare.
type Input struct {
	Query     string
	Documents []json.RawMessage // each a JSON string or object
	// MaxTokensPerDoc is the request's passage token budget (0: none).
	MaxTokensPerDoc int
}

// Output is a prepared request: one passage per input document, same order.
type Output struct {
	Query    string
	Passages []string
}

// Pipeline prepares requests. Implementations are safe for concurrent use.
type Pipeline interface {
	Name() string
	Prepare(ctx context.Context, tok Tokenizer, in Input) (Output, error)
}
