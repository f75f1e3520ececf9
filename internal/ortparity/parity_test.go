package parity_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/models/tokenizer"
)

// Word stock for the generated pairs: plain English, then the cases a
// WordPiece tokenizer gets wrong first (accents, CJK, emoji, punctuation,
// digits, odd whitespace, very long words, control characters).
var (
	parityWords = strings.Fields(`the a of to and in is for on that with as was by it from at be this are an or
	which search engine query passage relevance rank ranking model cross encoder bert transformer token
	elasticsearch opensearch index document shard replica score sidecar latency batch throughput quantum
	river bank money loan interest rate mortgage climate carbon ocean forest energy solar wind battery
	protein enzyme cell membrane neuron brain memory learning network graph vector embedding retrieval
	history empire roman ancient war treaty king queen parliament election vote democracy constitution
	football basketball tennis olympic marathon athlete coach stadium season league championship
	recipe flour sugar butter oven bake bread pasta tomato garlic onion pepper salt cheese wine coffee
	python golang rust javascript compiler runtime kernel thread mutex channel goroutine allocation
	how what why when where who does can should is are was were will would could might must
	unbelievable internationalization antidisestablishmentarianism electroencephalography photosynthesis`)
	paritySpecial = []string{
		"café", "naïve", "résumé", "Ångström", "Straße", "façade", "jalapeño", "Zürich", "ÉCOLE", "İstanbul",
		"東京", "日本語のテキスト", "北京大学", "한국어", "ไทย", "Ελληνικά", "русский", "العربية", "עברית", "हिन्दी",
		"🙂", "👍🏽", "🇫🇷", "e\u0301", "ﬁ", "Ⅻ", "①", "½", "x²", "µs",
		"U.S.A.", "e-mail", "don't", "it's", "C++", "C#", ".NET", "node.js", "$100", "€50", "3.14159", "1,000,000",
		"2024-05-01", "12:30", "#hashtag", "@user", "https://example.com/a?b=c&d=e", "foo_bar", "CamelCaseWord",
		"(parenthetical)", "[bracket]", "{brace}", "\"quoted\"", "'single'", "semi;colon", "ellipsis...", "dash—em", "–en",
		"tab\there", "new\nline", "zero\u200bwidth", "nb\u00a0sp", "ctrl\u0007bell", "soft\u00adhyphen", "   spaces   ",
		strings.Repeat("a", 120), strings.Repeat("xy", 70), "supercalifragilisticexpialidocious", "ALLCAPSWORD", "MiXeD",
	}
)

type parityPair struct {
	Query   string `json:"query"`
	Passage string `json:"passage"`
}

// parityPairs generates n varied pairs from a fixed seed: short and long
// queries, empty to very long passages (one in twelve needs truncation,
// half of those with a long query too, to exercise longest-first).
func parityPairs(n int) []parityPair {
	r := rand.New(rand.NewPCG(2026, 11))
	text := func(words int) string {
		var b strings.Builder
		for i := range words {
			if i > 0 {
				b.WriteByte(' ')
			}
			w := parityWords[r.IntN(len(parityWords))]
			switch x := r.IntN(10); {
			case x == 0:
				w = paritySpecial[r.IntN(len(paritySpecial))]
			case x == 1:
				w = strings.ToUpper(w[:1]) + w[1:]
			case x == 2:
				w += []string{".", ",", "?", "!", ":", ";"}[r.IntN(6)]
			}
			b.WriteString(w)
		}
		return b.String()
	}
	pairs := make([]parityPair, n)
	for i := range pairs {
		q, p := 1+r.IntN(12), r.IntN(120)
		switch i % 24 {
		case 3:
			p = 400 + r.IntN(400) // long passage: truncated
		case 15:
			q, p = 200+r.IntN(300), 200+r.IntN(300) // long query and passage
		case 7, 19:
			p = 0
		}
		pairs[i] = parityPair{Query: text(q), Passage: text(p)}
	}
	pairs[0] = parityPair{"what is a cross-encoder", "A cross-encoder scores a query and a passage jointly."}
	return pairs
}

type nodeResult struct {
	IDs      []int64 `json:"ids"`
	TypeIDs  []int64 `json:"type_ids"`
	TJSAgree *bool   `json:"tjs_agree"`
	Logit    float64 `json:"logit"`
}

