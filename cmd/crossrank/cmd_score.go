package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crossrank/crossrank/models/modeldir"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/models/tokenizer"
)

func init() { register(newScoreCmd) }

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
logit and score (sigmoid of the logit).

With --query, each argument is a passage; one line per passage is printed:
  <logit>\t<score>\t<passage>
With --jsonl, stdin holds one {"query": "...", "passage": "..."} object per
line and stdout gets one {"logit": x, "score": y} object per input line, in
input order (pairs are batched internally). Pairs longer than the model's
maximum are truncated longest-first, never rejected.`,
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
			pairs := make([]ort.Pair, len(args))
			for i, p := range args {
				pairs[i] = ort.Pair{Query: f.query, Passage: p}
			}
			logits, err := sc.score(cmd.Context(), pairs)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			for i, p := range args {
				fmt.Fprintf(w, "%s\t%s\t%s\n", scoreFloat(float64(logits[i]), 32), scoreFloat(scoreSigmoid(logits[i]), 64), scoreOneLine(p))
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
	fl.IntVar(&f.label, "label", 0, "logits column to use for multi-class models")
	fl.IntVar(&f.batch, "batch", 32, "pairs per model run")
	fl.IntVar(&f.chunk, "chunk", 1024, "with --jsonl: lines read before scoring (bounds memory)")
	return c
}

type pairScorer struct {
	sess  *ort.Session
	enc   ort.PairEncoder
	batch int
	chunk int
}

func newPairScorer(ctx context.Context, f scoreFlags) (*pairScorer, error) {
	if f.batch <= 0 || f.chunk <= 0 {
		return nil, fmt.Errorf("score: --batch and --chunk must be > 0")
	}
	md, err := modeldir.Open(f.model, modeldir.WithFile(f.file))
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	tokPath, err := md.RequireTokenizer()
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	sess, err := ort.Load(ctx, f.model, ort.WithLibrary(f.ortLib), ort.WithThreads(f.threads, 1),
		ort.WithProvider(f.provider), ort.WithLabel(f.label), ort.WithFile(md.File))
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("score: %w", err)
	}
	tok = tok.WithTruncation(tokenizer.Truncation{MaxLength: sess.Info().MaxLength, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Right})
	enc := func(q, p string) ([]int64, []int64, error) {
		e, err := tok.EncodePair(q, p)
		return e.IDs, e.TypeIDs, err
	}
	return &pairScorer{sess: sess, enc: enc, batch: f.batch, chunk: f.chunk}, nil
}

func (s *pairScorer) close() { s.sess.Close() }

func (s *pairScorer) score(ctx context.Context, pairs []ort.Pair) ([]float32, error) {
	logits, err := ort.ScorePairs(ctx, s.sess, s.enc, pairs, s.batch)
	if err != nil {
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
	var pairs []ort.Pair
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
			buf = append(buf, scoreFloat(scoreSigmoid(x), 64)...)
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
		pairs = append(pairs, ort.Pair{Query: *in.Query, Passage: *in.Passage})
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

func scoreSigmoid(x float32) float64 { return 1 / (1 + math.Exp(-float64(x))) }

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
