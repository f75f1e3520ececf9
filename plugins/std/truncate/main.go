//go:build wasip1

// Command truncate is the standard crossrank plugin that cuts each passage to
// a token budget counted with the serving model's tokenizer (host function
// word_tokens), on word boundaries.
//
// Config: {"max_tokens": 256, "strategy": "head"|"tail"|"best_window"}. The
// budget is the smaller of max_tokens and the request's max_tokens_per_doc
// (either may be 0: unset); with neither, passages pass unchanged.
// best_window keeps the window of the budget holding the most query terms
// (distinct terms first, then occurrences; the earliest window on ties),
// filled up to the budget with the words that follow it (then precede it), so
// a long document is scored on its relevant part. Words are split at white
// space; a first word longer than the budget is cut to its longest prefix
// that fits.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/crossrank/crossrank/sdk/go/crossrankplugin"
)

type config struct {
	MaxTokens int    `json:"max_tokens"`
	Strategy  string `json:"strategy"`
}

type truncator struct {
	max      int
	strategy string

	// best_window state, reused between calls.
	terms    map[string]int
	termList [][]byte // the terms by id
	query    []byte   // the query terms was built from
	built    bool
	counts   []int
	keys     []int
	key      []byte
	cuts     []int
}

func main() {}

func init() {
	t := &truncator{strategy: "head", terms: map[string]int{}}
	crossrankplugin.Register(crossrankplugin.Plugin{Configure: t.configure, Truncate: t.truncate})
}

func (t *truncator) configure(raw []byte) error {
	var c config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	if c.MaxTokens < 0 {
		return fmt.Errorf("truncate: max_tokens %d is negative", c.MaxTokens)
	}
	t.max = c.MaxTokens
	switch c.Strategy {
	case "":
	case "head", "tail", "best_window":
		t.strategy = c.Strategy
	default:
		return fmt.Errorf("truncate: unknown strategy %q (want head, tail or best_window)", c.Strategy)
	}
	return nil
}

func (t *truncator) truncate(dst, query, p []byte, reqMax int) ([]byte, error) {
	budget := t.max
	if reqMax > 0 && (budget == 0 || reqMax < budget) {
		budget = reqMax
	}
	if budget == 0 {
		return append(dst, p...), nil
	}
	switch t.strategy {
	case "tail":
		words := crossrankplugin.WordTokens(p, 0)
		sum, k := 0, len(words)
		for k > 0 && sum+int(words[k-1].Tokens) <= budget {
			k--
			sum += int(words[k].Tokens)
		}
		if k == len(words) {
			return dst, nil
		}
		return append(dst, p[words[k].Start:words[len(words)-1].End]...), nil
	case "best_window":
		return t.bestWindow(dst, query, p, budget), nil
	}
	words := crossrankplugin.WordTokens(p, budget)
	sum, k := 0, 0
	for k < len(words) && sum+int(words[k].Tokens) <= budget {
		sum += int(words[k].Tokens)
		k++
	}
	if len(words) == 0 {
		return dst, nil // only white space
	}
	if k == 0 {
		return t.prefix(dst, p[words[0].Start:words[0].End], budget), nil
	}
	return append(dst, p[words[0].Start:words[k-1].End]...), nil
}

// prefix appends the longest prefix of a single word (one that alone
// exceeds the budget, such as a URL) that fits the budget, found by binary
// search over its length with count_tokens.
func (t *truncator) prefix(dst, word []byte, budget int) []byte {
	// Cut points: every rune boundary after the first rune.
	t.cuts = t.cuts[:0]
	for i := 1; i <= len(word); i++ {
		if i == len(word) || utf8.RuneStart(word[i]) {
			t.cuts = append(t.cuts, i)
		}
	}
	lo, hi, best := 0, len(t.cuts)-1, 0
	for lo <= hi {
		mid := (lo + hi) / 2
		if crossrankplugin.CountTokens(word[:t.cuts[mid]]) <= budget {
			best, lo = t.cuts[mid], mid+1
		} else {
			hi = mid - 1
		}
	}
	return append(dst, word[:best]...)
}

// stop words carry no relevance signal for picking a window.
var stop = map[string]bool{
	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true, "be": true,
	"by": true, "for": true, "from": true, "how": true, "in": true, "is": true, "it": true,
	"of": true, "on": true, "or": true, "that": true, "the": true, "this": true, "to": true,
	"was": true, "what": true, "when": true, "where": true, "which": true, "who": true,
	"why": true, "with": true, "do": true, "does": true, "did": true,
}