// startParityScript starts scoring pairs with the independent
// implementation (testdata/parity.mjs: HF tokenizers in Rust for ids,
// transformers.js for logits) and returns a function that waits for its
// results. It fails the test with the fix when node or tools/node is missing.
func startParityScript(t *testing.T, model string, pairs []parityPair, dtype string) (wait func() []nodeResult) {
	t.Helper()
	root := testenv.Root(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("parity: node is not installed: run make setup-node (it installs nodejs and tools/node)")
	}
	nm := filepath.Join(root, "tools", "node", "node_modules")
	for _, pkg := range []string{"@huggingface/transformers", "@anush008/tokenizers"} {
		if _, err := os.Stat(filepath.Join(nm, pkg, "package.json")); err != nil {
			t.Fatalf("parity: %s is missing from tools/node: run make setup-node", pkg)
		}
	}
	tmp := t.TempDir()
	in, out := filepath.Join(tmp, "pairs.jsonl"), filepath.Join(tmp, "out.jsonl")
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	for _, p := range pairs {
		if err := enc.Encode(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(in, []byte(buf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "models", "ort", "testdata", "parity.mjs"),
		"--model", model, "--pairs", in, "--out", out, "--dtype", dtype, "--threads", "1", "--node-modules", nm)
	var msg strings.Builder
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("parity.mjs: %v", err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() }) // ends it if the test stops early
	return func() []nodeResult {
		t.Helper()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("parity.mjs: %v\n%s", err, msg.String())
		}
		return readParityResults(t, out, len(pairs))
	}
}

func readParityResults(t *testing.T, out string, n int) []nodeResult {
	t.Helper()
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var res []nodeResult
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r nodeResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("parity.mjs output: %v", err)
		}
		res = append(res, r)
	}
	if len(res) != n {
		t.Fatalf("parity.mjs returned %d results for %d pairs", len(res), n)
	}
	return res
}

