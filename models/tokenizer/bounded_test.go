package tokenizer

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/assets"
)

// hostileWords mixes ASCII words, punctuation, accents, CJK, every family's
// added tokens and every kind of ASCII whitespace, so chunk cuts land
// everywhere.
var hostileWords = []string{"the", "search", "Ranking", "café", "naïve", "东京", "北京大学", "[SEP]", "[MASK]", "don't", "U.S.A.",
	"x", "supercalifragilistic", "e\u0301", "ﬁ", "…", "42", "3.14", "\t", "\n", "  ", "\r\n", "Ünïcödé", "😀", "a-b", "[UNK]",
	"<mask>", "<s>", "</s>", "<unk>", "[CLS]", "[PAD]", "it's", "ÿ", "\u00a0", "\u3000", "x-1", "(word)", "▁", "Ġ"}

func hostileText(rng *rand.Rand, words int) string {
	var b strings.Builder
	for i := range words {
		if i > 0 {
			b.WriteByte(" \t\n  "[rng.IntN(5)])
		}
		b.WriteString(hostileWords[rng.IntN(len(hostileWords))])
	}
	return b.String()
}

// boundedConfig is one tokenizer configuration of the bounded tests.
type boundedConfig struct {
	name string
	tok  *Tokenizer
}

// boundedConfigs loads bert-base-uncased, every testdata/configs entry and
// every testdata/families config.
func boundedConfigs(t *testing.T) []boundedConfig {
	t.Helper()
	bert, err := FromBytes(assets.BertBaseUncasedTokenizer())
	if err != nil {
		t.Fatal(err)
	}
	out := []boundedConfig{{"bert-base-uncased", bert}}
	for _, dir := range []string{filepath.Join("testdata", "configs"), filepath.Join(familiesDir, "configs")} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			name := strings.TrimSuffix(e.Name(), ".json")
			var b []byte
			if strings.HasPrefix(dir, familiesDir) {
				b = familyConfigJSON(t, name)
			} else {
				b = configJSON(t, name)
			}
			tok, err := FromBytes(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out = append(out, boundedConfig{name, tok})
		}
	}
	return out
}

func sameEncoding(a, b Encoding) bool {
	return slices.Equal(a.IDs, b.IDs) && slices.Equal(a.TypeIDs, b.TypeIDs) && slices.Equal(a.Offsets, b.Offsets) && slices.Equal(a.AttentionMask, b.AttentionMask)
}

// TestBoundedEqualsWhole: tokenizing in chunks, stopping once truncation
// can keep no more, gives exactly the encodings of tokenizing the whole
// text (ids, type ids, offsets), for every truncation direction and
// strategy, long and short queries and passages, over every tokenizer
// configuration of the package's tests. The configurations that cannot be
// chunked exactly take a window of their longest texts only (the last
// one), and are checked equal on it too: the window's edge is far from the
// tokens kept.
func TestBoundedEqualsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 15))
	texts := []string{hostileText(rng, 3), hostileText(rng, 400), hostileText(rng, 5000), hostileText(rng, 12000),
		strings.Repeat("a ", 20000), strings.Repeat("word\t", 5000) + "end"}
	// the tokenizers that cannot be chunked take a window of a long text:
	// 8 KiB here (256 KiB and more by default) so that the test is quick
	// and the window's edge nearer the tokens kept
	const window = 8 << 10
	modes := map[chunkMode]int{}
	for _, c := range boundedConfigs(t) {
		modes[c.tok.chunk]++
		for ti, tr := range []Truncation{
			{MaxLength: 512, Strategy: LongestFirst, Direction: Right},
			{MaxLength: 511, Strategy: LongestFirst, Direction: Right},
			{MaxLength: 128, Strategy: LongestFirst, Direction: Left},
			{MaxLength: 512, Strategy: OnlySecond, Direction: Right},
			{MaxLength: 300, Strategy: OnlyFirst, Direction: Right},
		} {
			if c.tok.chunk == chunkNone && ti != 1 && ti != 2 && ti != 4 {
				continue // the window is the same for every strategy: one per direction
			}
			ptexts := texts
			tok := c.tok.WithTruncation(tr)
			if c.tok.chunk == chunkNone {
				// shorter texts take the whole-text path: only the window is new
				ptexts = []string{texts[0], texts[3]}
				tok.windowBytes = window
			}
			if ti%2 == 0 {
				// cut every 97 bytes or so, so that the tokens kept come
				// from many chunks
				tok.chunkBytes = 97
			}
			whole := tok.WithTruncation(tr)
			whole.unbounded = true
			queries := []string{"short query", texts[2]}
			if ti > 1 {
				queries = queries[:1] // a long query once per direction is enough
			}
			for qi, q := range queries {
				be, wbe := tok.NewBatchEncoder(), whole.NewBatchEncoder()
				got, gerr := be.EncodePairs(q, ptexts)
				want, werr := wbe.EncodePairs(q, ptexts)
				if (gerr == nil) != (werr == nil) {
					t.Fatalf("%s %+v q%d: error %v, whole %v", c.name, tr, qi, gerr, werr)
				}
				for i := range got {
					if !sameEncoding(got[i], want[i]) {
						t.Fatalf("%s (mode %d) %+v q%d: pair %d differs from the whole text's (%d vs %d ids)", c.name, c.tok.chunk, tr, qi, i, len(got[i].IDs), len(want[i].IDs))
					}
				}
				if qi == 1 && c.tok.chunk != chunkNone {
					g, gerr := tok.EncodePair(q, texts[3])
					w, werr := whole.EncodePair(q, texts[3])
					if (gerr == nil) != (werr == nil) || !sameEncoding(g, w) {
						t.Fatalf("%s %+v: EncodePair(long, long) differs", c.name, tr)
					}
				}
			}
			for _, p := range ptexts[max(0, len(ptexts)-5):] {
				g, gerr := tok.Encode(p)
				w, werr := whole.Encode(p)
				if (gerr == nil) != (werr == nil) || !sameEncoding(g, w) {
					t.Fatalf("%s (mode %d) %+v chunk %d: Encode(text of %d bytes) differs", c.name, c.tok.chunk, tr, tok.chunkBytes, len(p))
				}
			}
		}
		if c.tok.chunk == chunkNone {
			continue
		}
		small := c.tok.WithTruncation(c.tok.trunc)
		small.chunkBytes = 97
		for i, p := range texts[:6] {
			if g, w := small.CountTokens(p), c.tok.WithTruncation(Truncation{}).CountTokens(p); g != w {
				t.Errorf("%s: CountTokens(text %d) = %d, whole %d", c.name, i, g, w)
			}
		}
	}
	t.Logf("configurations by chunk mode (none, whitespace, space): %d %d %d", modes[chunkNone], modes[chunkWS], modes[chunkSpace])
	if modes[chunkWS] < 5 || modes[chunkSpace] < 3 {
		t.Fatalf("chunk modes %v: the bounded paths were not exercised enough", modes)
	}
}

