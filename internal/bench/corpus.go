package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
)

// Corpus supplies the material of each bench request.
type Corpus interface {
	// Request returns the query and the batch documents (each a JSON value:
	// a string or an object) of request i.
	Request(i, batch int) (query string, docs []json.RawMessage)
	// Name describes the corpus in the report.
	Name() string
}

// SyntheticConfig shapes the synthetic MS MARCO-like corpus.
type SyntheticConfig struct {
	Seed          uint64
	Queries       int     // distinct queries (default 1000)
	Passages      int     // distinct passages (default 10000)
	QueryMinWords int     // default 3
	QueryMaxWords int     // default 10
	PassageMedian float64 // median passage words (default 55)
	PassageSigma  float64 // log-normal sigma (default 0.45)
	PassageMin    int     // default 8
	PassageMax    int     // default 250
}

func (c SyntheticConfig) withDefaults() SyntheticConfig {
	if c.Queries <= 0 {
		c.Queries = 1000
	}
	if c.Passages <= 0 {
		c.Passages = 10000
	}
	if c.QueryMinWords <= 0 {
		c.QueryMinWords = 3
	}
	if c.QueryMaxWords < c.QueryMinWords {
		c.QueryMaxWords = max(10, c.QueryMinWords)
	}
	if c.PassageMedian <= 0 {
		c.PassageMedian = 55
	}
	if c.PassageSigma <= 0 {
		c.PassageSigma = 0.45
	}
	if c.PassageMin <= 0 {
		c.PassageMin = 8
	}
	if c.PassageMax < c.PassageMin {
		c.PassageMax = max(250, c.PassageMin)
	}
	return c
}

// Synthetic is a fixed-seed MS MARCO-like corpus: queries of 3–10 words and
// passages whose word counts are log-normal around 55 words, drawn from
// common English words with a Zipf distribution.
type Synthetic struct {
	cfg      SyntheticConfig
	queries  []string
	passages []json.RawMessage
	words    []int // passage word counts
}

// NewSynthetic builds the corpus; the same config always gives the same text.
func NewSynthetic(cfg SyntheticConfig) *Synthetic {
	cfg = cfg.withDefaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	vocab := commonWords()
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(vocab)-1))
	sentence := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(vocab[zipf.Uint64()])
		}
		return b.String()
	}
	s := &Synthetic{cfg: cfg}
	for i := 0; i < cfg.Queries; i++ {
		n := cfg.QueryMinWords + rng.IntN(cfg.QueryMaxWords-cfg.QueryMinWords+1)
		s.queries = append(s.queries, sentence(n))
	}
	mu := math.Log(cfg.PassageMedian)
	for i := 0; i < cfg.Passages; i++ {
		n := int(math.Round(math.Exp(mu + cfg.PassageSigma*rng.NormFloat64())))
		n = min(max(n, cfg.PassageMin), cfg.PassageMax)
		text := sentence(n)
		// Sentence case and a full stop, as in real passages.
		text = strings.ToUpper(text[:1]) + text[1:] + "."
		b, _ := json.Marshal(text)
		s.passages = append(s.passages, b)
		s.words = append(s.words, n)
	}
	return s
}

// Name implements Corpus.
func (s *Synthetic) Name() string {
	return fmt.Sprintf("synthetic MS MARCO-like (seed %d, %d queries, %d passages)", s.cfg.Seed, len(s.queries), len(s.passages))
}

// Request implements Corpus: query i mod Queries, and batch consecutive
// passages starting at i·batch mod Passages.
func (s *Synthetic) Request(i, batch int) (string, []json.RawMessage) {
	docs := make([]json.RawMessage, batch)
	off := (i * batch) % len(s.passages)
	for j := range docs {
		docs[j] = s.passages[(off+j)%len(s.passages)]
	}
	return s.queries[i%len(s.queries)], docs
}

// QueryWords returns the word count of each query.
func (s *Synthetic) QueryWords() []int {
	out := make([]int, len(s.queries))
	for i, q := range s.queries {
		out[i] = len(strings.Fields(q))
	}
	return out
}

// PassageWords returns the word count of each passage.
func (s *Synthetic) PassageWords() []int { return append([]int(nil), s.words...) }

// FileCorpus is a JSONL corpus: one {"query": "...", "documents": [...]}
// object per line ("passages" is accepted for "documents"; documents are
// strings or objects). A request with more documents than its line has is
// filled with documents of the following lines.
type FileCorpus struct {
	name    string
	queries []string
	docs    [][]json.RawMessage
	offs    []int // index in pool of each line's first document
	pool    []json.RawMessage
}

// LoadCorpus reads a JSONL corpus file.
func LoadCorpus(path string) (*FileCorpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: corpus: %w", err)
	}
	defer f.Close()
	c, err := ReadCorpus(f)
	if err != nil {
		return nil, fmt.Errorf("bench: corpus %s: %w", path, err)
	}
	c.name = path
	return c, nil
}

// ReadCorpus reads a JSONL corpus.
func ReadCorpus(r io.Reader) (*FileCorpus, error) {
	c := &FileCorpus{name: "corpus"}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var rec struct {
			Query     *string           `json:"query"`
			Documents []json.RawMessage `json:"documents"`
			Passages  []json.RawMessage `json:"passages"`
		}
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if rec.Query == nil {
			return nil, fmt.Errorf("line %d: no \"query\"", line)
		}
		docs := rec.Documents
		if len(docs) == 0 {
			docs = rec.Passages
		}
		if len(docs) == 0 {
			return nil, fmt.Errorf("line %d: no \"documents\"", line)
		}
		c.queries = append(c.queries, *rec.Query)
		c.docs = append(c.docs, docs)
		c.offs = append(c.offs, len(c.pool))
		c.pool = append(c.pool, docs...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(c.queries) == 0 {
		return nil, fmt.Errorf("no queries")
	}
	return c, nil
}

// Name implements Corpus.
func (c *FileCorpus) Name() string { return c.name }

// Request implements Corpus.
func (c *FileCorpus) Request(i, batch int) (string, []json.RawMessage) {
	k := i % len(c.queries)
	docs := make([]json.RawMessage, 0, batch)
	docs = append(docs, c.docs[k][:min(batch, len(c.docs[k]))]...)
	// Fill from the pool after this line's documents.
	for p := c.offs[k] + len(c.docs[k]); len(docs) < batch; p++ {
		docs = append(docs, c.pool[p%len(c.pool)])
	}
	return c.queries[k], docs
}

// WriteRequests writes requests 0..n-1 of corpus, batch documents each, as a
// JSONL corpus: replaying it with the same batch sends the same requests, and
// the peer benches (scripts/peers) score exactly these pairs.
func WriteRequests(w io.Writer, corpus Corpus, n, batch int) error {
	if n < 1 || batch < 1 {
		return fmt.Errorf("bench: write requests: need n ≥ 1 and batch ≥ 1, got %d and %d", n, batch)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := 0; i < n; i++ {
		q, docs := corpus.Request(i, batch)
		if err := enc.Encode(struct {
			Query     string            `json:"query"`
			Documents []json.RawMessage `json:"documents"`
		}{q, docs}); err != nil {
			return fmt.Errorf("bench: write requests: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("bench: write requests: %w", err)
	}
	return nil
}