func loadTwin(t testing.TB, opts ...ort.Option) *ort.Session {
	t.Helper()
	opts = append([]ort.Option{ort.WithLibrary(testenv.ORTLib(t)), ort.WithThreads(1, 1)}, opts...)
	s, err := ort.Load(context.Background(), testenv.TwinDir(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pairEncoder(t testing.TB, dir string, maxLen int) ort.PairEncoder {
	t.Helper()
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok = tok.WithTruncation(tokenizer.Truncation{MaxLength: maxLen, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Right})
	return func(q, p string) ([]int64, []int64, error) {
		e, err := tok.EncodePair(q, p)
		return e.IDs, e.TypeIDs, err
	}
}

// TestParityTransformersJS: the twin scored end to end by crossrank (our
// tokenizer, truncation longest-first to 512, ScorePairs batching by length
// on this backend) gives the same token ids as the Hugging Face tokenizers
// library and the same logits as transformers.js within 2e-5, on 520
// generated pairs.
func TestParityTransformersJS(t *testing.T) {
	dir := testenv.TwinDir(t)
	pairs := parityPairs(520)
	wait := startParityScript(t, dir, pairs, "fp32")

	// Score while node works (one thread each).
	s := loadTwin(t, ort.WithThreads(1, 1))
	enc := pairEncoder(t, dir, s.Info().MaxLength)
	in := make([]ort.Pair, len(pairs))
	for i, p := range pairs {
		in[i] = ort.Pair{Query: p.Query, Passage: p.Passage}
	}
	got, err := ort.ScorePairs(context.Background(), s, enc, in, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := wait()

	truncated, disagree := 0, 0
	for i, p := range pairs {
		ids, types, err := enc(p.Query, p.Passage)
		if err != nil {
			t.Fatalf("pair %d: %v", i, err)
		}
		if !slices.Equal(ids, want[i].IDs) || !slices.Equal(types, want[i].TypeIDs) {
			t.Errorf("pair %d: token ids differ from HF tokenizers\nquery %q\npassage %.200q\nours %v\nHF   %v",
				i, p.Query, p.Passage, head(ids), head(want[i].IDs))
		}
		if len(want[i].IDs) == 512 {
			truncated++
		}
		if want[i].TJSAgree != nil && !*want[i].TJSAgree {
			disagree++
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if truncated < 40 {
		t.Fatalf("only %d of %d pairs needed truncation; the generator should make more", truncated, len(pairs))
	}
	if disagree > 0 {
		t.Logf("note: transformers.js's own tokenizer disagreed with HF tokenizers on %d short pairs", disagree)
	}
	var maxDiff float64
	var sum, sumSq float64
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i].Logit)
		maxDiff = max(maxDiff, d)
		if d > 2e-5 {
			t.Errorf("pair %d (%d tokens): logit %v, transformers.js %v (diff %.3g)", i, len(want[i].IDs), got[i], want[i].Logit, d)
		}
		sum += want[i].Logit
		sumSq += want[i].Logit * want[i].Logit
	}
	mean := sum / float64(len(got))
	sd := math.Sqrt(sumSq/float64(len(got)) - mean*mean)
	t.Logf("%d pairs (%d truncated): max |logit diff| vs transformers.js %.3g; logit mean %.3f sd %.3f", len(got), truncated, maxDiff, mean, sd)
	if sd < 0.1 {
		t.Fatalf("logits barely vary (sd %.3g): the comparison would not catch much", sd)
	}
}

// TestPaddingInvariance: a pair scored alone (its own length, no padding)
// equals the same pair inside a batch of 8 padded to 512, within 1e-5.
func TestPaddingInvariance(t *testing.T) {
	dir := testenv.TwinDir(t)
	s := loadTwin(t, ort.WithThreads(2, 1))
	enc := pairEncoder(t, dir, 512)
	pairs := parityPairs(16)
	ctx := context.Background()
	var padded models.Batch
	var maxDiff float64
	for start := 0; start < len(pairs); start += 8 {
		padded.Reset(8, 512)
		alone := make([]float32, 8)
		for r := range 8 {
			p := pairs[start+r]
			ids, types, err := enc(p.Query, p.Passage)
			if err != nil {
				t.Fatal(err)
			}
			var one models.Batch
			one.Reset(1, len(ids))
			one.SetRow(0, ids, types)
			l, err := s.Score(ctx, &one)
			if err != nil {
				t.Fatal(err)
			}
			alone[r] = l[0]
			padded.SetRow(r, ids, types)
		}
		got, err := s.Score(ctx, &padded)
		if err != nil {
			t.Fatal(err)
		}
		for r := range got {
			d := math.Abs(float64(got[r] - alone[r]))
			maxDiff = max(maxDiff, d)
			if d > 1e-5 {
				t.Errorf("pair %d: alone %v, in a batch padded to 512 %v (diff %.3g)", start+r, alone[r], got[r], d)
			}
		}
	}
	t.Logf("max |alone - padded| = %.3g", maxDiff)
}

func head(s []int64) string {
	if len(s) > 40 {
		return fmt.Sprint(s[:40]) + fmt.Sprintf("… (%d)", len(s))
	}
	return fmt.Sprint(s)
}

// TestParityInt8: the dynamically quantised twin (twin-int8) scored one
// pair per run by this backend equals transformers.js on the same folder
// within 2e-5. Dynamic quantisation takes one scale per tensor, i.e. per
// batch, so int8 logits depend on the rest of the batch; the test logs how
// far batched scores move (a property of the graph, not checked here).
func TestParityInt8(t *testing.T) {
	dir := testenv.TwinInt8Dir(t)
	pairs := parityPairs(48)
	wait := startParityScript(t, dir, pairs, "fp32") // onnx/model.onnx of twin-int8 is the int8 graph
	s, err := ort.Load(context.Background(), dir, ort.WithLibrary(testenv.ORTLib(t)), ort.WithThreads(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enc := pairEncoder(t, dir, s.Info().MaxLength)
	in := make([]ort.Pair, len(pairs))
	for i, p := range pairs {
		in[i] = ort.Pair{Query: p.Query, Passage: p.Passage}
	}
	alone, err := ort.ScorePairs(context.Background(), s, enc, in, 1)
	if err != nil {
		t.Fatal(err)
	}
	batched, err := ort.ScorePairs(context.Background(), s, enc, in, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := wait()
	var maxDiff, maxBatch float64
	for i := range alone {
		d := math.Abs(float64(alone[i]) - want[i].Logit)
		maxDiff = max(maxDiff, d)
		if d > 2e-5 {
			t.Errorf("pair %d (%d tokens): int8 logit %v, transformers.js %v (diff %.3g)", i, len(want[i].IDs), alone[i], want[i].Logit, d)
		}
		maxBatch = max(maxBatch, math.Abs(float64(batched[i]-alone[i])))
	}
	t.Logf("int8, %d pairs: max |logit diff| vs transformers.js %.3g; batched (16, by length) vs alone: max %.3g", len(alone), maxDiff, maxBatch)
}
