package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/models/tokenizer"
)

// runTokenize runs `crossrank tokenize ARGS...` in-process with stdin.
func runTokenize(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return runCommand(t, newTokenizeCmd, stdin, args...)
}

var bertJSON = filepath.Join("..", "..", "internal", "assets", "bert-base-uncased.json")

type tokOut struct {
	IDs     []int64  `json:"ids"`
	TypeIDs []int64  `json:"type_ids"`
	Offsets [][2]int `json:"offsets"`
	Error   string   `json:"error"`
}

func TestTokenizeArgs(t *testing.T) {
	// expected ids from the Hugging Face tokenizers library (node oracle)
	cases := []struct {
		name    string
		args    []string
		ids     []int64
		typeIDs []int64
	}{
		{"pair", []string{"capital of France?", "Paris is the capital."},
			[]int64{101, 3007, 1997, 2605, 1029, 102, 3000, 2003, 1996, 3007, 1012, 102},
			[]int64{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}},
		{"pair truncated", []string{"--max-length", "8", "capital of France?", "Paris is the capital."},
			[]int64{101, 3007, 1997, 102, 3000, 2003, 1996, 102},
			[]int64{0, 0, 0, 0, 1, 1, 1, 1}},
		{"only_second left", []string{"--max-length", "8", "--truncation", "only_second", "--direction", "left", "capital of France?", "Paris is the capital."},
			[]int64{101, 3007, 1997, 2605, 1029, 102, 1012, 102},
			[]int64{0, 0, 0, 0, 0, 0, 1, 1}},
		{"single", []string{"capital of France?"},
			[]int64{101, 3007, 1997, 2605, 1029, 102},
			[]int64{0, 0, 0, 0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runTokenize(t, "", append([]string{"--tokenizer", bertJSON}, c.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var got tokOut
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			if !slices.Equal(got.IDs, c.ids) || !slices.Equal(got.TypeIDs, c.typeIDs) {
				t.Errorf("ids %v types %v, want %v %v", got.IDs, got.TypeIDs, c.ids, c.typeIDs)
			}
			if len(got.Offsets) != len(got.IDs) {
				t.Errorf("%d offsets for %d ids", len(got.Offsets), len(got.IDs))
			}
		})
	}
}

func TestTokenizeJSONL(t *testing.T) {
	lines := []string{
		`{"text": "capital of France?", "pair": "Paris is the capital."}`,
		`not json`,
		`{"pair": "no text"}`,
		`{"text": "a", "pair": "b c d e f g h i j k"}`, // only_first cannot cut "a" enough
		`{"text": "naïve café 東京"}`,
		`{"text": "a b c d e f g h i j k l", "pair": "x"}`,
	}
	out, err := runTokenize(t, strings.Join(lines, "\n")+"\n", "--tokenizer", bertJSON, "--jsonl", "--max-length", "10", "--truncation", "only_first")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != len(lines) {
		t.Fatalf("%d output lines for %d inputs:\n%s", len(got), len(lines), out)
	}
	tok, err := tokenizer.Load(bertJSON)
	if err != nil {
		t.Fatal(err)
	}
	tok = tok.WithTruncation(tokenizer.Truncation{MaxLength: 10, Strategy: tokenizer.OnlyFirst})
	for i, l := range got {
		var o tokOut
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("line %d %q: %v", i+1, l, err)
		}
		var in struct {
			Text *string
			Pair *string
		}
		if json.Unmarshal([]byte(lines[i]), &in) != nil || in.Text == nil {
			if o.Error == "" || o.IDs != nil {
				t.Errorf("line %d: want an error line, got %q", i+1, l)
			}
			continue
		}
		var want tokenizer.Encoding
		if in.Pair != nil {
			want, err = tok.EncodePair(*in.Text, *in.Pair)
		} else {
			want, err = tok.Encode(*in.Text)
		}
		if err != nil {
			if !strings.Contains(o.Error, "too short") {
				t.Errorf("line %d: library error %v, CLI wrote %q", i+1, err, l)
			}
			continue
		}
		if !slices.Equal(o.IDs, want.IDs) || !slices.Equal(o.TypeIDs, want.TypeIDs) {
			t.Errorf("line %d: %q, want ids %v types %v", i+1, l, want.IDs, want.TypeIDs)
		}
	}
	// line 1 as the Hugging Face tokenizers library encodes it (node oracle)
	if want := `{"ids":[101,3007,1997,102,3000,2003,1996,3007,1012,102],"type_ids":[0,0,0,0,1,1,1,1,1,1]}`; got[0] != want {
		t.Errorf("line 1 = %s, want %s", got[0], want)
	}
}

func TestTokenizeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no tokenizer", []string{"x"}, "--tokenizer"},
		{"missing file", []string{"--tokenizer", "/nonexistent/tokenizer.json", "x"}, "/nonexistent/tokenizer.json"},
		{"bad strategy", []string{"--tokenizer", bertJSON, "--truncation", "middle", "x"}, "middle"},
		{"bad direction", []string{"--tokenizer", bertJSON, "--direction", "up", "x"}, "up"},
		{"no text", []string{"--tokenizer", bertJSON}, "TEXT"},
		{"negative length", []string{"--tokenizer", bertJSON, "--max-length", "-3", "x"}, "negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := runTokenize(t, "", c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// TestTokenizeFamilies: --model DIR and --tokens on the Unigram and
// byte-level BPE test tokenizers; expected ids and tokens from the Hugging
// Face tokenizers library 0.22.2 (tok.encode("Hello, World!", "café")).
func TestTokenizeFamilies(t *testing.T) {
	fam := filepath.Join("..", "..", "models", "tokenizer", "testdata", "families")
	cases := []struct {
		dir    string
		ids    []int64
		tokens []string
	}{
		{"roberta", []int64{0, 909, 16, 731, 5, 2, 2, 1056, 2}, []string{"<s>", "ĠHello", ",", "ĠWorld", "!", "</s>", "</s>", "ĠcafÃ©", "</s>"}},
		{"xlmr", []int64{0, 156, 2816, 81, 2849, 2, 2, 215, 2}, []string{"<s>", "▁Hello", ",", "▁World", "!", "</s>", "</s>", "▁café", "</s>"}},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			out, err := runTokenize(t, "", "--model", filepath.Join(fam, c.dir), "--tokens", "Hello, World!", "café")
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				tokOut
				Tokens []string `json:"tokens"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			if !slices.Equal(got.IDs, c.ids) || !slices.Equal(got.Tokens, c.tokens) {
				t.Errorf("ids %v tokens %q, want %v %q", got.IDs, got.Tokens, c.ids, c.tokens)
			}
			// JSONL carries the tokens too
			out, err = runTokenize(t, `{"text": "Hello, World!", "pair": "café"}`+"\n", "--model", filepath.Join(fam, c.dir), "--tokens", "--jsonl")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil || !slices.Equal(got.Tokens, c.tokens) {
				t.Errorf("jsonl %q (%v), want tokens %q", out, err, c.tokens)
			}
		})
	}
	if _, err := runTokenize(t, "", "--model", filepath.Join(fam, "xlmr"), "--tokenizer", bertJSON, "x"); err == nil {
		t.Error("--model with --tokenizer accepted")
	}
}
