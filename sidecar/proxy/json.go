package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// object is a JSON object kept as its members in order, each value's bytes as
// written, so that a rewrite touches only the members it changes.
type object []member

type member struct {
	name string
	key  []byte // the key as written, quotes included (nil: quote name)
	val  json.RawMessage
}

func (o object) index(name string) int {
	for i, m := range o {
		if m.name == name {
			return i
		}
	}
	return -1
}

func (o object) get(name string) (json.RawMessage, bool) {
	if i := o.index(name); i >= 0 {
		return o[i].val, true
	}
	return nil, false
}

// set replaces a member's value, or appends the member.
func (o object) set(name string, val json.RawMessage) object {
	if i := o.index(name); i >= 0 {
		o[i].val = val
		return o
	}
	return append(o, member{name: name, val: val})
}

func (o object) remove(name string) object {
	if i := o.index(name); i >= 0 {
		return append(o[:i:i], o[i+1:]...)
	}
	return o
}

func (o object) appendTo(dst []byte) []byte {
	dst = append(dst, '{')
	for i, m := range o {
		if i > 0 {
			dst = append(dst, ',')
		}
		if m.key != nil {
			dst = append(dst, m.key...)
		} else {
			dst = strconv.AppendQuote(dst, m.name)
		}
		dst = append(dst, ':')
		dst = append(dst, m.val...)
	}
	return append(dst, '}')
}

// parseObject splits a JSON object into its members.
func parseObject(b []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var o object
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
		o = append(o, member{name: name, key: key, val: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("unterminated object: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("data after the JSON object")
	}
	return o, nil
}

// lookupPath follows a dotted path (object keys, array indexes) into a JSON
// value and returns the query text it names: a string, or an object's
// "query" string (so "query.match.title" finds both {"match":{"title":"q"}}
// and {"match":{"title":{"query":"q"}}}).
func lookupPath(b []byte, path string) (string, bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[seg]
			if !ok {
				return "", false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return "", false
			}
			v = x[i]
		default:
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case map[string]any:
		s, ok := x["query"].(string)
		return s, ok
	}
	return "", false
}

// intMember reads an integer member; absent is (def, nil).
func intMember(o object, name string, def int) (int, error) {
	raw, ok := o.get(name)
	if !ok || string(raw) == "null" {
		return def, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		// The engines accept numeric strings ("size": "20").
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("%s: %s is not an integer", name, raw)
		}
		if n, err = strconv.Atoi(s); err != nil {
			return 0, fmt.Errorf("%s: %q is not an integer", name, s)
		}
	}
	if n < 0 {
		return 0, fmt.Errorf("%s: %d is negative", name, n)
	}
	return n, nil
}