// TestBoundedWork: the bounded path tokenizes a prefix only — the scratch
// buffers stay at chunk (or window) size whatever the passage's size, for a
// 10 MB passage, in each chunk mode.
func TestBoundedWork(t *testing.T) {
	passage := strings.Repeat("search engines rank passages by relevance ", 250000) // ~10 MB
	seen := map[chunkMode]bool{}
	for _, c := range boundedConfigs(t) {
		if seen[c.tok.chunk] {
			continue
		}
		seen[c.tok.chunk] = true
		for _, dir := range []Direction{Right, Left} {
			tok := c.tok.WithTruncation(Truncation{MaxLength: 512, Strategy: LongestFirst, Direction: dir})
			be := tok.NewBatchEncoder().(*batchEncoder)
			encs, err := be.EncodePairs("query", []string{passage})
			if err != nil || len(encs[0].IDs) != 512 {
				t.Fatalf("%s: %v, %d ids", c.name, err, len(encs[0].IDs))
			}
			bytesLimit := 4 * max(minChunkBytes+maxChunkScan, 512*chunkPerToken)
			if c.tok.chunk == chunkNone {
				bytesLimit = 2 * max(fallbackMin, 512*fallbackPerToken)
			}
			if n := max(cap(be.s.nb), cap(be.s.w0.b), cap(be.s.as)); n > bytesLimit {
				t.Errorf("%s %v: normalized buffers grew to %d bytes for a %d-byte passage (bound %d)", c.name, dir, n, len(passage), bytesLimit)
			}
			if n := cap(be.s.b.toks); n > bytesLimit/2 {
				t.Errorf("%s %v: token buffer grew to %d tokens", c.name, dir, n)
			}
			t.Logf("%s (mode %d) %v: normalized bytes %d, tokens held %d", c.name, c.tok.chunk, dir, cap(be.s.nb), cap(be.s.b.toks))
		}
	}
	if len(seen) != 3 {
		t.Fatalf("chunk modes seen: %v", seen)
	}
}

// TestBoundedHugeMaxLength: a maximum length near the int range neither
// overflows the chunk sizes nor panics, in either direction.
func TestBoundedHugeMaxLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	text := hostileText(rng, 20000)
	for _, c := range boundedConfigs(t)[:1] {
		for _, max := range []int{math.MaxInt, math.MaxInt / 2, math.MaxInt32, 1 << 40} {
			for _, dir := range []Direction{Right, Left} {
				tok := c.tok.WithTruncation(Truncation{MaxLength: max, Strategy: LongestFirst, Direction: dir})
				whole := tok.WithTruncation(tok.trunc)
				whole.unbounded = true
				g, gerr := tok.EncodePair(text, text)
				w, werr := whole.EncodePair(text, text)
				if gerr != nil || werr != nil || !sameEncoding(g, w) {
					t.Fatalf("max %d %v: %v, %v, equal %v", max, dir, gerr, werr, sameEncoding(g, w))
				}
			}
		}
	}
}
