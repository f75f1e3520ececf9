package tokenizer

import (
	"encoding/json"
	"strconv"
)

// parseUnigramVocab reads a Unigram vocabulary, [["piece", score], ...],
// with a direct scan (a 250k-entry vocabulary decodes ten times faster
// than through encoding/json values); an irregular input (escapes aside,
// which go through encoding/json) reports ok false and the caller decodes
// it the generic way, with its errors.
func parseUnigramVocab(b []byte) (pieces []string, scores []float64, ok bool) {
	i := 0
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
			i++
		}
	}
	expect := func(c byte) bool {
		ws()
		if i < len(b) && b[i] == c {
			i++
			return true
		}
		return false
	}
	if !expect('[') {
		return nil, nil, false
	}
	if expect(']') {
		return nil, nil, true
	}
	for {
		if !expect('[') || !expect('"') {
			return nil, nil, false
		}
		start, esc := i, false
		for i < len(b) && b[i] != '"' {
			if b[i] == '\\' {
				esc = true
				i++
			}
			i++
		}
		if i >= len(b) {
			return nil, nil, false
		}
		var piece string
		if esc {
			if err := json.Unmarshal(b[start-1:i+1], &piece); err != nil {
				return nil, nil, false
			}
		} else {
			piece = string(b[start:i])
		}
		i++
		if !expect(',') {
			return nil, nil, false
		}
		ws()
		start = i
		for i < len(b) && (b[i] == '-' || b[i] == '+' || b[i] == '.' || b[i] == 'e' || b[i] == 'E' || b[i] >= '0' && b[i] <= '9') {
			i++
		}
		score, err := strconv.ParseFloat(string(b[start:i]), 64)
		if err != nil || !expect(']') {
			return nil, nil, false
		}
		pieces = append(pieces, piece)
		scores = append(scores, score)
		if expect(']') {
			ws()
			return pieces, scores, i == len(b)
		}
		if !expect(',') {
			return nil, nil, false
		}
	}
}