// normWord appends the lower-cased letters and digits of w to dst.
func normWord(dst, w []byte) []byte {
	for i := 0; i < len(w); i++ {
		v := asciiNorm[w[i]]
		if v == 0 {
			continue
		}
		if v == 0xFF {
			return normRunes(dst, w[i:])
		}
		dst = append(dst, v)
	}
	return dst
}

// asciiNorm maps an ASCII letter or digit to its lower case and other ASCII
// bytes to 0 (what unicode's functions say of them), and the bytes of
// non-ASCII characters to 0xFF.
var asciiNorm = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = 0xFF
	}
	return t
}()

// normRunes is normWord for any UTF-8.
func normRunes(dst, w []byte) []byte {
	for i := 0; i < len(w); {
		r, n := rune(w[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(w[i:])
		}
		i += n
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
	}
	return dst
}

// termID returns the id of the query term key, or -1. A few terms (the
// usual query) are compared directly, which in a WASM guest is much cheaper
// than hashing for the map.
func (t *truncator) termID(key []byte) int {
	if len(t.termList) > 8 {
		if id, ok := t.terms[string(key)]; ok {
			return id
		}
		return -1
	}
	if len(key) == 0 {
		return -1
	}
	for id, term := range t.termList { // terms are not empty
		if len(term) == len(key) && term[0] == key[0] && string(term) == string(key) {
			return id
		}
	}
	return -1
}

func (t *truncator) bestWindow(dst, query, p []byte, budget int) []byte {
	// The query is the same for every passage of a request: build its terms
	// once.
	if !t.built || !bytes.Equal(query, t.query) {
		clear(t.terms)
		t.termList = t.termList[:0]
		for _, w := range bytes.FieldsFunc(query, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			t.key = normWord(t.key[:0], w)
			if len(t.key) == 0 || stop[string(t.key)] {
				continue
			}
			if _, ok := t.terms[string(t.key)]; !ok {
				t.terms[string(t.key)] = len(t.terms)
				t.termList = append(t.termList, []byte(string(t.key)))
			}
		}
		t.query = append(t.query[:0], query...)
		t.built = true
	}
	words := crossrankplugin.WordTokens(p, 0)
	if len(words) == 0 {
		return dst
	}
	t.keys = t.keys[:0]
	total := 0
	for _, w := range words {
		total += int(w.Tokens)
		t.key = normWord(t.key[:0], p[w.Start:w.End])
		t.keys = append(t.keys, t.termID(t.key))
	}
	if total <= budget {
		return append(dst, p[words[0].Start:words[len(words)-1].End]...)
	}
	if cap(t.counts) < len(t.terms) {
		t.counts = make([]int, len(t.terms))
	}
	counts := t.counts[:len(t.terms)]
	clear(counts)
	distinct, occ, sum := 0, 0, 0
	bestL, bestR, bestD, bestO := 0, -1, -1, -1
	l := 0
	for r, w := range words {
		sum += int(w.Tokens)
		if id := t.keys[r]; id >= 0 {
			if counts[id] == 0 {
				distinct++
			}
			counts[id]++
			occ++
		}
		for sum > budget && l <= r {
			sum -= int(words[l].Tokens)
			if id := t.keys[l]; id >= 0 {
				counts[id]--
				if counts[id] == 0 {
					distinct--
				}
				occ--
			}
			l++
		}
		if l <= r && (distinct > bestD || distinct == bestD && occ > bestO) {
			bestL, bestR, bestD, bestO = l, r, distinct, occ
		}
	}
	if bestR < 0 {
		return dst
	}
	// Fill the rest of the budget: first with the words after the window,
	// then with those before it.
	sum = 0
	for i := bestL; i <= bestR; i++ {
		sum += int(words[i].Tokens)
	}
	for bestR+1 < len(words) && sum+int(words[bestR+1].Tokens) <= budget {
		bestR++
		sum += int(words[bestR].Tokens)
	}
	for bestL > 0 && sum+int(words[bestL-1].Tokens) <= budget {
		bestL--
		sum += int(words[bestL].Tokens)
	}
	return append(dst, p[words[bestL].Start:words[bestR].End]...)
}
