package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// EngineName is the baseline configuration: the documents in the input
// order (the engine's order).
const EngineName = "engine"

// Ranked is one configuration's output for one query: the document ids best
// first and each document's score by input position (for agreement).
type Ranked struct {
	Order  []string
	Scores []float64
	// Latency of the request; 0 for the engine order.
	Latency time.Duration
}

// Latency summarises the request latencies of a configuration, in ms.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	Mean float64 `json:"mean_ms"`
}

// Agreement compares a configuration with the reference configuration.
type Agreement struct {
	Reference string `json:"reference"`
	// NDCGDiff is this configuration's mean nDCG@10 less the reference's.
	NDCGDiff float64 `json:"ndcg@10_diff"`
	// Spearman is the mean over queries of Spearman's rho between the two
	// configurations' scores of the query's documents (queries with a
	// constant score vector are left out).
	Spearman float64 `json:"spearman"`
	// Top1 is the share of queries whose first document is the same.
	Top1 float64 `json:"top1_agreement"`
	// Top10 is the mean over queries of the share of the reference's first
	// ten documents that are also among this configuration's first ten.
	Top10 float64 `json:"top10_agreement"`
}

// ConfigResult is one configuration's row of the report.
type ConfigResult struct {
	Name string `json:"name"`
	// Request holds the fields added to every /v1/rerank request (none for
	// the engine order).
	Request   map[string]any                `json:"request,omitempty"`
	Mean      map[string]float64            `json:"mean"`
	PerQuery  map[string]map[string]float64 `json:"per_query"`
	Latency   *Latency                      `json:"latency,omitempty"`
	Agreement *Agreement                    `json:"agreement,omitempty"`
	// Orders are the returned rankings (document ids) per query.
	Orders map[string][]string `json:"orders"`
}

// Report is what `crossrank eval` writes as report.json and report.md.
type Report struct {
	Title     string         `json:"title"`
	Input     string         `json:"input"`
	Target    string         `json:"target,omitempty"`
	Queries   int            `json:"queries"`
	Documents int            `json:"documents"`
	Measures  []string       `json:"measures"`
	Created   time.Time      `json:"created"`
	Configs   []ConfigResult `json:"configs"`
}

// Measures lists the report's measures: nDCG@10, RR@10 (MRR@10 as a mean)
// and R@k for each recall cutoff.
func Measures(recallAt []int) []Measure {
	ms := []Measure{{"nDCG", 10}, {"RR", 10}}
	for _, k := range recallAt {
		ms = append(ms, Measure{"R", k})
	}
	return ms
}

