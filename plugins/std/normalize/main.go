//go:build wasip1

// Command normalize is the standard crossrank plugin that normalises the
// query and each passage: Unicode NFKC, runs of white space collapsed to one
// space, ends trimmed, and optionally lower-cased.
//
// Config: {"nfkc": true, "lowercase": false} (the defaults).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/crossrank/crossrank/sdk/go/crossrankplugin"
	"golang.org/x/text/unicode/norm"
)

type config struct {
	NFKC      *bool `json:"nfkc"`
	Lowercase bool  `json:"lowercase"`
}

type normalizer struct {
	nfkc, lower bool
	scratch     []byte
}

func main() {}

func init() {
	n := &normalizer{nfkc: true}
	crossrankplugin.Register(crossrankplugin.Plugin{
		Configure: n.configure,
		Query:     func(dst, q []byte) ([]byte, error) { return n.apply(dst, q), nil },
		Passage: func(dst, _ []byte, doc crossrankplugin.Doc) ([]byte, error) {
			return n.apply(dst, doc.Data), nil
		},
	})
}

func (n *normalizer) configure(raw []byte) error {
	var c config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("normalize: %w", err)
	}
	if c.NFKC != nil {
		n.nfkc = *c.NFKC
	}
	n.lower = c.Lowercase
	return nil
}

func (n *normalizer) apply(dst, src []byte) []byte {
	if n.nfkc && !isASCII(src) {
		n.scratch = norm.NFKC.Append(n.scratch[:0], src...)
		src = n.scratch
	}
	space, wrote := false, false
	for i := 0; i < len(src); {
		r, w := rune(src[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRune(src[i:])
		}
		i += w
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && wrote {
			dst = append(dst, ' ')
		}
		space, wrote = false, true
		if n.lower {
			r = unicode.ToLower(r)
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
