package host_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
)

// idTok is wordTok that also gives IDs: each token's ID is its first rune.
type idTok struct{ wordTok }

func (idTok) TokenIDs(s string) []int64 {
	var ids []int64
	for _, f := range strings.Fields(s) {
		ids = append(ids, int64([]rune(f)[0]))
	}
	return ids
}

// TestHostFunctions calls count_tokens, word_tokens, tokenize and log from a
// Go SDK guest (plugins/host/testdata/hostfns).
func TestHostFunctions(t *testing.T) {
	var logs bytes.Buffer
	h := newHost(t, host.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	plugin := wasmPath(t, "hostfns")
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: plugin}}}, ""); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("p")
	cases := []struct {
		name string
		tok  plugins.Tokenizer
		want string
	}{
		// "ab, c d": tokens ab , c d = 4; words "ab," "c" "d" = 3; IDs 'a' 'c' 'd'.
		{"ids", idTok{}, "count=4 words=3 ids=97,99,100"},
		{"no ids", wordTok{}, "count=4 words=3 ids=none"},
		{"no tokenizer", nil, "count=-1 words=0 ids=none"},
	}
	for _, c := range cases {
		out, err := p.Prepare(context.Background(), c.tok, plugins.Input{Query: "ab, c d"})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if out.Query != c.want {
			t.Errorf("%s: %q, want %q", c.name, out.Query, c.want)
		}
	}
	if !strings.Contains(logs.String(), `level=WARN msg="query: ab, c d" plugin=`+plugin) {
		t.Errorf("guest log not found in %q", logs.String())
	}
}
