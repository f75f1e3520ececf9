package tokenizer

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
)

// TestGPT2Split checks the hand-written GPT-2 split (its \s+(?!\S)
// look-ahead above all) on the pieces the reference gives
// (tokenizers 0.22.2, ByteLevel(add_prefix_space=False).pre_tokenize_str).
func TestGPT2Split(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"  two  spaces  ", []string{" ", " two", " ", " spaces", "  "}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"it's they're we'll I'M 'x", []string{"it", "'s", " they", "'re", " we", "'ll", " I", "'", "M", " '", "x"}},
		{"x \t y", []string{"x", " \t", " y"}},
		{"12abc 3.5", []string{"12", "abc", " 3", ".", "5"}},
		{"  ", []string{"  "}},
		{"\u3000\u3000a", []string{"\u3000", "\u3000", "a"}},
		{"café日本 ,,!", []string{"café日本", " ,,!"}},
		{" ?", []string{" ?"}},
		{"a  \u00a0b", []string{"a", "  ", "\u00a0", "b"}},
		{"end \n", []string{"end", " \n"}},
	}
	for _, c := range cases {
		var got []string
		b := []byte(c.in)
		for i := 0; i < len(b); {
			j := gpt2Next(b, i)
			if j <= i {
				t.Fatalf("%q: no progress at %d", c.in, i)
			}
			got = append(got, c.in[i:j])
			i = j
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestModelMaxLength(t *testing.T) {
	for _, c := range []struct {
		dir  string
		want int
	}{{"xlmr", 512}, {"deberta", 384}, {"roberta", 512}, {"modernbert", 8192}, {"wordlevel", 0}} {
		dir := filepath.Join(familiesDir, c.dir)
		tok, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.ModelMaxLength(); got != c.want {
			t.Errorf("%s: ModelMaxLength %d, want %d", c.dir, got, c.want)
		}
		if tok.Truncation().MaxLength != 0 {
			t.Errorf("%s: the file's truncation (none) changed to %+v", c.dir, tok.Truncation())
		}
	}
	tok, err := FromBytes(familyConfigJSON(t, "xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.ModelMaxLength() != 0 {
		t.Errorf("FromBytes: ModelMaxLength %d, want 0", tok.ModelMaxLength())
	}
}

func TestIDToToken(t *testing.T) {
	tok, err := LoadDir(filepath.Join(familiesDir, "roberta"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := tok.Encode("Hello world <mask>")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, id := range e.IDs {
		s, ok := tok.IDToToken(id)
		if !ok {
			t.Fatalf("id %d has no token", id)
		}
		got = append(got, s)
	}
	if got[0] != "<s>" || got[len(got)-1] != "</s>" || got[len(got)-2] != "<mask>" || got[1][:2] != "Ġ" {
		t.Errorf("tokens %q", got)
	}
	if _, ok := tok.IDToToken(-1); ok {
		t.Error("IDToToken(-1) found a token")
	}
	if _, ok := tok.IDToToken(1 << 40); ok {
		t.Error("IDToToken(1<<40) found a token")
	}
}

// TestParseUnigramVocab: the direct scan agrees with encoding/json on
// regular input (escapes included) and declines anything else.
func TestParseUnigramVocab(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`[["<s>", 0.0], ["▁a", -1.5], ["\"q\\u00e9\\n", -2e-3], ["x",-10]]`, true},
		{" [ ] ", true},
		{`[["a", 0.0],]`, false},
		{`[["a", "0.0"]]`, false},
		{`[["a", 0.0]] x`, false},
		{`[["a"]]`, false},
		{`[["a", 1.0`, false},
		{`{"a": 1}`, false},
	} {
		pieces, scores, ok := parseUnigramVocab([]byte(c.in))
		if ok != c.ok {
			t.Errorf("%s: ok %v, want %v", c.in, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		var want [][2]any
		if err := json.Unmarshal([]byte(c.in), &want); err != nil {
			t.Fatal(err)
		}
		if len(want) != len(pieces) {
			t.Fatalf("%s: %d entries, want %d", c.in, len(pieces), len(want))
		}
		for i, w := range want {
			if pieces[i] != w[0].(string) || scores[i] != w[1].(float64) {
				t.Errorf("%s: entry %d = (%q, %v), want %v", c.in, i, pieces[i], scores[i], w)
			}
		}
	}
}

// TestPrecompiledQuirks: the XLM-R family's normalizer on graphemes where
// the charsmap holds a prefix of the cluster: the reference replaces the
// whole cluster (under 6 bytes) by the first prefix's string, dropping the
// rest ("ﬁ\u0301" -> "fi"); longer clusters go character by character.
// Expected strings: tokenizers 0.22.2, tokenizer.normalizer.normalize_str.
func TestPrecompiledQuirks(t *testing.T) {
	tok, err := LoadDir(filepath.Join(familiesDir, "xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{
		{"\ufb01\u0301", "fi"},
		{"\ufb01", "fi"},
		{"A\u030a", "\u00c5"},
		{"\u00bd\u0301", "1\u20442"},
		{"\uff76\u3099", "\u30ab\u3099"},
		{"\u1100\u1161", "\u1100\u1161"},
		{"e\u0301\u0301", "\u00e9"},
		{"\uff8a\uff9e", "\u30cf\u3099"},
		{"\u2460\u0301", "1"},
		{"\u00c5\u0301", "\u00c5\u0301"},
		{"\u01c6\u0301", "d\u017e"},
		{"\u337f\u0301", "\u682a\u5f0f\u4f1a\u793e"},
	} {
		if got := string(tok.norm.normalizeString(c[0])); got != c[1] {
			t.Errorf("%q: normalized to %q, want %q", c[0], got, c[1])
		}
	}
}
