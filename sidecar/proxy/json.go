package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/crossrank/crossrank/sidecar/internal/rawjson"
)

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

// intMember reads an integer member as an int64; absent is (def, nil).
func intMember(o rawjson.Object, name string, def int64) (int64, error) {
	raw, ok := o.Get(name)
	if !ok || string(raw) == "null" {
		return def, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		// The engines accept numeric strings ("size": "20").
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("%s: %s is not an integer", name, raw)
		}
		if n, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, fmt.Errorf("%s: %q is not an integer", name, s)
		}
	}
	if n < 0 {
		return 0, fmt.Errorf("%s: %d is negative", name, n)
	}
	return n, nil
}
