package tokenizer

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostileWords mixes ASCII words, punctuation, accents, CJK, added tokens
// and every kind of ASCII whitespace, so chunk cuts land everywhere.
var hostileWords = []string{"the", "search", "Ranking", "café", "naïve", "东京", "北京大学", "[SEP]", "[MASK]", "don't", "U.S.A.",
	"x", "supercalifragilistic", "e\u0301", "ﬁ", "…", "42", "3.14", "\t", "\n", "  ", "\r\n", "Ünïcödé", "😀", "a-b", "[UNK]"}

func hostileText(rng *rand.Rand, words int) string {
	var b strings.Builder
	for i := range words {
		if i > 0 {
			b.WriteByte(" \t\n"[rng.IntN(3)])
		}
		b.WriteString(hostileWords[rng.IntN(len(hostileWords))])
	}
	return b.String()
}

// TestBoundedEqualsWhole: tokenizing in chunks, stopping once truncation
// can keep no more, gives exactly the encodings of tokenizing the whole
// text, for every truncation direction and strategy, long and short
// queries and passages, over several real tokenizer configurations.
func TestBoundedEqualsWhole(t *testing.T) {
	files := []string{"bert", "cased", "labse", "no_normalizer", "removed_strip"}
	rng := rand.New(rand.NewPCG(7, 15))
	texts := []string{hostileText(rng, 3), hostileText(rng, 400), hostileText(rng, 5000), hostileText(rng, 30000),
		strings.Repeat("a ", 40000), strings.Repeat("word\t", 10000) + "end"}
	chunked := 0
	for _, f := range files {
		var base *Tokenizer
		var err error
		if f == "bert" {
			base, err = Load(filepath.Join("..", "assets", "bert-base-uncased.json"))
		} else {
			base, err = FromBytes(configJSON(t, f))
		}
		if err != nil {
			t.Fatal(err)
		}
		if base.chunkable {
			chunked++
		}
		for _, tr := range []Truncation{
			{MaxLength: 512, Strategy: LongestFirst, Direction: Right},
			{MaxLength: 511, Strategy: LongestFirst, Direction: Right},
			{MaxLength: 128, Strategy: LongestFirst, Direction: Left},
			{MaxLength: 512, Strategy: OnlySecond, Direction: Right},
			{MaxLength: 300, Strategy: OnlyFirst, Direction: Right},
		} {
			tok := base.WithTruncation(tr)
			whole := *tok
			whole.chunkable = false
			for qi, q := range []string{"short query", texts[2]} {
				for pi, p := range texts {
					got, gerr := tok.EncodePair(q, p)
					want, werr := whole.EncodePair(q, p)
					if (gerr == nil) != (werr == nil) {
						t.Fatalf("%s %+v q%d p%d: error %v, whole %v", f, tr, qi, pi, gerr, werr)
					}
					if !slices.Equal(got.IDs, want.IDs) || !slices.Equal(got.TypeIDs, want.TypeIDs) || !slices.Equal(got.Offsets, want.Offsets) {
						t.Fatalf("%s %+v q%d p%d: bounded encoding differs from the whole text's (%d vs %d ids)", f, tr, qi, pi, len(got.IDs), len(want.IDs))
					}
				}
				be, wbe := tok.NewBatchEncoder(), whole.NewBatchEncoder()
				got, gerr := be.EncodePairs(q, texts)
				want, werr := wbe.EncodePairs(q, texts)
				if (gerr == nil) != (werr == nil) {
					t.Fatalf("%s %+v batch: error %v, whole %v", f, tr, gerr, werr)
				}
				for i := range got {
					if !slices.Equal(got[i].IDs, want[i].IDs) || !slices.Equal(got[i].Offsets, want[i].Offsets) {
						t.Fatalf("%s %+v batch pair %d differs", f, tr, i)
					}
				}
			}
			for i, p := range texts {
				if g, w := tok.CountTokens(p), whole.CountTokens(p); g != w {
					t.Errorf("%s: CountTokens(text %d) = %d, whole %d", f, i, g, w)
				}
				g, _ := tok.Encode(p)
				w, _ := whole.Encode(p)
				if !slices.Equal(g.IDs, w.IDs) {
					t.Errorf("%s %+v: Encode(text %d) differs", f, tr, i)
				}
			}
		}
	}
	if chunked < 3 {
		t.Fatalf("%d configurations were chunkable: the bounded path was not exercised enough", chunked)
	}
}

// TestBoundedWork: the bounded path tokenizes a prefix only — the scratch
// buffers stay at chunk size whatever the passage's size.
func TestBoundedWork(t *testing.T) {
	tok, err := Load(filepath.Join("..", "assets", "bert-base-uncased.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok = tok.WithTruncation(Truncation{MaxLength: 512, Strategy: LongestFirst, Direction: Right})
	if !tok.chunkable {
		t.Fatal("bert-base-uncased is not chunkable")
	}
	passage := strings.Repeat("search engines rank passages by relevance ", 250000) // ~10 MB
	be := tok.NewBatchEncoder().(*batchEncoder)
	encs, err := be.EncodePairs("query", []string{passage})
	if err != nil || len(encs[0].IDs) != 512 {
		t.Fatalf("%v, %d ids", err, len(encs[0].IDs))
	}
	limit := 4 * max(minChunkBytes, 512*chunkPerToken)
	if n := cap(be.s.nb); n > limit {
		t.Errorf("normalized buffer grew to %d bytes for a %d-byte passage (bound %d)", n, len(passage), limit)
	}
	if n := cap(be.s.b.toks); n > 2*max(minChunkBytes, 512*chunkPerToken) {
		t.Errorf("token buffer grew to %d tokens", n)
	}
}
