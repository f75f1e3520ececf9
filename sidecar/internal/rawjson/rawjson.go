// Package rawjson edits a JSON object without re-encoding it: an Object keeps
// its members in order, each key and value as the bytes that were written, so
// a rewrite touches only the members it changes and everything else (key
// order, spacing inside values, escapes, number formats) comes back byte for
// byte. The rerank hits API and the _search proxy use it to rewrite search
// requests and responses.
package rawjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Object is a JSON object kept as its members in order.
type Object []Member

// Member is one member of an Object.
type Member struct {
	Name string          // the decoded key
	Key  []byte          // the key as written, quotes included (nil: quote Name)
	Val  json.RawMessage // the value as written
}

// Index returns the position of the first member called name, or -1.
func (o Object) Index(name string) int {
	for i, m := range o {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// Get returns the value of the first member called name.
func (o Object) Get(name string) (json.RawMessage, bool) {
	if i := o.Index(name); i >= 0 {
		return o[i].Val, true
	}
	return nil, false
}

// Set replaces the value of the first member called name, or appends the
// member.
func (o Object) Set(name string, val json.RawMessage) Object {
	if i := o.Index(name); i >= 0 {
		o[i].Val = val
		return o
	}
	return append(o, Member{Name: name, Val: val})
}

// Remove drops the first member called name. The result has its own backing
// array, so o is left as it was.
func (o Object) Remove(name string) Object {
	if i := o.Index(name); i >= 0 {
		return append(o[:i:i], o[i+1:]...)
	}
	return o
}

// AppendTo appends the object, as JSON, to dst.
func (o Object) AppendTo(dst []byte) []byte {
	dst = append(dst, '{')
	for i, m := range o {
		if i > 0 {
			dst = append(dst, ',')
		}
		if m.Key != nil {
			dst = append(dst, m.Key...)
		} else {
			dst = strconv.AppendQuote(dst, m.Name)
		}
		dst = append(dst, ':')
		dst = append(dst, m.Val...)
	}
	return append(dst, '}')
}

// ParseObject splits a JSON object into its members, keeping each key and
// value as written. Anything but one JSON object (surrounding whitespace
// allowed) is an error.
func ParseObject(b []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("must be an object")
	}
	var o Object
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bad key: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("bad key")
		}
		key := bytes.TrimLeft(b[start:dec.InputOffset()], " \t\r\n,")
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("member %q: %w", name, err)
		}
		o = append(o, Member{Name: name, Key: key, Val: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("unterminated object: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("data after the object")
	}
	return o, nil
}
