package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The tokenizer families (testdata/families, written by gen/py/families.py):
// tiny Unigram, byte-level BPE, BPE and WordLevel tokenizers trained with
// the reference libraries, and goldens encoded by PyPI tokenizers.

var familiesDir = filepath.Join("testdata", "families")

// familyConfigJSON builds the tokenizer.json of a testdata/families/configs
// entry: its base family's file with top-level blocks replaced.
func familyConfigJSON(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(familiesDir, "configs", name+".json"))
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
	base, err := os.ReadFile(filepath.Join(familiesDir, c.Base, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
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

// familyCounts tallies records encoded equal per configuration.
func familyCounts(recs []golden) map[string][2]int {
	out := map[string][2]int{}
	for _, g := range recs {
		if g.Error != "" {
			continue
		}
		c := out[g.Cfg]
		if g.Pair != nil {
			c[1]++
		} else {
			c[0]++
		}
		out[g.Cfg] = c
	}
	return out
}

// TestParityFamilies compares ids, type ids and offsets with the committed
// goldens of every family configuration (each truncation strategy and
// direction, reference errors included); the four reranker families need
// at least 3,000 singles and 1,500 pairs each.
func TestParityFamilies(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(familiesDir, "goldens-*.jsonl.gz"))
	if len(files) == 0 {
		t.Fatal("no family goldens")
	}
	for _, f := range files {
		fam := filepath.Base(f)
		t.Run(fam, func(t *testing.T) {
			recs := readGoldens(t, f)
			st := checkGoldensOpt(t, recs, func(name string) []byte { return familyConfigJSON(t, name) }, true)
			t.Logf("%s: %d singles, %d pairs equal (ids, type ids, offsets); %d reference errors reproduced", fam, st.singles, st.pairs, st.errs)
			if t.Failed() {
				return
			}
			counts := familyCounts(recs)
			for _, name := range []string{"xlmr", "deberta", "roberta", "modernbert"} {
				if c, ok := counts[name]; ok && (c[0] < 3000 || c[1] < 1500) {
					t.Errorf("%s: %d singles, %d pairs (want ≥3000, ≥1500)", name, c[0], c[1])
				}
			}
		})
	}
}

// TestParityFamiliesLive re-encodes a sample of the goldens' inputs with the
// Node binding of the reference library (the goldens came from the Python
// one): the committed goldens must be what the library gives, and Go must
// agree with it.
func TestParityFamiliesLive(t *testing.T) {
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
	files, _ := filepath.Glob(filepath.Join(familiesDir, "goldens-*.jsonl.gz"))
	out := filepath.Join(t.TempDir(), "live.jsonl.gz")
	const every = 8
	args := append([]string{filepath.Join("testdata", "gen", "reencode.mjs"), "--every", fmt.Sprint(every), out}, files...)
	if b, err := exec.Command(node, args...).CombinedOutput(); err != nil {
		t.Fatalf("oracle: %v\n%s", err, b)
	}
	live := readGoldens(t, out)
	var committed []golden
	for _, f := range files {
		for i, g := range readGoldens(t, f) {
			if i%every == 0 {
				committed = append(committed, g)
			}
		}
	}
	if len(committed) != len(live) {
		t.Fatalf("oracle re-encoded %d records, want %d", len(live), len(committed))
	}
	for i := range live {
		a, b := committed[i], live[i]
		if a.Cfg != b.Cfg || a.Text != b.Text || fmt.Sprint(a.IDs, a.TypeIDs, a.Offsets, a.Error != "") != fmt.Sprint(b.IDs, b.TypeIDs, b.Offsets, b.Error != "") {
			t.Fatalf("record %s %q: the oracle now gives ids %v offsets %v error %q, the goldens ids %v offsets %v error %q: run make tokenizer-family-goldens",
				b.Cfg, b.Text, b.IDs, b.Offsets, b.Error, a.IDs, a.Offsets, a.Error)
		}
	}
	st := checkGoldensOpt(t, live, func(name string) []byte { return familyConfigJSON(t, name) }, true)
	t.Logf("live oracle: %d singles, %d pairs equal; %d reference errors reproduced", st.singles, st.pairs, st.errs)
}
