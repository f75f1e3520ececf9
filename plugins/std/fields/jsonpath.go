//go:build wasip1

package main

import (
	"errors"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON scanner that extracts the values at a path without building a
// tree: encoding/json's reflection and allocations cost ~10x more per
// document inside a WASM guest. The host has already checked the document
// is valid JSON; the scanner still fails cleanly on truncated input.

var errJSON = errors.New("malformed JSON")

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := indexQuoteOrBackslash(b, j)
		if k < 0 {
			return 0, errJSON
		}
		if b[k] == '"' {
			return k + 1, nil
		}
		j = k + 2 // skip the escaped byte
	}
}

// Byte loops are slow in a Go WASM guest (bytes.IndexByte there reads 4
// bytes at a time); these scan 8 bytes per step.

const (
	quotes      = 0x2222222222222222
	backslashes = 0x5C5C5C5C5C5C5C5C
)

// indexQuoteOrBackslash returns the index of the first '"' or '\\' in b at
// or after i, or -1.
func indexQuoteOrBackslash(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := load64(b, i)
		if m := eqMask(x, quotes) | eqMask(x, backslashes); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '"' || b[i] == '\\' {
			return i
		}
	}
	return -1
}

// indexBackslash returns the index of the first '\\' in b, or -1.
func indexBackslash(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := eqMask(load64(b, i), backslashes); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '\\' {
			return i
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	i = skipWS(b, i)
	if i >= len(b) {
		return 0, errJSON
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, err := stringEnd(b, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errJSON
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	return j, nil
}

// keyEquals reports whether the JSON string b[i:end] (quotes included) is key.
func keyEquals(b []byte, i, end int, key string, scratch *[]byte) bool {
	body := b[i+1 : end-1]
	if indexBackslash(body) < 0 {
		return string(body) == key
	}
	*scratch = unescape((*scratch)[:0], body, nil)
	return string(*scratch) == key
}

// unescape appends the decoded contents of a JSON string body to dst,
// through t unless t is nil. The runs between escapes go whole.
func unescape(dst, s []byte, t *tidier) []byte {
	var buf [utf8.UTFMax]byte
	for {
		k := indexBackslash(s)
		if k < 0 || k+1 >= len(s) { // none, or a lone backslash at the end
			return add(dst, s, t)
		}
		dst = add(dst, s[:k], t)
		i := k + 1
		c := s[i]
		switch c {
		case 'n':
			c = '\n'
		case 't':
			c = '\t'
		case 'r':
			c = '\r'
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'u':
			r, n := hex4(s[i+1:])
			i += n
			if utf16.IsSurrogate(r) && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				r2, n2 := hex4(s[i+3:])
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 2 + n2
				}
			}
			dst = add(dst, buf[:utf8.EncodeRune(buf[:], r)], t)
			s = s[i+1:]
			continue
		} // default: " \ / and anything else stand for themselves
		buf[0] = c
		dst = add(dst, buf[:1], t)
		s = s[i+1:]
	}
}

// add appends b to dst, through t unless t is nil.
func add(dst, b []byte, t *tidier) []byte {
	if t == nil {
		return append(dst, b...)
	}
	return t.collapse(dst, b)
}

func hex4(s []byte) (rune, int) {
	if len(s) < 4 {
		return utf8.RuneError, len(s)
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return utf8.RuneError, 4
		}
	}
	return r, 4
}

// visit calls emit for each scalar at path under the value starting at b[i]
// (a path through an array maps over its elements) and returns the index
// after that value.
func visit(b []byte, i int, path []string, scratch *[]byte, emit *emitter) (int, error) {
	i = skipWS(b, i)
	if i >= len(b) {
		return 0, errJSON
	}
	switch b[i] {
	case '[':
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			j, err := visit(b, i, path, scratch, emit)
			if err != nil {
				return 0, err
			}
			j = skipWS(b, j)
			if j >= len(b) {
				return 0, errJSON
			}
			if b[j] == ']' {
				return j + 1, nil
			}
			if b[j] != ',' {
				return 0, errJSON
			}
			i = j + 1
		}
	case '{':
		if len(path) == 0 {
			return skipValue(b, i)
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			i = skipWS(b, i)
			if i >= len(b) || b[i] != '"' {
				return 0, errJSON
			}
			end, err := stringEnd(b, i)
			if err != nil {
				return 0, err
			}
			match := keyEquals(b, i, end, path[0], scratch)
			j := skipWS(b, end)
			if j >= len(b) || b[j] != ':' {
				return 0, errJSON
			}
			if match {
				j, err = visit(b, j+1, path[1:], scratch, emit)
			} else {
				j, err = skipValue(b, j+1)
			}
			if err != nil {
				return 0, err
			}
			j = skipWS(b, j)
			if j >= len(b) {
				return 0, errJSON
			}
			if b[j] == '}' {
				return j + 1, nil
			}
			if b[j] != ',' {
				return 0, errJSON
			}
			i = j + 1
		}
	}
	j, err := skipValue(b, i)
	if err != nil {
		return 0, err
	}
	if len(path) > 0 {
		return j, nil
	}
	switch {
	case b[i] == '"':
		emit.emit(b[i+1:j-1], true)
	case string(b[i:j]) == "null":
	default: // numbers and booleans as written
		emit.emit(b[i:j], false)
	}
	return j, nil
}

// emitter appends the values visit finds, joined by sep, through a tidier.
type emitter struct {
	dst   []byte
	sep   []byte
	first bool
	t     tidier
}

// text appends b through the tidier.
func (e *emitter) text(b []byte) { e.dst = e.t.collapse(e.dst, b) }

func (e *emitter) emit(v []byte, esc bool) {
	if !e.first {
		e.text(e.sep)
	}
	e.first = false
	if esc {
		e.dst = unescape(e.dst, v, &e.t)
	} else {
		e.text(v)
	}
}
