//go:build wasip1

// Command query is the standard crossrank plugin that turns a Lucene /
// query_string query into plain words for the cross-encoder: field prefixes
// (title:), boolean operators (AND, OR, NOT, &&, ||, +), boosts (^2),
// fuzziness and proximity (~2), quotes, grouping, ranges' brackets and TO,
// wildcards and escapes are removed. Negated terms, phrases and groups (-x,
// !x, NOT x) are dropped entirely: the user asked for documents without them,
// so they must not count as relevant words. Config: none ({}).
package main

import (
	"bytes"
	"fmt"

	"github.com/crossrank/crossrank/sdk/go/crossrankplugin"
)

func main() {}

func init() {
	crossrankplugin.Register(crossrankplugin.Plugin{
		Configure: func(c []byte) error {
			if len(bytes.TrimSpace(c)) > 2 {
				return fmt.Errorf("query: takes no config, got %s", c)
			}
			return nil
		},
		Query: func(dst, q []byte) ([]byte, error) { return rewrite(dst, q), nil },
	})
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// special ends a bare term.
func special(c byte) bool {
	switch c {
	case '(', ')', '[', ']', '{', '}', '"', '^', '~', ':':
		return true
	}
	return isSpace(c)
}

// rewrite appends the plain words of the query q to dst.
func rewrite(dst, q []byte) []byte {
	start := len(dst)
	emit := func(word []byte) {
		if len(word) == 0 {
			return
		}
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		dst = append(dst, word...)
	}
	var term []byte
	negate := false
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case isSpace(c):
			i++
		case c == '&' && i+1 < len(q) && q[i+1] == '&', c == '|' && i+1 < len(q) && q[i+1] == '|':
			i += 2
		case c == '+':
			i++
		case c == '-' || c == '!':
			negate = true
			i++
		case c == '(':
			if negate {
				i = skipGroup(q, i)
				negate = false
			} else {
				i++
			}
		case c == ')' || c == '[' || c == ']' || c == '{' || c == '}' || c == ':':
			i++
		case c == '^' || c == '~':
			i = skipNumber(q, i+1)
		case c == '"':
			j := i + 1
			term = term[:0]
			for j < len(q) && q[j] != '"' {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				term = append(term, q[j])
				j++
			}
			i = j + 1
			if !negate {
				for _, w := range bytes.Fields(term) {
					emit(w)
				}
			}
			negate = false
		default:
			term = term[:0]
			j := i
			for j < len(q) && !special(q[j]) {
				if q[j] == '\\' && j+1 < len(q) {
					j++
					term = append(term, q[j])
				} else if q[j] != '*' && q[j] != '?' {
					term = append(term, q[j])
				}
				j++
			}
			i = j
			if i < len(q) && q[i] == ':' && i > 0 && q[i-1] != '\\' {
				i++ // field prefix: the value follows
				continue
			}
			switch string(term) {
			case "AND", "OR", "TO":
				continue
			case "NOT":
				negate = true
				continue
			}
			if !negate {
				emit(term)
			}
			negate = false
		}
	}
	return dst
}

// skipGroup returns the index after the parenthesised group opening at i.
func skipGroup(q []byte, i int) int {
	depth := 0
	inQuote := false
	for ; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(q)
}

// skipNumber skips an optional number (a boost or a fuzziness).
func skipNumber(q []byte, i int) int {
	for i < len(q) && (q[i] >= '0' && q[i] <= '9' || q[i] == '.') {
		i++
	}
	return i
}