// Result scores one configuration's rankings on qs.
func Result(name string, request map[string]any, qs []Query, ranked map[string]Ranked, ms []Measure) ConfigResult {
	run := make(map[string][]string, len(ranked))
	qrels := make(map[string]Qrels, len(qs))
	for _, q := range qs {
		qrels[q.ID] = q.Qrels
		run[q.ID] = ranked[q.ID].Order
	}
	s := Evaluate(run, qrels, ms)
	r := ConfigResult{Name: name, Request: request, Mean: s.Mean, PerQuery: s.PerQuery, Orders: run}
	var lat []float64
	for _, q := range qs {
		if d := ranked[q.ID].Latency; d > 0 {
			lat = append(lat, float64(d)/float64(time.Millisecond))
		}
	}
	if len(lat) > 0 {
		sort.Float64s(lat)
		var sum float64
		for _, v := range lat {
			sum += v
		}
		r.Latency = &Latency{P50: percentile(lat, 0.50), P95: percentile(lat, 0.95), Mean: sum / float64(len(lat))}
	}
	return r
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

// Agree compares cfg's rankings with ref's on qs.
func Agree(refName string, ref, cfg map[string]Ranked, refMean, cfgMean map[string]float64, qs []Query) *Agreement {
	a := &Agreement{Reference: refName, NDCGDiff: cfgMean["nDCG@10"] - refMean["nDCG@10"]}
	var rho, top10 float64
	var nRho, same int
	for _, q := range qs {
		if SameTop(ref[q.ID].Order, cfg[q.ID].Order) {
			same++
		}
		top10 += TopKOverlap(ref[q.ID].Order, cfg[q.ID].Order, 10)
		if v := Spearman(ref[q.ID].Scores, cfg[q.ID].Scores); !math.IsNaN(v) {
			rho += v
			nRho++
		}
	}
	a.Top1 = float64(same) / float64(len(qs))
	a.Top10 = top10 / float64(len(qs))
	a.Spearman = math.NaN()
	if nRho > 0 {
		a.Spearman = rho / float64(nRho)
	}
	return a
}

// Markdown renders the report side by side, one row per configuration.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	fmt.Fprintf(&b, "Input `%s`: %d queries, %d documents", r.Input, r.Queries, r.Documents)
	if r.Target != "" {
		fmt.Fprintf(&b, "; sidecar %s", r.Target)
	}
	fmt.Fprintf(&b, "; %s.\n\n", r.Created.UTC().Format(time.RFC3339))
	b.WriteString("| configuration |")
	for _, m := range r.Measures {
		fmt.Fprintf(&b, " %s |", displayName(m))
	}
	b.WriteString(" p50 ms | p95 ms |\n|---|")
	for range r.Measures {
		b.WriteString("---:|")
	}
	b.WriteString("---:|---:|\n")
	for _, c := range r.Configs {
		fmt.Fprintf(&b, "| %s |", c.Name)
		for _, m := range r.Measures {
			fmt.Fprintf(&b, " %.4f |", c.Mean[m])
		}
		if c.Latency != nil {
			fmt.Fprintf(&b, " %.1f | %.1f |\n", c.Latency.P50, c.Latency.P95)
		} else {
			b.WriteString(" — | — |\n")
		}
	}
	var agree []ConfigResult
	for _, c := range r.Configs {
		if c.Agreement != nil {
			agree = append(agree, c)
		}
	}
	if len(agree) > 0 {
		fmt.Fprintf(&b, "\nAgreement with `%s` (nDCG@10 difference, mean Spearman rho of the scores per query, share of queries with the same top document, mean share of the reference's top ten also in this top ten):\n\n", agree[0].Agreement.Reference)
		b.WriteString("| configuration | ΔnDCG@10 | Spearman | top-1 agreement | top-10 agreement |\n|---|---:|---:|---:|---:|\n")
		for _, c := range agree {
			fmt.Fprintf(&b, "| %s | %+.4f | %.4f | %.4f | %.4f |\n", c.Name, c.Agreement.NDCGDiff, c.Agreement.Spearman, c.Agreement.Top1, c.Agreement.Top10)
		}
	}
	b.WriteString("\nMRR@10 is the mean of RR@10; a document is relevant for MRR and Recall when its label is at least 1. Latency is the client's wall time per /v1/rerank request, one request at a time.\n")
	return b.String()
}

func displayName(m string) string {
	if strings.HasPrefix(m, "RR@") {
		return "MRR@" + strings.TrimPrefix(m, "RR@")
	}
	if strings.HasPrefix(m, "R@") {
		return "Recall@" + strings.TrimPrefix(m, "R@")
	}
	return m
}

// Write writes report.json and report.md into dir (created if needed).
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	js, err := json.MarshalIndent(jsonSafe(r), "", " ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.Markdown()), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// jsonSafe replaces NaN (a Spearman with no usable query), which JSON
// cannot hold, with 0 and returns a copy.
func jsonSafe(r *Report) *Report {
	c := *r
	c.Configs = append([]ConfigResult(nil), r.Configs...)
	for i := range c.Configs {
		if a := c.Configs[i].Agreement; a != nil && math.IsNaN(a.Spearman) {
			cp := *a
			cp.Spearman = 0
			c.Configs[i].Agreement = &cp
		}
	}
	return &c
}
