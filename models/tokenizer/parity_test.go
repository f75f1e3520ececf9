package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crossrank/crossrank/internal/assets"
)

// golden is one record written by testdata/gen/gen.mjs.
type golden struct {
	Cfg     string          `json:"cfg"`
	Trunc   json.RawMessage `json:"trunc"`
	Text    string          `json:"text"`
	Pair    *string         `json:"pair"`
	IDs     []int64         `json:"ids"`
	TypeIDs []int64         `json:"type_ids"`
	Offsets []int           `json:"offsets"` // character offsets, flattened
	Error   string          `json:"error"`
}

// configJSON builds the tokenizer.json of a testdata/configs entry, as the
// generator does: the base file with top-level blocks replaced.
func configJSON(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "configs", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Base       string                     `json:"base"`
		Override   map[string]json.RawMessage `json:"override"`
		ModelPatch map[string]json.RawMessage `json:"model_patch"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("config %s: %v", name, err)
	}
	var base []byte
	if c.Base == "labse" {
		if base, err = os.ReadFile(filepath.Join("testdata", "labse.json")); err != nil {
			t.Fatal(err)
		}
	} else {
		base = assets.BertBaseUncasedTokenizer()
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range c.Override {
		m[k] = v
	}
	if len(c.ModelPatch) > 0 {
		var model map[string]json.RawMessage
		if err := json.Unmarshal(m["model"], &model); err != nil {
			t.Fatal(err)
		}
		for k, v := range c.ModelPatch {
			model[k] = v
		}
		if m["model"], err = json.Marshal(model); err != nil {
			t.Fatal(err)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readGoldens reads gzipped JSONL goldens from path, a file name or a glob
// (the committed goldens are split into parts to keep each file small).
func readGoldens(t testing.TB, path string) []golden {
	t.Helper()
	parts, err := filepath.Glob(path)
	if err != nil || len(parts) == 0 {
		t.Fatalf("goldens %s: no such file (%v)", path, err)
	}
	var out []golden
	for _, p := range parts {
		out = append(out, readGoldenFile(t, p)...)
	}
	return out
}

func readGoldenFile(t testing.TB, path string) []golden {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []golden
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var g golden
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

func goldenTruncation(t testing.TB, tok *Tokenizer, raw json.RawMessage) *Tokenizer {
	t.Helper()
	s := strings.TrimSpace(string(raw))
	switch s {
	case `"file"`:
		return tok
	case "null", "":
		return tok.WithTruncation(Truncation{})
	}
	var v [3]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("truncation %s: %v", s, err)
	}
	var tr Truncation
	var strategy, direction string
	if err := json.Unmarshal(v[0], &tr.MaxLength); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(v[1], &strategy)
	json.Unmarshal(v[2], &direction)
	var err error
	if tr.Strategy, err = ParseStrategy(strategy); err != nil {
		t.Fatal(err)
	}
	if tr.Direction, err = ParseDirection(direction); err != nil {
		t.Fatal(err)
	}
	return tok.WithTruncation(tr)
}

// charOffsets converts byte offsets into text to character offsets.
func charOffsets(text string, b [2]int) [2]int {
	return [2]int{utf8.RuneCountInString(text[:b[0]]), utf8.RuneCountInString(text[:b[1]])}
}

// charIndex maps each byte offset of text (0..len) to a character offset
// as the reference's BytesToCharOffsetConverter does (before its ByteLevel
// trimming, which counts characters): a byte inside a character counts as
// that character, the text's end as the number of characters.
func charIndex(text string) []int32 {
	idx := make([]int32, len(text)+1)
	n := int32(-1)
	for i := range len(text) {
		if utf8.RuneStart(text[i]) || i == 0 {
			n++
		}
		idx[i] = n
	}
	idx[len(text)] = int32(utf8.RuneCountInString(text))
	return idx
}

// refCharOffsets converts byte offsets with a charIndex; a range outside
// the text stays as it is.
func refCharOffsets(idx []int32, b [2]int) [2]int {
	if b[0] < 0 || b[0] >= len(idx) || b[1] < 0 || b[1] >= len(idx) {
		return b
	}
	return [2]int{int(idx[b[0]]), int(idx[b[1]])}
}

type parityStats struct {
	singles, pairs, errs, offsets int
	bertSingles, bertPairs        int // bert-base-uncased as shipped
}

// checkGoldens encodes every record with the Go tokenizer and compares.
func checkGoldens(t *testing.T, recs []golden) parityStats {
	t.Helper()
	return checkGoldensWith(t, recs, func(name string) []byte { return configJSON(t, name) })
}

// checkGoldensWith is checkGoldens with the configurations' tokenizer.json
// from load.
func checkGoldensWith(t *testing.T, recs []golden, load func(string) []byte) parityStats {
	t.Helper()
	return checkGoldensOpt(t, recs, load, false)
}

// checkGoldensOpt is checkGoldensWith; with tracked, each token's text is
// known from the encoder (type ids need not tell, as with RoBERTa) and
// byte offsets become characters as the reference converts them.
func checkGoldensOpt(t *testing.T, recs []golden, load func(string) []byte, tracked bool) parityStats {
	t.Helper()
	toks := map[string]*Tokenizer{}
	var st parityStats
	fails := 0
	fail := func(g golden, format string, args ...any) {
		fails++
		if fails <= 15 {
			pair := "<none>"
			if g.Pair != nil {
				pair = fmt.Sprintf("%q", *g.Pair)
			}
			t.Errorf("cfg %s trunc %s text %q pair %s: %s", g.Cfg, g.Trunc, g.Text, pair, fmt.Sprintf(format, args...))
		}
	}
	for _, g := range recs {
		tok, ok := toks[g.Cfg]
		if !ok {
			var err error
			if tok, err = FromBytes(load(g.Cfg)); err != nil {
				t.Fatalf("config %s: %v", g.Cfg, err)
			}
			toks[g.Cfg] = tok
		}
		tok = goldenTruncation(t, tok, g.Trunc)
		var enc Encoding
		var seqs []int8
		var err error
		switch {
		case tracked:
			enc, seqs, err = tok.encodeTracked(g.Text, g.Pair)
		case g.Pair != nil:
			enc, err = tok.EncodePair(g.Text, *g.Pair)
		default:
			enc, err = tok.Encode(g.Text)
		}
		if g.Error != "" {
			if err == nil {
				fail(g, "reference failed with %q, Go encoded %v", g.Error, enc.IDs)
			}
			st.errs++
			continue
		}
		if err != nil {
			fail(g, "Go failed: %v; reference ids %v", err, g.IDs)
			continue
		}
		if !slices.Equal(enc.IDs, g.IDs) {
			fail(g, "ids\n go  %v\n ref %v", enc.IDs, g.IDs)
			continue
		}
		if !slices.Equal(enc.TypeIDs, g.TypeIDs) {
			fail(g, "type ids\n go  %v\n ref %v", enc.TypeIDs, g.TypeIDs)
			continue
		}
		if g.Offsets != nil {
			// the reference counts each sequence's offsets in its own text
			seqOf := func(i int) string {
				if tracked {
					if seqs[i] == 2 {
						return *g.Pair
					}
					return g.Text
				}
				if g.Pair != nil && enc.TypeIDs[i] == 1 {
					return *g.Pair
				}
				return g.Text
			}
			var idxA, idxB []int32
			for i, o := range enc.Offsets {
				var got [2]int
				if tracked {
					idx := &idxA
					if seqs[i] == 2 {
						idx = &idxB
					}
					if *idx == nil {
						*idx = charIndex(seqOf(i))
					}
					got = refCharOffsets(*idx, o)
				} else {
					got = charOffsets(seqOf(i), o)
				}
				want := [2]int{g.Offsets[2*i], g.Offsets[2*i+1]}
				if got != want {
					fail(g, "offsets of token %d (id %d): go %v, ref %v", i, enc.IDs[i], got, want)
					break
				}
			}
			st.offsets++
		}
		if g.Pair != nil {
			st.pairs++
		} else {
			st.singles++
		}
		if g.Cfg == "bert" {
			if g.Pair != nil {
				st.bertPairs++
			} else {
				st.bertSingles++
			}
		}
	}
	if fails > 15 {
		t.Errorf("... %d mismatches in all", fails)
	}
	return st
}

// TestParityGoldens compares with the committed goldens (always).
func TestParityGoldens(t *testing.T) {
	recs := readGoldens(t, filepath.Join("testdata", "goldens-*.jsonl.gz"))
	st := checkGoldens(t, recs)
	t.Logf("%d singles, %d pairs equal (%d with offsets; bert-base-uncased: %d singles, %d pairs); %d reference errors reproduced",
		st.singles, st.pairs, st.offsets, st.bertSingles, st.bertPairs, st.errs)
	if st.bertSingles < 3000 || st.bertPairs < 1500 {
		t.Errorf("goldens too small: bert-base-uncased %d singles, %d pairs encoded (want ≥3000, ≥1500)", st.bertSingles, st.bertPairs)
	}
}

// nodeOracle returns the node binary when the oracle package is installed.
func nodeOracle(t *testing.T) string {
	node, err := exec.LookPath("node")
	if err != nil {
		return ""
	}
	if _, err := os.Stat(filepath.Join("..", "..", "tools", "node", "node_modules", "@anush008", "tokenizers", "package.json")); err != nil {
		return ""
	}
	return node
}

// TestParityLive reruns the reference library: the committed corpus (the
// goldens must be current) and a second corpus from another seed.
func TestParityLive(t *testing.T) {
	node := nodeOracle(t)
	if node == "" {
		if os.Getenv("CROSSRANK_REQUIRE_ORACLE") != "" {
			t.Fatal("node or tools/node/node_modules/@anush008/tokenizers missing: run make setup-node")
		}
		t.Skip("node oracle not installed (make setup-node); the committed goldens were checked instead")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	for _, c := range []struct {
		seed, scale string
		allOffsets  bool
	}{{"1", "1", false}, {"7", "0.5", true}} {
		out := filepath.Join(t.TempDir(), "live.jsonl.gz")
		args := []string{filepath.Join("testdata", "gen", "gen.mjs"), "--out", out, "--seed", c.seed, "--scale", c.scale}
		if c.allOffsets {
			args = append(args, "--all-offsets")
		}
		cmd := exec.Command(node, args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("oracle: %v\n%s", err, b)
		}
		recs := readGoldens(t, out)
		if c.seed == "1" {
			committed := readGoldens(t, filepath.Join("testdata", "goldens-*.jsonl.gz"))
			if len(committed) != len(recs) {
				t.Errorf("committed goldens have %d records, the oracle now writes %d: run make tokenizer-goldens", len(committed), len(recs))
			} else {
				for i := range recs {
					a, b := committed[i], recs[i]
					if a.Cfg != b.Cfg || a.Text != b.Text || fmt.Sprint(a.IDs, a.TypeIDs, a.Offsets, a.Error) != fmt.Sprint(b.IDs, b.TypeIDs, b.Offsets, b.Error) {
						t.Errorf("record %d (%s %q) differs from the committed goldens: run make tokenizer-goldens", i, b.Cfg, b.Text)
						break
					}
				}
			}
		}
		st := checkGoldens(t, recs)
		t.Logf("seed %s: %d singles, %d pairs equal; %d reference errors reproduced", c.seed, st.singles, st.pairs, st.errs)
	}
}
