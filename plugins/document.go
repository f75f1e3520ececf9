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

// NoTextError is returned for an object document with no usable text: the
// fields looked for are named (["text"] and "any string value" for the
// default rule). The sidecar answers it with a 422 naming the document.
type NoTextError struct {
	// Fields are the fields looked for; nil for the default rule.
	Fields []string
}

func (e *NoTextError) Error() string {
	if e.Fields == nil {
		return `no text: the object has no string "text" field and no string value`
	}
	return fmt.Sprintf("no text: none of the fields %q holds a string, number or boolean", e.Fields)
}

// DocumentText is the default passage of a document (the identity
// pipeline's rule, used by every API and the _search proxy): a JSON string
// is its text; an object with a string "text" field is that field; any
// other object or array is the string values of its leaves in document order
// joined by ". "; a number or boolean is its JSON text; null is "". An
// object or array without any string value is a *NoTextError.
func DocumentText(raw json.RawMessage) (string, error) {
	return PassageText(raw, nil)
}

// PassageText is DocumentText with a field list: when fields is not empty,
// an object document's text is the values of those fields (dotted paths into
// nested objects) joined by ". " — strings as they are, numbers and booleans
// as written, arrays element by element, missing fields and nulls skipped —
// and an object where none of them gives text is a *NoTextError naming
// them. A string document is its text whatever fields says.
func PassageText(raw json.RawMessage, fields []string) (string, error) {
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
	case '{':
		if len(fields) > 0 {
			return fieldsText(raw, fields)
		}
		var t struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return "", fmt.Errorf("plugins: document: %w", err)
		}
		if t.Text != nil {
			return *t.Text, nil
		}
	case '[':
	default:
		if !json.Valid(raw) {
			return "", fmt.Errorf("plugins: document is not valid JSON")
		}
		if string(raw) == "null" {
			return "", nil
		}
		return string(raw), nil
	}
	s, err := joinLeaves(raw)
	if err == nil && s == "" {
		return "", &NoTextError{}
	}
	return s, err
}

// fieldsText joins the values of fields of an object document.
func fieldsText(raw json.RawMessage, fields []string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("plugins: document: %w", err)
	}
	var parts []string
	for _, f := range fields {
		if v, ok := lookupField(obj, f); ok {
			parts = appendValue(parts, v)
		}
	}
	if len(parts) == 0 {
		return "", &NoTextError{Fields: fields}
	}
	return strings.Join(parts, ". "), nil
}

// lookupField finds a field by name, or by a dotted path into nested
// objects (a name with dots wins over the path).
func lookupField(obj map[string]json.RawMessage, path string) (json.RawMessage, bool) {
	if v, ok := obj[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		v, found := obj[path[:i]]
		if !found {
			continue
		}
		var inner map[string]json.RawMessage
		if json.Unmarshal(v, &inner) != nil {
			continue
		}
		if r, ok := lookupField(inner, path[i+1:]); ok {
			return r, true
		}
	}
	return nil, false
}

// appendValue adds a field value's text: a string as it is, an array element
// by element, a number or boolean as written; null, "" and objects add
// nothing.
func appendValue(parts []string, v json.RawMessage) []string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return parts
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) == nil && s != "" {
			parts = append(parts, s)
		}
	case '[':
		var arr []json.RawMessage
		if json.Unmarshal(v, &arr) == nil {
			for _, e := range arr {
				parts = appendValue(parts, e)
			}
		}
	case 'n', '{':
	default:
		parts = append(parts, string(v))
	}
	return parts
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
