package rawjson

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseObject(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		names []string // members' names, in order
		keys  []string // members' keys as written
		vals  []string // members' values as written
		err   string   // substring of the error; "" for none
	}{
		{name: "empty", in: `{}`},
		{name: "order kept", in: `{"b":1,"a":2,"c":3}`, names: []string{"b", "a", "c"}, keys: []string{`"b"`, `"a"`, `"c"`}, vals: []string{"1", "2", "3"}},
		{name: "value bytes kept", in: `{"n":1.50,"s":"\u00e9","o":{"y":[1, 2],"x":null}}`, names: []string{"n", "s", "o"}, keys: []string{`"n"`, `"s"`, `"o"`}, vals: []string{"1.50", `"\u00e9"`, `{"y":[1, 2],"x":null}`}},
		{name: "whitespace", in: " \n{ \"a\" :\t1 ,\r\n \"b\": [ ] } \n", names: []string{"a", "b"}, keys: []string{`"a"`, `"b"`}, vals: []string{"1", "[ ]"}},
		{name: "escaped key", in: `{"\u0061\"b":true}`, names: []string{`a"b`}, keys: []string{`"\u0061\"b"`}, vals: []string{"true"}},
		{name: "duplicate keys kept", in: `{"a":1,"a":2}`, names: []string{"a", "a"}, keys: []string{`"a"`, `"a"`}, vals: []string{"1", "2"}},
		{name: "empty input", in: ``, err: "not JSON"},
		{name: "not JSON", in: `{nope`, err: "bad key"},
		{name: "array", in: `[1]`, err: "must be an object"},
		{name: "string", in: `"x"`, err: "must be an object"},
		{name: "number", in: `12`, err: "must be an object"},
		{name: "bad value", in: `{"a":}`, err: `member "a"`},
		{name: "unterminated", in: `{"a":1`, err: "unterminated object"},
		{name: "second object", in: `{"a":1}{}`, err: "data after the object"},
		{name: "trailing value", in: `{"a":1} 2`, err: "data after the object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseObject([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseObject(%q) error = %v, want one containing %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseObject(%q): %v", tt.in, err)
			}
			if len(o) != len(tt.names) {
				t.Fatalf("ParseObject(%q) has %d members, want %d", tt.in, len(o), len(tt.names))
			}
			for i, m := range o {
				if m.Name != tt.names[i] || string(m.Key) != tt.keys[i] || string(m.Val) != tt.vals[i] {
					t.Errorf("member %d = %q %s %s, want %q %s %s", i, m.Name, m.Key, m.Val, tt.names[i], tt.keys[i], tt.vals[i])
				}
			}
		})
	}
}

func TestAppendTo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "empty", in: `{}`, want: `{}`},
		{name: "compact kept", in: `{"b":1,"a":{"k":"é \u00e9"}}`, want: `{"b":1,"a":{"k":"é \u00e9"}}`},
		{name: "space between members dropped", in: ` { "a" : 1 , "b" : [1, 2] } `, want: `{"a":1,"b":[1, 2]}`},
		{name: "escaped key kept", in: `{"\u0061":1}`, want: `{"\u0061":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseObject([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(o.AppendTo([]byte("x"))); got != "x"+tt.want {
				t.Errorf("AppendTo = %s, want x%s", got, tt.want)
			}
		})
	}
}

func TestEdit(t *testing.T) {
	in := `{"\u0061":1,"b":2,"c":3}`
	tests := []struct {
		name string
		edit func(Object) Object
		want string
	}{
		{name: "none", edit: func(o Object) Object { return o }, want: `{"\u0061":1,"b":2,"c":3}`},
		{name: "set existing keeps key and place", edit: func(o Object) Object { return o.Set("a", json.RawMessage(`"x"`)) }, want: `{"\u0061":"x","b":2,"c":3}`},
		{name: "set new appends", edit: func(o Object) Object { return o.Set("d\"", json.RawMessage(`4`)) }, want: `{"\u0061":1,"b":2,"c":3,"d\"":4}`},
		{name: "set chained", edit: func(o Object) Object { return o.Set("b", json.RawMessage(`0`)).Set("e", json.RawMessage(`5`)) }, want: `{"\u0061":1,"b":0,"c":3,"e":5}`},
		{name: "remove first", edit: func(o Object) Object { return o.Remove("a") }, want: `{"b":2,"c":3}`},
		{name: "remove middle", edit: func(o Object) Object { return o.Remove("b") }, want: `{"\u0061":1,"c":3}`},
		{name: "remove last", edit: func(o Object) Object { return o.Remove("c") }, want: `{"\u0061":1,"b":2}`},
		{name: "remove missing", edit: func(o Object) Object { return o.Remove("z") }, want: `{"\u0061":1,"b":2,"c":3}`},
		{name: "remove all", edit: func(o Object) Object { return o.Remove("a").Remove("b").Remove("c") }, want: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseObject([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(tt.edit(o).AppendTo(nil)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRemoveLeavesOriginal(t *testing.T) {
	o, err := ParseObject([]byte(`{"a":1,"b":2,"c":3}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = o.Remove("a").Set("d", json.RawMessage(`4`))
	if got := string(o.AppendTo(nil)); got != `{"a":1,"b":2,"c":3}` {
		t.Errorf("original changed to %s", got)
	}
}

func TestIndexGet(t *testing.T) {
	o, err := ParseObject([]byte(`{"a":1,"b":null,"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		index int
		val   string
		ok    bool
	}{
		{name: "a", index: 0, val: "1", ok: true}, // the first of duplicates
		{name: "b", index: 1, val: "null", ok: true},
		{name: "z", index: -1},
	}
	for _, tt := range tests {
		if got := o.Index(tt.name); got != tt.index {
			t.Errorf("Index(%q) = %d, want %d", tt.name, got, tt.index)
		}
		val, ok := o.Get(tt.name)
		if string(val) != tt.val || ok != tt.ok {
			t.Errorf("Get(%q) = %s, %v; want %s, %v", tt.name, val, ok, tt.val, tt.ok)
		}
	}
}

// FuzzParseObject: ParseObject never panics, and for any object it accepts,
// writing it back gives JSON that decodes to the same value.
func FuzzParseObject(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":[1,2]},"d":"x"}`))
	f.Add([]byte(` { "k" : "v" , "\u00e9" : null } `))
	f.Add([]byte(`{"a":1}{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseObject(b)
		if err != nil {
			return
		}
		out := o.AppendTo(nil)
		var want, got any
		if json.Unmarshal(b, &want) != nil {
			return // encoding/json is stricter on some inputs (e.g. invalid UTF-8)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q rewritten as invalid JSON %q: %v", b, out, err)
		}
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("%q rewritten as %q: %v != %v", b, out, want, got)
		}
	})
}

func ExampleObject() {
	o, _ := ParseObject([]byte(`{"query": {"match": {"title": "go"}}, "size": 10, "ext": {}}`))
	o = o.Set("size", json.RawMessage("50")).Remove("ext")
	fmt.Println(string(o.AppendTo(nil)))
	// Output: {"query":{"match": {"title": "go"}},"size":50}
}
