//go:build wasip1

// Command snippet is the Go SDK's example crossrank plugin. The same plugin
// exists for every SDK (examples/plugins/{go,c,assemblyscript}) and behaves
// the same:
//
//   - passage: every <...> tag becomes a space, runs of ASCII white space
//     become one space, the ends are trimmed (JSON documents pass through);
//   - truncate: keeps the leading words that fit the token budget, the
//     smaller of config max_tokens and the request's (0: unset; none: as is).
//
// Config: {"max_tokens": N} (optional). Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o snippet.wasm ./examples/plugins/go
package main

import (
	"encoding/json"
	"fmt"

	"github.com/crossrank/crossrank/sdk/go/crossrankplugin"
)

var maxTokens int

func main() {}

func init() {
	crossrankplugin.Register(crossrankplugin.Plugin{
		Configure: func(raw []byte) error {
			var c struct {
				MaxTokens int `json:"max_tokens"`
			}
			if err := json.Unmarshal(raw, &c); err != nil || c.MaxTokens < 0 {
				return fmt.Errorf("snippet: max_tokens must be a non-negative integer")
			}
			maxTokens = c.MaxTokens
			return nil
		},
		Passage:  passage,
		Truncate: truncate,
	})
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func passage(dst, _ []byte, doc crossrankplugin.Doc) ([]byte, error) {
	inTag, space, wrote := false, false, false
	for _, c := range doc.Data {
		switch {
		case inTag:
			inTag = c != '>'
			continue
		case c == '<':
			inTag, space = true, true
			continue
		case isSpace(c):
			space = true
			continue
		}
		if space && wrote {
			dst = append(dst, ' ')
		}
		space, wrote = false, true
		dst = append(dst, c)
	}
	return dst, nil
}

func truncate(dst, _, p []byte, reqMax int) ([]byte, error) {
	budget := maxTokens
	if reqMax > 0 && (budget == 0 || reqMax < budget) {
		budget = reqMax
	}
	if budget == 0 {
		return append(dst, p...), nil
	}
	words := crossrankplugin.WordTokens(p, budget)
	sum, k := 0, 0
	for k < len(words) && sum+int(words[k].Tokens) <= budget {
		sum += int(words[k].Tokens)
		k++
	}
	if k == 0 {
		return dst, nil
	}
	return append(dst, p[words[0].Start:words[k-1].End]...), nil
}
