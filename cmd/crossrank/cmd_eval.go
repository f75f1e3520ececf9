package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crossrank/crossrank/internal/eval"
)

type evalFlags struct {
	input, topics, qrels, run, corpus string
	depth                             int
	target, apiKey, report, title     string
	reference                         string
	models, pipelines, cascades       []string
	configs                           []string
	recallAt                          []int
	timeout                           time.Duration
}

func newEvalCmd() *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure ranking quality (nDCG@10, MRR@10, Recall@k) and latency of configurations on a labelled set",
		Long: `eval reranks a labelled set through a running sidecar's /v1/rerank once per
configuration and writes DIR/report.md and DIR/report.json: nDCG@10, MRR@10,
Recall@k and the latency (p50/p95) per configuration, side by side with the
input order ("engine"), and each configuration's agreement with the
reference (the first configuration, or --reference): nDCG@10 difference,
mean Spearman rho of the scores, top-1 agreement.

Input: --input JSONL, one {"query", "documents", "labels", "id"?} per line
(documents in the engine's order, labels their integer grades), or TREC
files --topics (qid<TAB>text) --qrels --run --corpus (JSONL {"_id","text"}
or docid<TAB>text).

Configurations, each a set of request fields: --model NAME, --pipeline NAME,
--cascade NAME (each repeatable, one configuration per value) and
--config 'name={"model":"m","pipeline":"p"}' (repeatable, any request fields
but query and documents). None: one configuration, the sidecar's default.

  crossrank eval --input testdata/eval/passages.jsonl --target http://127.0.0.1:8080 \
      --model fp32 --model int8 --report out/eval
  crossrank eval --topics topics.tsv --qrels qrels.txt --run bm25.run --corpus corpus.jsonl \
      --target http://127.0.0.1:8080 --cascade fast --recall-at 10,100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEval(cmd.Context(), cmd.OutOrStdout(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.input, "input", "", "labelled set: JSONL {\"query\", \"documents\", \"labels\"} per line")
	fl.StringVar(&f.topics, "topics", "", "TREC: topics file, qid<TAB>text per line")
	fl.StringVar(&f.qrels, "qrels", "", "TREC: qrels file (qid iter docid label)")
	fl.StringVar(&f.run, "run", "", "TREC: run file (qid Q0 docid rank score tag), the engine's order")
	fl.StringVar(&f.corpus, "corpus", "", "TREC: documents' texts, JSONL {\"_id\", \"title\"?, \"text\"} or docid<TAB>text")
	fl.IntVar(&f.depth, "depth", 100, "TREC: rerank the run's first N documents per query (0: all)")
	fl.StringVar(&f.target, "target", "", "base URL of a running sidecar (required)")
	fl.StringVar(&f.apiKey, "api-key", os.Getenv("CROSSRANK_API_KEY"), "API key sent as Authorization: Bearer (default $CROSSRANK_API_KEY)")
	fl.StringArrayVar(&f.models, "model", nil, "configuration: this served model (repeatable)")
	fl.StringArrayVar(&f.pipelines, "pipeline", nil, "configuration: this pipeline (repeatable)")
	fl.StringArrayVar(&f.cascades, "cascade", nil, "configuration: this cascade (repeatable)")
	fl.StringArrayVar(&f.configs, "config", nil, `configuration: name={"field": value, ...} request fields (repeatable)`)
	fl.StringVar(&f.reference, "reference", "", "configuration the others are compared with (default: the first)")
	fl.IntSliceVar(&f.recallAt, "recall-at", []int{10}, "Recall cutoffs")
	fl.StringVar(&f.report, "report", "", "write report.md and report.json into this folder (default out/eval-<time>)")
	fl.StringVar(&f.title, "title", "crossrank eval", "report title")
	fl.DurationVar(&f.timeout, "timeout", time.Minute, "per-request timeout")
	return cmd
}

// evalConfig is one configuration: a name and the fields it adds to every
// request.
type evalConfig struct {
	name   string
	fields map[string]any
}

func evalConfigs(f evalFlags) ([]evalConfig, error) {
	var cs []evalConfig
	for _, g := range []struct {
		field  string
		values []string
	}{{"model", f.models}, {"pipeline", f.pipelines}, {"cascade", f.cascades}} {
		for _, v := range g.values {
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("eval: --%s with an empty name", g.field)
			}
			cs = append(cs, evalConfig{g.field + "=" + v, map[string]any{g.field: v}})
		}
	}
	for _, c := range f.configs {
		name, js, ok := strings.Cut(c, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("eval: --config %q: want name={json object}", c)
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(js), &fields); err != nil || fields == nil {
			return nil, fmt.Errorf("eval: --config %s: want a JSON object of request fields: %v", name, err)
		}
		for _, k := range []string{"query", "documents"} {
			if _, bad := fields[k]; bad {
				return nil, fmt.Errorf("eval: --config %s: %q comes from the input, not a configuration", name, k)
			}
		}
		cs = append(cs, evalConfig{name, fields})
	}
	if len(cs) == 0 {
		cs = []evalConfig{{"default", map[string]any{}}}
	}
	seen := map[string]bool{eval.EngineName: true}
	for _, c := range cs {
		if seen[c.name] {
			return nil, fmt.Errorf("eval: configuration name %q used twice (or reserved)", c.name)
		}
		seen[c.name] = true
	}
	return cs, nil
}

func readEvalInput(f evalFlags) ([]eval.Query, string, error) {
	trec := f.topics != "" || f.qrels != "" || f.run != "" || f.corpus != ""
	switch {
	case f.input != "" && trec:
		return nil, "", errors.New("eval: --input or --topics/--qrels/--run/--corpus, not both")
	case f.input != "":
		fh, err := os.Open(f.input)
		if err != nil {
			return nil, "", fmt.Errorf("eval: %w", err)
		}
		defer fh.Close()
		qs, err := eval.ReadJSONL(fh)
		if err != nil {
			return nil, "", fmt.Errorf("eval: %s: %w", f.input, err)
		}
		return qs, f.input, nil
	case trec:
		var rs []io.Reader
		for _, p := range []struct{ flag, path string }{{"topics", f.topics}, {"qrels", f.qrels}, {"run", f.run}, {"corpus", f.corpus}} {
			if p.path == "" {
				return nil, "", fmt.Errorf("eval: TREC input needs --%s", p.flag)
			}
			fh, err := os.Open(p.path)
			if err != nil {
				return nil, "", fmt.Errorf("eval: --%s: %w", p.flag, err)
			}
			defer fh.Close()
			rs = append(rs, fh)
		}
		qs, err := eval.ReadTREC(rs[0], rs[1], rs[2], rs[3], f.depth)
		if err != nil {
			return nil, "", fmt.Errorf("eval: %w", err)
		}
		return qs, f.run, nil
	}
	return nil, "", errors.New("eval: no input: --input FILE.jsonl, or --topics, --qrels, --run and --corpus")
}

func runEval(ctx context.Context, out io.Writer, f evalFlags) error {
	if f.target == "" {
		return errors.New("eval: --target URL of a running sidecar is required")
	}
	cs, err := evalConfigs(f)
	if err != nil {
		return err
	}
	for _, k := range f.recallAt {
		if k < 1 {
			return fmt.Errorf("eval: --recall-at %d: a cutoff is at least 1", k)
		}
	}
	qs, input, err := readEvalInput(f)
	if err != nil {
		return err
	}
	ms := eval.Measures(f.recallAt)
	rep := &eval.Report{Title: f.title, Input: input, Target: f.target, Queries: len(qs), Created: time.Now()}
	for _, m := range ms {
		rep.Measures = append(rep.Measures, m.String())
	}
	engine := map[string]eval.Ranked{}
	for _, q := range qs {
		rep.Documents += len(q.Documents)
		sc := make([]float64, len(q.DocIDs))
		for i := range sc {
			sc[i] = -float64(i)
		}
		engine[q.ID] = eval.Ranked{Order: q.DocIDs, Scores: sc}
	}
	rep.Configs = append(rep.Configs, eval.Result(eval.EngineName, nil, qs, engine, ms))
	refName := f.reference
	if refName == "" {
		refName = cs[0].name
	}
	rankings := map[string]map[string]eval.Ranked{eval.EngineName: engine}
	client := &http.Client{}
	url := strings.TrimRight(f.target, "/") + "/v1/rerank"
	for _, c := range cs {
		ranked := map[string]eval.Ranked{}
		for _, q := range qs {
			r, err := rerankOnce(ctx, client, url, f.apiKey, f.timeout, c, q)
			if err != nil {
				return fmt.Errorf("eval: configuration %s, query %s: %w", c.name, q.ID, err)
			}
			ranked[q.ID] = r
		}
		rankings[c.name] = ranked
		rep.Configs = append(rep.Configs, eval.Result(c.name, c.fields, qs, ranked, ms))
		fmt.Fprintf(out, "%s: nDCG@10 %.4f\n", c.name, rep.Configs[len(rep.Configs)-1].Mean["nDCG@10"])
	}
	ref, ok := rankings[refName]
	if !ok {
		return fmt.Errorf("eval: --reference %q is not a configuration", refName)
	}
	var refMean map[string]float64
	for _, c := range rep.Configs {
		if c.Name == refName {
			refMean = c.Mean
		}
	}
	for i := range rep.Configs {
		c := &rep.Configs[i]
		if c.Name != refName && c.Name != eval.EngineName {
			c.Agreement = eval.Agree(refName, ref, rankings[c.Name], refMean, c.Mean, qs)
		}
	}
	dir := f.report
	if dir == "" {
		dir = "out/eval-" + time.Now().UTC().Format("20060102-150405")
	}
	if err := rep.Write(dir); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	fmt.Fprintf(out, "report: %s/report.md, %s/report.json\n", dir, dir)
	return nil
}

// rerankOnce sends one query of the set with c's fields and returns the
// ranking, the scores by input position and the request's latency.
func rerankOnce(ctx context.Context, client *http.Client, url, key string, timeout time.Duration, c evalConfig, q eval.Query) (eval.Ranked, error) {
	body := make(map[string]any, len(c.fields)+2)
	for k, v := range c.fields {
		body[k] = v
	}
	body["query"] = q.Text
	body["documents"] = q.Documents
	raw, err := json.Marshal(body)
	if err != nil {
		return eval.Ranked{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return eval.Ranked{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return eval.Ranked{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	lat := time.Since(start)
	if err != nil {
		return eval.Ranked{}, fmt.Errorf("reading the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return eval.Ranked{}, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var res struct {
		Results []struct {
			Index *int     `json:"index"`
			Score *float64 `json:"relevance_score"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return eval.Ranked{}, fmt.Errorf("response is not a /v1/rerank response: %w", err)
	}
	r := eval.Ranked{Scores: make([]float64, len(q.DocIDs)), Latency: lat}
	for i := range r.Scores {
		r.Scores[i] = math.Inf(-1) // not returned (top_n): last
	}
	seen := make([]bool, len(q.DocIDs))
	for _, x := range res.Results {
		if x.Index == nil || x.Score == nil || *x.Index < 0 || *x.Index >= len(q.DocIDs) || seen[*x.Index] {
			return eval.Ranked{}, errors.New("response has a result without a valid, distinct index and a relevance_score")
		}
		seen[*x.Index] = true
		r.Order = append(r.Order, q.DocIDs[*x.Index])
		r.Scores[*x.Index] = *x.Score
	}
	return r, nil
}
