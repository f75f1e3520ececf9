package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/assets"
)

func bert(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := FromBytes(assets.BertBaseUncasedTokenizer())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// withBlocks returns bert-base-uncased's tokenizer.json with top-level
// blocks replaced by the given JSON.
func withBlocks(t testing.TB, blocks map[string]string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(assets.BertBaseUncasedTokenizer(), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range blocks {
		if v == "" {
			delete(m, k)
			continue
		}
		m[k] = json.RawMessage(v)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadRejectsUnsupported(t *testing.T) {
	cases := []struct {
		name   string
		blocks map[string]string
		want   []string // substrings of the error
	}{
		{"BPE dropout", map[string]string{"model": `{"type":"BPE","dropout":0.1,"vocab":{"a":0},"merges":[]}`}, []string{"model.dropout", "0.1"}},
		{"BPE merge outside the vocabulary", map[string]string{"model": `{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a c"]}`}, []string{"model.merges[0]", `"c"`}},
		{"BPE merge without its result", map[string]string{"model": `{"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","b"]]}`}, []string{"model.merges[0]", `"ab"`}},
		{"malformed merge", map[string]string{"model": `{"vocab":{"a":0},"merges":["a b c"]}`}, []string{"model.merges[0]"}},
		{"Unigram unk_id outside the vocabulary", map[string]string{"model": `{"type":"Unigram","vocab":[["a",0.0]],"unk_id":3}`}, []string{"model.unk_id", "3"}},
		{"Unigram malformed vocabulary", map[string]string{"model": `{"vocab":[["a","x"]],"unk_id":0}`}, []string{"model.vocab[0][1]"}},
		{"unknown model", map[string]string{"model": `{"type":"Sentencepiece","vocab":{}}`}, []string{"model", `"Sentencepiece"`}},
		{"unknown Metaspace prepend scheme", map[string]string{"pre_tokenizer": `{"type":"Metaspace","replacement":"▁","prepend_scheme":"sometimes"}`}, []string{"pre_tokenizer.prepend_scheme", "sometimes"}},
		{"unknown pre-tokenizer in a Sequence", map[string]string{"pre_tokenizer": `{"type":"Sequence","pretokenizers":[{"type":"Whitespace"},{"type":"UnicodeScripts"}]}`}, []string{"pre_tokenizer.pretokenizers[1]", `"UnicodeScripts"`}},
		{"Precompiled charsmap not base64", map[string]string{"normalizer": `{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Precompiled","precompiled_charsmap":"%%%"}]}`}, []string{"normalizer.normalizers[1].precompiled_charsmap"}},
		{"Precompiled trie larger than the charsmap", map[string]string{"normalizer": `{"type":"Precompiled","precompiled_charsmap":"AAEAAAAAAAA="}`}, []string{"normalizer.precompiled_charsmap", "trie size"}},
		{"Replace with a bad regex", map[string]string{"normalizer": `{"type":"Replace","pattern":{"Regex":"(a"},"content":" "}`}, []string{"normalizer.pattern.Regex"}},
		{"Split with both patterns", map[string]string{"pre_tokenizer": `{"type":"Split","pattern":{"String":"a","Regex":"b"},"behavior":"Isolated","invert":false}`}, []string{"pre_tokenizer.pattern"}},
		{"unknown post-processor in a Sequence", map[string]string{"post_processor": `{"type":"Sequence","processors":[{"type":"ByteLevel"},{"type":"Fancy"}]}`}, []string{"post_processor.processors[1]", `"Fancy"`}},
		{"trimming after special tokens", map[string]string{"post_processor": `{"type":"Sequence","processors":[{"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]},{"type":"ByteLevel"}]}`}, []string{"post_processor.processors[1]"}},
		{"unknown split behavior", map[string]string{"pre_tokenizer": `{"type":"Punctuation","behavior":"Sideways"}`}, []string{"pre_tokenizer.behavior", "Sideways"}},
		{"bad truncation strategy", map[string]string{"truncation": `{"max_length":8,"strategy":"Shortest","direction":"Right"}`}, []string{"truncation.strategy"}},
		{"template names an unknown special", map[string]string{"post_processor": `{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}}],"pair":[],"special_tokens":{}}`}, []string{"post_processor.single[0]", "<s>"}},
		{"no model", map[string]string{"model": ""}, []string{"model"}},
		{"normalizer without type", map[string]string{"normalizer": `{"lowercase":true}`}, []string{"normalizer", "type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromBytes(withBlocks(t, c.blocks))
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(bad, []byte(`{"model": `), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path, want string }{
		{"missing file", filepath.Join(dir, "nope.json"), "nope.json"},
		{"truncated JSON", bad, bad},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load(%s) = %v, want an error naming %s", c.path, err, c.want)
			}
		})
	}
	tok, err := Load(filepath.Join("..", "..", "internal", "assets", "bert-base-uncased.json"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 30522 {
		t.Errorf("VocabSize = %d, want 30522", tok.VocabSize())
	}
}

// Invalid UTF-8: each invalid byte reads as U+FFFD, as a Go range loop
// decodes it, so the result equals encoding the decoded string (whose own
// parity with the reference the goldens check); offsets index the input.
func TestInvalidUTF8(t *testing.T) {
	for _, cfg := range []string{"bert", "cased", "no_normalizer", "seq_nfkd"} {
		tok, err := FromBytes(configJSON(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []string{
			"abc\xffdef", "\xff", "caf\xc3", "\xe6\x9d", "ok \xed\xa0\x80 surrogate", "[CLS]\x80[SEP]",
			"hello\xc3\xa9\xc3 world", "\xf4\x90\x80\x80 beyond U+10FFFF", "x\xc0\xafy",
		} {
			var runes []rune
			for _, r := range in {
				runes = append(runes, r)
			}
			decoded := string(runes)
			got, err1 := tok.EncodePair(in, in)
			want, err2 := tok.EncodePair(decoded, decoded)
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("%s %q: errors %v vs %v", cfg, in, err1, err2)
			}
			if !slices.Equal(got.IDs, want.IDs) || !slices.Equal(got.TypeIDs, want.TypeIDs) {
				t.Errorf("%s %q: ids %v, decoded string gives %v", cfg, in, got.IDs, want.IDs)
			}
			for _, o := range got.Offsets {
				if o[0] < 0 || o[1] > len(in) || o[0] > o[1] {
					t.Errorf("%s %q: offset %v outside the input", cfg, in, o)
				}
			}
		}
	}
}

func TestInvalidUTF8Replacement(t *testing.T) {
	tok := bert(t).WithTruncation(Truncation{})
	// cased config: clean_text off, so U+FFFD survives and becomes [UNK]
	cased, err := FromBytes(configJSON(t, "cased"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := cased.Encode("a\xffb")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.IDs, []int64{101, 100, 102}) || e.Offsets[1] != [2]int{0, 3} {
		t.Errorf("cased a\\xffb: ids %v offsets %v, want [CLS] [UNK] [SEP] over bytes 0..3", e.IDs, e.Offsets)
	}
	// bert's clean_text drops U+FFFD, so the invalid byte splits nothing
	e, err = tok.Encode("hello\xffworld")
	if err != nil {
		t.Fatal(err)
	}
	w, _ := tok.Encode("helloworld")
	if !slices.Equal(e.IDs, w.IDs) {
		t.Errorf("hello\\xffworld = %v, want %v", e.IDs, w.IDs)
	}
}

func TestTruncationSetting(t *testing.T) {
	tok := bert(t)
	if tok.Truncation() != (Truncation{}) {
		t.Errorf("bert-base-uncased has no truncation block; got %+v", tok.Truncation())
	}
	tr := Truncation{MaxLength: 16, Strategy: OnlySecond, Direction: Left}
	cut := tok.WithTruncation(tr)
	if cut.Truncation() != tr || tok.Truncation() != (Truncation{}) {
		t.Errorf("WithTruncation changed the original or lost the setting: %+v / %+v", cut.Truncation(), tok.Truncation())
	}
	q, p := "what is the capital of france", strings.Repeat("paris is the capital and largest city of france . ", 10)
	e, err := cut.EncodePair(q, p)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := tok.EncodePair(q, p)
	if len(e.IDs) != 16 {
		t.Fatalf("len = %d, want 16", len(e.IDs))
	}
	// only_second, left: the query whole, the passage's last tokens
	nq := tok.CountTokens(q)
	if !slices.Equal(e.IDs[:nq+2], full.IDs[:nq+2]) {
		t.Errorf("query part changed: %v vs %v", e.IDs[:nq+2], full.IDs[:nq+2])
	}
	if !slices.Equal(e.IDs[nq+2:], full.IDs[len(full.IDs)-(16-nq-2):]) {
		t.Errorf("passage part is not the tail: %v", e.IDs[nq+2:])
	}
	// file's own block is honoured
	ft, err := FromBytes(withBlocks(t, map[string]string{"truncation": `{"max_length":8,"strategy":"OnlyFirst","direction":"Right","stride":0}`}))
	if err != nil {
		t.Fatal(err)
	}
	if got := ft.Truncation(); got != (Truncation{MaxLength: 8, Strategy: OnlyFirst}) {
		t.Errorf("file truncation = %+v", got)
	}
	if _, err := ft.EncodePair("a b c d e f g h i j", "x"); err != nil {
		t.Errorf("only_first with a long query: %v", err)
	}
	if _, err := ft.EncodePair("a", "x y z w v u t s r q"); !errors.Is(err, ErrSequenceTooShort) {
		t.Errorf("only_first with a short query: %v, want ErrSequenceTooShort", err)
	}
	if _, err := tok.WithTruncation(Truncation{MaxLength: 4, Strategy: OnlySecond}).Encode("a b c d e f"); !errors.Is(err, ErrNoSecondSequence) {
		t.Errorf("only_second on a single text: %v, want ErrNoSecondSequence", err)
	}
	if _, err := tok.WithTruncation(Truncation{MaxLength: 2}).EncodePair("a", "b"); err == nil {
		t.Error("max length 2 < 3 special tokens: no error")
	}
}

func TestCountTokens(t *testing.T) {
	tok := bert(t).WithTruncation(Truncation{MaxLength: 8})
	for _, s := range []string{"", "hello", "Unaffable tokenization, naïve café!", strings.Repeat("word ", 50), "[CLS] x [SEP]"} {
		full, err := bert(t).Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := tok.CountTokens(s), len(full.IDs)-2; got != want {
			t.Errorf("CountTokens(%q) = %d, want %d", s, got, want)
		}
	}
}

// The batch encoder gives what EncodePair gives, pair for pair, and reuses
// its buffers.
func TestBatchEncoderMatchesEncodePair(t *testing.T) {
	recs := readGoldens(t, filepath.Join("testdata", "goldens-*.jsonl.gz"))
	tok := bert(t).WithTruncation(Truncation{MaxLength: 128, Strategy: LongestFirst})
	be := tok.NewBatchEncoder()
	var passages []string
	query := ""
	for _, g := range recs {
		if g.Cfg == "bert" && g.Pair != nil {
			passages = append(passages, *g.Pair)
			if query == "" {
				query = g.Text
			}
		}
	}
	for start := 0; start < len(passages); start += 97 {
		batch := passages[start:min(start+97, len(passages))]
		encs, err := be.EncodePairs(query, batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(encs) != len(batch) {
			t.Fatalf("%d encodings for %d passages", len(encs), len(batch))
		}
		for i, p := range batch {
			want, err := tok.EncodePair(query, p)
			if err != nil {
				t.Fatal(err)
			}
			e := encs[i]
			if !slices.Equal(e.IDs, want.IDs) || !slices.Equal(e.TypeIDs, want.TypeIDs) || !slices.Equal(e.AttentionMask, want.AttentionMask) || !slices.Equal(e.Offsets, want.Offsets) {
				t.Fatalf("pair %d differs from EncodePair", start+i)
			}
		}
	}
	single, err := be.Encode(query)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tok.Encode(query)
	if !slices.Equal(single.IDs, want.IDs) {
		t.Errorf("BatchEncoder.Encode = %v, want %v", single.IDs, want.IDs)
	}
	// steady state: no allocation per call
	batch := passages[:32]
	if _, err := be.EncodePairs(query, batch); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(20, func() { be.EncodePairs(query, batch) }); a != 0 {
		t.Errorf("EncodePairs allocates %.1f times per call in steady state", a)
	}
}

func TestBatchEncoderErrorNamesPair(t *testing.T) {
	tok := bert(t).WithTruncation(Truncation{MaxLength: 6, Strategy: OnlyFirst})
	_, err := tok.NewBatchEncoder().EncodePairs("a", []string{"b", "c d e f g h i"})
	if !errors.Is(err, ErrSequenceTooShort) || !strings.Contains(err.Error(), "pair 1") {
		t.Errorf("err = %v, want ErrSequenceTooShort naming pair 1", err)
	}
}

func TestParseNames(t *testing.T) {
	for _, s := range []Strategy{LongestFirst, OnlyFirst, OnlySecond} {
		got, err := ParseStrategy(s.String())
		if err != nil || got != s {
			t.Errorf("ParseStrategy(%q) = %v, %v", s.String(), got, err)
		}
	}
	for _, d := range []Direction{Right, Left} {
		got, err := ParseDirection(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDirection(%q) = %v, %v", d.String(), got, err)
		}
	}
	if _, err := ParseStrategy("shortest"); err == nil {
		t.Error("ParseStrategy(shortest): no error")
	}
	if _, err := ParseDirection("up"); err == nil {
		t.Error("ParseDirection(up): no error")
	}
}
