package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/loader"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

type scoreFlags struct {
	model, query, ortLib, provider, file string
	jsonl                                bool
	threads, batch, label, chunk         int
}

func newScoreCmd() *cobra.Command {
	var f scoreFlags
	c := &cobra.Command{
		Use:   "score --model DIR (--query Q PASSAGE... | --jsonl)",
		Short: "Score (query, passage) pairs with a cross-encoder model folder",
		Long: `score runs the model in DIR over (query, passage) pairs and prints each pair's
logit and score (sigmoid of the logit; for a bi-encoder the logit is the
cosine similarity of the query's and the passage's embeddings and the score
(cosine+1)/2).

With --query, each argument is a passage; one line per passage is printed:
  <logit>\t<score>\t<passage>
With --jsonl, stdin holds one {"query": "...", "passage": "..."} object per
line and stdout gets one {"logit": x, "score": y} object per input line, in
input order. Pairs go through the same engine and dynamic batcher as serve
(no score cache). Pairs longer than the model's maximum are truncated
longest-first, never rejected.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.model == "" {
				return fmt.Errorf("score: --model DIR is required")
			}
			if f.jsonl == (f.query != "") {
				return fmt.Errorf("score: give either --query Q PASSAGE... or --jsonl")
			}
			if f.jsonl && len(args) > 0 {
				return fmt.Errorf("score: --jsonl reads pairs from stdin; unexpected arguments %q", args)
			}
			if !f.jsonl && len(args) == 0 {
				return fmt.Errorf("score: no passages after --query")
			}
			sc, err := newPairScorer(cmd.Context(), f)
			if err != nil {
				return err
			}
			defer sc.close()
			if f.jsonl {
				return sc.jsonl(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
			}
			pairs := make([]pair, len(args))
			for i, p := range args {
				pairs[i] = pair{Query: f.query, Passage: p}
			}
			logits, err := sc.score(cmd.Context(), pairs)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			for i, p := range args {
				fmt.Fprintf(w, "%s\t%s\t%s\n", scoreFloat(float64(logits[i]), 32), scoreFloat(rerank.ScoreOf(sc.m.Kind, logits[i]), 64), scoreOneLine(p))
			}
			return w.Flush()
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.model, "model", "", "model folder (config.json, tokenizer.json, onnx/model.onnx)")
	fl.StringVarP(&f.query, "query", "q", "", "the query; the arguments are the passages")
	fl.BoolVar(&f.jsonl, "jsonl", false, `read {"query","passage"} lines from stdin, write {"logit","score"} lines`)
	fl.StringVar(&f.ortLib, "ort-lib", "", "ONNX Runtime library (default: $CROSSRANK_ORT_LIB, then .cache/ort)")
	fl.IntVar(&f.threads, "threads", 0, "intra-op threads (0: one per core)")
	fl.StringVar(&f.provider, "provider", "cpu", "execution provider: cpu, cuda, tensorrt, coreml")
	fl.StringVar(&f.file, "file", "", "ONNX file inside the folder (default onnx/model.onnx, model.onnx, onnx/model_quantized.onnx)")
	fl.IntVar(&f.label, "label", -1, "logits column to use for multi-class models (-1: the rule of ort.DefaultLabel, as serve uses: an id2label named relevant/positive/yes/true, else the last column)")
	fl.IntVar(&f.batch, "batch", 32, "pairs per model run")
	fl.IntVar(&f.chunk, "chunk", 1024, "with --jsonl: lines read before scoring (bounds memory)")
	return c
}

// pairScorer scores pairs through the same engine and batcher as serve
// (sidecar/rerank), on a model loaded by the one loader (models/loader).
type pairScorer struct {
	m     models.Model
	eng   *rerank.Engine
	chunk int
}

// pair is one (query, passage) pair to score.
type pair struct{ Query, Passage string }

func newPairScorer(ctx context.Context, f scoreFlags) (*pairScorer, error) {
	if f.batch <= 0 || f.chunk <= 0 {
		return nil, fmt.Errorf("score: --batch and --chunk must be > 0")
	}
	opts := []ort.Option{ort.WithLibrary(f.ortLib), ort.WithThreads(f.threads, 1), ort.WithProvider(f.provider), ort.WithLabel(f.label)}
	if f.file != "" {
		opts = append(opts, ort.WithFile(f.file))
	}
	m, err := loader.Load(ctx, "model", f.model, opts...)
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	bc := batcher.DefaultConfig()
	bc.Workers = 1
	bc.MaxBatchPairs = f.batch
	bc.MaxBatchTokens = f.batch * m.Tokenizer.MaxLength() // --batch alone bounds a batch
	bc.MaxQueuePairs = max(bc.MaxQueuePairs, f.chunk)
	eng, err := rerank.New([]models.Model{m}, rerank.WithBatcher(bc), rerank.WithCacheSize(0), rerank.WithMaxDocuments(math.MaxInt32))
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("score: %w", err)
	}
	return &pairScorer{m: m, eng: eng, chunk: f.chunk}, nil
}

func (s *pairScorer) close() {
	_ = s.eng.Close(context.Background())
	s.m.Close()
}

// score returns one logit per pair, in order. Pairs with the same query go
// to the engine as one request; requests run at once so the batcher can mix
// them.
func (s *pairScorer) score(ctx context.Context, pairs []pair) ([]float32, error) {
	groups := map[string][]int{}
	var queries []string
	for i, p := range pairs {
		if _, ok := groups[p.Query]; !ok {
			queries = append(queries, p.Query)
		}
		groups[p.Query] = append(groups[p.Query], i)
	}
	logits := make([]float32, len(pairs))
	errs := make([]error, len(queries))
	var wg sync.WaitGroup
	for qi, q := range queries {
		wg.Go(func() {
			idx := groups[q]
			docs := make([]json.RawMessage, len(idx))
			for j, i := range idx {
				docs[j], _ = json.Marshal(pairs[i].Passage)
			}
			res, err := s.eng.Score(ctx, rerank.Request{Query: q, Documents: docs, DocumentsField: "passages"})
			if err != nil {
				errs[qi] = err
				return
			}
			for j, i := range idx {
				logits[i] = res.Logits[j]
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	return logits, nil
}

// jsonl scores stdin's {"query","passage"} lines chunk by chunk; blank lines
// are skipped and produce no output.
func (s *pairScorer) jsonl(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	w := bufio.NewWriter(out)
	var pairs []pair
	flush := func() error {
		if len(pairs) == 0 {
			return nil
		}
		logits, err := s.score(ctx, pairs)
		if err != nil {
			return err
		}
		var buf []byte
		for _, x := range logits {
			buf = append(buf[:0], `{"logit": `...)
			buf = append(buf, scoreFloat(float64(x), 32)...)
			buf = append(buf, `, "score": `...)
			buf = append(buf, scoreFloat(rerank.ScoreOf(s.m.Kind, x), 64)...)
			buf = append(buf, "}\n"...)
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("score: write: %w", err)
			}
		}
		pairs = pairs[:0]
		return w.Flush()
	}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var in struct {
			Query   *string `json:"query"`
			Passage *string `json:"passage"`
		}
		if err := json.Unmarshal([]byte(text), &in); err != nil {
			return fmt.Errorf("score: stdin line %d: %w", line, err)
		}
		if in.Query == nil || in.Passage == nil {
			return fmt.Errorf(`score: stdin line %d: want {"query": "...", "passage": "..."}`, line)
		}
		pairs = append(pairs, pair{Query: *in.Query, Passage: *in.Passage})
		if len(pairs) >= s.chunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("score: read stdin: %w", err)
	}
	return flush()
}

// scoreFloat writes x in the shortest form that reads back exactly at the
// given precision, always as a float ("1.0", never "1").
func scoreFloat(x float64, bits int) string {
	s := strconv.FormatFloat(x, 'g', -1, bits)
	if !strings.ContainsAny(s, ".eEnN") { // not NaN/Inf, no dot or exponent
		s += ".0"
	}
	return s
}

func scoreOneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s)
}
