package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// IDTokenizer is an optional extension of Tokenizer: a tokenizer that can
// also give token IDs (host function tokenize). The plugin host checks for it
// with a type assertion.
type IDTokenizer interface {
	Tokenizer
	// TokenIDs returns the IDs of text's word pieces, without specials.
	TokenIDs(text string) []int64
}

// DocumentText is the default passage of a document: a JSON string is its
// text; an object with a string "text" field is that field; any other object
// or array is the string values of its leaves in document order joined by
// ". "; a number or boolean is its JSON text.
func DocumentText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", fmt.Errorf("plugins: empty document")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("plugins: document: %w", err)
		}
		return s, nil
	case '{', '[':
	default:
		if !json.Valid(raw) {
			return "", fmt.Errorf("plugins: document is not valid JSON")
		}
		if string(raw) == "null" {
			return "", nil
		}
		return string(raw), nil
	}
	if raw[0] == '{' {
		var t struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return "", fmt.Errorf("plugins: document: %w", err)
		}
		if t.Text != nil {
			return *t.Text, nil
		}
	}
	return joinLeaves(raw)
}

// joinLeaves returns the string leaf values of raw (skipping object keys) in
// document order joined by ". ".
func joinLeaves(raw []byte) (string, error) {
	if !json.Valid(raw) {
		return "", fmt.Errorf("plugins: document is not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	// Walk tokens keeping track of whether the next string is a key.
	type frame struct{ object, expectKey bool }
	var stack []frame
	var parts []string
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		top := len(stack) - 1
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top >= 0 && stack[top].object {
					stack[top].expectKey = true
				}
				stack = append(stack, frame{object: t == '{', expectKey: t == '{'})
			default:
				stack = stack[:top]
			}
			continue
		case string:
			if top >= 0 && stack[top].object && stack[top].expectKey {
				stack[top].expectKey = false
				continue
			}
			if s := strings.TrimSpace(t); s != "" {
				parts = append(parts, s)
			}
		}
		if top >= 0 && stack[top].object {
			stack[top].expectKey = true
		}
	}
	return strings.Join(parts, ". "), nil
}

// Identity is the Pipeline with no plugins: the query as is and each
// document's DocumentText.
type Identity struct{}

var _ Pipeline = Identity{}

// Name returns "".
func (Identity) Name() string { return "" }

// Prepare returns the query and each document's DocumentText.
func (Identity) Prepare(ctx context.Context, _ Tokenizer, in Input) (Output, error) {
	out := Output{Query: in.Query, Passages: make([]string, len(in.Documents))}
	for i, d := range in.Documents {
		if err := ctx.Err(); err != nil {
			return Output{}, err
		}
		s, err := DocumentText(d)
		if err != nil {
			return Output{}, fmt.Errorf("document %d: %w", i, err)
		}
		out.Passages[i] = s
	}
	return out, nil
}
