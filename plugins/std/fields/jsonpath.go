//go:build wasip1

package main

import (
	"bytes"
	"errors"
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

// stringEnd returns the index after the string starting at b[i] == '"' and
// whether it holds escapes. bytes.IndexByte is assembly in Go's wasm port,
// several times faster than a byte loop.
func stringEnd(b []byte, i int) (int, bool, error) {
	esc := false
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, false, errJSON
		}
		q := j + k
		// The quote is escaped if an odd number of backslashes precede it.
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if !esc && bytes.IndexByte(b[j:q], '\\') >= 0 {
			esc = true
		}
		if n%2 == 0 {
			return q + 1, esc, nil
		}
		j = q + 1
	}
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	i = skipWS(b, i)
	if i >= len(b) {
		return 0, errJSON
	}
	switch b[i] {
	case '"':
		j, _, err := stringEnd(b, i)
		return j, err
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, _, err := stringEnd(b, j)
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
func keyEquals(b []byte, i, end int, esc bool, key string, scratch *[]byte) bool {
	if !esc {
		return string(b[i+1:end-1]) == key
	}
	*scratch = unescape((*scratch)[:0], b[i+1:end-1])
	return string(*scratch) == key
}

// unescape appends the decoded contents of a JSON string body to dst.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
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
			dst = utf8.AppendRune(dst, r)
		default: // " \ /
			dst = append(dst, s[i])
		}
	}
	return dst
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
			end, esc, err := stringEnd(b, i)
			if err != nil {
				return 0, err
			}
			match := keyEquals(b, i, end, esc, path[0], scratch)
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
		_, esc, _ := stringEnd(b, i)
		emit.emit(b[i+1:j-1], esc)
	case string(b[i:j]) == "null":
	default: // numbers and booleans as written
		emit.emit(b[i:j], false)
	}
	return j, nil
}

// emitter appends the values visit finds, joined by sep.
type emitter struct {
	dst   []byte
	sep   string
	first bool
}

func (e *emitter) emit(v []byte, esc bool) {
	if !e.first {
		e.dst = append(e.dst, e.sep...)
	}
	e.first = false
	if esc {
		e.dst = unescape(e.dst, v)
	} else {
		e.dst = append(e.dst, v...)
	}
}
