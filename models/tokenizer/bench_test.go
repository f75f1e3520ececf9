package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/assets"
)

type benchPair struct{ Query, Passage string }

// benchCorpus reads testdata/bench_pairs.jsonl (written by gen/bench.mjs:
// ~8-word queries, ~60-word passages), the corpus the Rust library is timed
// on too.
func benchCorpus(tb testing.TB) []benchPair {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "bench_pairs.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []benchPair
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p benchPair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			tb.Fatal(err)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		tb.Fatal("empty benchmark corpus")
	}
	return out
}

func benchTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	tok, err := FromBytes(assets.BertBaseUncasedTokenizer())
	if err != nil {
		tb.Fatal(err)
	}
	return tok.WithTruncation(Truncation{MaxLength: 512})
}

// BenchmarkEncodePairs: one op is one (query, passage) pair on one
// goroutine; reports µs/pair and tokens/s.
func BenchmarkEncodePairs(b *testing.B) {
	pairs := benchCorpus(b)
	tok := benchTokenizer(b)
	be := tok.NewBatchEncoder()
	one := make([]string, 1)
	tokens := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		p := pairs[i%len(pairs)]
		one[0] = p.Passage
		encs, err := be.EncodePairs(p.Query, one)
		if err != nil {
			b.Fatal(err)
		}
		tokens += len(encs[0].IDs)
	}
	reportPairs(b, tokens, processCPU()-cpu0)
}

// reportPairs reports wall µs/pair, CPU µs/pair (process user+system time:
// the one-core cost when the machine is shared) and tokens/s.
func reportPairs(b *testing.B, tokens int, cpu time.Duration) {
	sec := b.Elapsed().Seconds()
	b.ReportMetric(sec*1e6/float64(b.N), "µs/pair")
	if cpu > 0 {
		b.ReportMetric(cpu.Seconds()*1e6/float64(b.N), "cpu-µs/pair")
	}
	b.ReportMetric(float64(tokens)/sec, "tokens/s")
}

// BenchmarkEncodePairsSharedQuery: one query with 64 passages per call, as
// the sidecar calls it; one op is one pair.
func BenchmarkEncodePairsSharedQuery(b *testing.B) {
	pairs := benchCorpus(b)
	tok := benchTokenizer(b)
	be := tok.NewBatchEncoder()
	passages := make([]string, 64)
	for i := range passages {
		passages[i] = pairs[i].Passage
	}
	tokens := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for n := 0; n < b.N; n += len(passages) {
		encs, err := be.EncodePairs(pairs[n%len(pairs)].Query, passages)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range encs {
			tokens += len(e.IDs)
		}
	}
	reportPairs(b, tokens, processCPU()-cpu0)
}

// BenchmarkEncodeTexts encodes each pair's query and passage as two single
// texts: the same work the Node binding's encodeBatch (single texts only)
// is timed on. One op is one pair.
func BenchmarkEncodeTexts(b *testing.B) {
	pairs := benchCorpus(b)
	tok := benchTokenizer(b)
	be := tok.NewBatchEncoder()
	tokens := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		p := pairs[i%len(pairs)]
		q, err := be.Encode(p.Query)
		if err != nil {
			b.Fatal(err)
		}
		tokens += len(q.IDs)
		e, err := be.Encode(p.Passage)
		if err != nil {
			b.Fatal(err)
		}
		tokens += len(e.IDs)
	}
	reportPairs(b, tokens, processCPU()-cpu0)
}

// BenchmarkFamilies: one (query, passage) pair per op, as
// BenchmarkEncodePairs, for each family's tokenizer (testdata/families)
// beside bert-base-uncased's WordPiece: xlmr and deberta are Unigram,
// roberta and modernbert byte-level BPE.
func BenchmarkFamilies(b *testing.B) {
	pairs := benchCorpus(b)
	for _, name := range []string{"wordpiece", "xlmr", "deberta", "roberta", "modernbert"} {
		b.Run(name, func(b *testing.B) {
			var tok *Tokenizer
			if name == "wordpiece" {
				tok = benchTokenizer(b)
			} else {
				t, err := LoadDir(filepath.Join(familiesDir, name))
				if err != nil {
					b.Fatal(err)
				}
				tok = t.WithTruncation(Truncation{MaxLength: 512})
			}
			be := tok.NewBatchEncoder()
			one := make([]string, 1)
			tokens := 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				p := pairs[i%len(pairs)]
				one[0] = p.Passage
				encs, err := be.EncodePairs(p.Query, one)
				if err != nil {
					b.Fatal(err)
				}
				tokens += len(encs[0].IDs)
			}
			reportPairs(b, tokens, processCPU()-cpu0)
		})
	}
}
