package jsonw

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1, "1.0"},
		{0, "0.0"},
		{-3, "-3.0"},
		{0.5, "0.5"},
		{0.9999999999999999, "0.9999999999999999"},
		{1e21, "1000000000000000000000.0"},
		{1e-7, "0.0000001"},
		{math.Copysign(0, -1), "-0.0"},
		{math.NaN(), "null"},
		{math.Inf(1), "null"},
	}
	for _, tt := range tests {
		got := string(AppendFloat(nil, tt.in))
		if got != tt.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", tt.in, got, tt.want)
		}
		if tt.want == "null" {
			continue
		}
		// Reads back as the same float and is never an integer literal.
		var back float64
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != tt.in {
			t.Errorf("%s reads back as %v (%v)", got, back, err)
		}
		if !strings.Contains(got, ".") {
			t.Errorf("%s has no fraction", got)
		}
	}
}

func TestAppendFloat32(t *testing.T) {
	for _, f := range []float32{0.1, 1, -2.5, 3.4028235e38, 1e-8} {
		got := string(AppendFloat32(nil, f))
		var back float32
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != f || !strings.Contains(got, ".") {
			t.Errorf("AppendFloat32(%v) = %s (back %v, %v)", f, got, back, err)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []string{"", "plain", `quote " and \ back`, "tab\tnl\ncr\r", "\x00\x01\x1f", "héllo wörld 日本 👍🏽", "\u2028\u2029", "<a href='x'>&</a>"}
	for _, s := range tests {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != s {
			t.Errorf("AppendString(%q) = %s reads back %q (%v)", s, out, back, err)
		}
	}
	// Invalid UTF-8 becomes U+FFFD.
	out := AppendString(nil, "a\xffb")
	var back string
	if err := json.Unmarshal(out, &back); err != nil || back != "a\ufffdb" {
		t.Errorf("invalid UTF-8: %s → %q (%v)", out, back, err)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("hello")
	f.Add("\x00\"\\\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q → invalid JSON %s: %v", s, out, err)
		}
		var want strings.Builder
		for _, r := range s { // one U+FFFD per invalid byte, as AppendString writes
			want.WriteRune(r)
		}
		if back != want.String() {
			t.Fatalf("%q reads back %q", s, back)
		}
	})
}

func ExampleAppendFloat() {
	fmt.Println(string(AppendFloat(nil, 1)), string(AppendFloat(nil, 0.25)))
	// Output: 1.0 0.25
}
