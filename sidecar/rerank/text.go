package rerank

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// DefaultRankFields is the field list used for object documents when a
// request names none.
var defaultRankFields = []string{"text"}

// DocumentText turns one document into passage text without a pipeline: a
// JSON string is used as it is; for a JSON object, the values of fields
// (dotted paths into nested objects; default ["text"]) are joined with ". ".
// String values are used as they are, numbers and booleans as written,
// arrays element by element; missing fields and nulls are skipped.
func DocumentText(doc json.RawMessage, fields []string) (string, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return "", fmt.Errorf("empty document")
	}
	switch doc[0] {
	case '"':
		var s string
		if err := json.Unmarshal(doc, &s); err != nil {
			return "", fmt.Errorf("document string: %w", err)
		}
		return s, nil
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(doc, &obj); err != nil {
			return "", fmt.Errorf("document object: %w", err)
		}
		if len(fields) == 0 {
			fields = defaultRankFields
		}
		var parts []string
		for _, f := range fields {
			v, ok := lookup(obj, f)
			if !ok {
				continue
			}
			parts = appendValue(parts, v)
		}
		return strings.Join(parts, ". "), nil
	default:
		return "", fmt.Errorf("must be a string or an object")
	}
}

func lookup(obj map[string]json.RawMessage, path string) (json.RawMessage, bool) {
	if v, ok := obj[path]; ok {
		return v, true
	}
	head, tail, ok := strings.Cut(path, ".")
	if !ok {
		return nil, false
	}
	v, found := obj[head]
	if !found {
		return nil, false
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(v, &inner) != nil {
		return nil, false
	}
	return lookup(inner, tail)
}

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
		// null and nested objects carry no text of their own.
	default:
		parts = append(parts, string(v))
	}
	return parts
}

func docError(i int, err error) *Error {
	return Errorf(http.StatusUnprocessableEntity, TypeInvalid, "documents[%d]: %v", i, err)
}
