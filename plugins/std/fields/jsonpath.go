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

// stringEnd returns the index after the string starting at b[i] == '"'.
// bytes.IndexByte is assembly in Go's wasm port, several times faster than
// a byte loop (and than 8-bytes-at-a-time Go code there).
func stringEnd(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, errJSON
		}
		q := j + k
		// The quote is escaped if an odd number of backslashes precede it.
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
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
	return string(keyText(b, i, end, scratch)) == key
}

// keyText returns the decoded text of the JSON string b[i:end] (quotes
// included): b's own bytes when it holds no escapes, else *scratch.
func keyText(b []byte, i, end int, scratch *[]byte) []byte {
	body := b[i+1 : end-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return body
	}
	*scratch = unescape((*scratch)[:0], body)
	return *scratch
}

// unescape appends the decoded contents of a JSON string body to dst. The
// runs between escapes are copied whole.
func unescape(dst, s []byte) []byte {
	for {
		k := bytes.IndexByte(s, '\\')
		if k < 0 || k+1 >= len(s) { // none, or a lone backslash at the end
			return append(dst, s...)
		}
		dst = append(dst, s[:k]...)
		i := k + 1
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
			if i+4 < len(s) {
				// Fast path: an ASCII character (\u003c from an encoder
				// that escapes HTML).
				a, b, c, d := unhex[s[i+1]], unhex[s[i+2]], unhex[s[i+3]], unhex[s[i+4]]
				if a|b|c|d >= 0 && a == 0 && b == 0 && c < 8 {
					dst = append(dst, byte(c)<<4|byte(d))
					s = s[i+5:]
					continue
				}
			}
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
		s = s[i+1:]
	}
}

// unhex is the value of a hex digit, -1 for other bytes.
var unhex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

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

// span is the value of a top-level field that is the first step of a
// segment's path: b[start:end], for p.segs[seg].
type span struct{ seg, start, end int }

// topLevel walks the object starting at b[i] == '{' once and appends to
// spans, in document order, the value of every key that is the first step
// of a segment's path (a key may repeat). It checks the object as visit
// would, so a document that visit rejects is rejected here or when the
// spans are visited.
func topLevel(b []byte, i int, segs []segment, scratch *[]byte, spans []span) ([]span, error) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return spans, nil
	}
	for {
		i = skipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return spans, errJSON
		}
		end, err := stringEnd(b, i)
		if err != nil {
			return spans, err
		}
		key := keyText(b, i, end, scratch)
		j := skipWS(b, end)
		if j >= len(b) || b[j] != ':' {
			return spans, errJSON
		}
		v := skipWS(b, j+1)
		if j, err = skipValue(b, v); err != nil {
			return spans, err
		}
		for si := range segs {
			if segs[si].path != nil && string(key) == segs[si].path[0] {
				spans = append(spans, span{seg: si, start: v, end: j})
			}
		}
		j = skipWS(b, j)
		if j >= len(b) {
			return spans, errJSON
		}
		if b[j] == '}' {
			return spans, nil
		}
		if b[j] != ',' {
			return spans, errJSON
		}
		i = j + 1
	}
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
