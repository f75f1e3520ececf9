package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/eval"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/sidecar/config"
)

// TestEvalEndToEnd serves the trained bi-encoder in process with the
// shipped head and best_window pipelines, runs `crossrank eval` on the
// shipped labelled set over loopback HTTP, and checks report.json's
// structure and that every configuration's measures equal internal/eval's
// values for the orders the sidecar returned.
func TestEvalEndToEnd(t *testing.T) {
	root := testenv.Root(t)
	set := filepath.Join(root, "testdata", "eval", "passages.jsonl")
	base, stop, err := startInProcess(context.Background(), testenv.MiniLMDir(t), func(c *config.Config) {
		c.ORTLib = testenv.ORTLib(t)
		c.PluginDir = filepath.Join(root, "plugins", "wasm")
		c.PipelinesFile = filepath.Join(root, "testdata", "eval", "pipelines.yaml")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	dir := t.TempDir()
	out, err := runCommand(t, newEvalCmd, "", "--input", set, "--target", base,
		"--pipeline", "head", "--pipeline", "best_window", "--recall-at", "3,10", "--report", dir)
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep eval.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(set)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	qs, err := eval.ReadJSONL(fh)
	if err != nil {
		t.Fatal(err)
	}
	wantMeasures := []string{"nDCG@10", "RR@10", "R@3", "R@10"}
	if !slices.Equal(rep.Measures, wantMeasures) || rep.Queries != len(qs) || rep.Target != base {
		t.Fatalf("report header: measures %v, queries %d, target %q", rep.Measures, rep.Queries, rep.Target)
	}
	var names []string
	for _, c := range rep.Configs {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"engine", "pipeline=head", "pipeline=best_window"}) {
		t.Fatalf("configurations %v", names)
	}
	ms := eval.Measures([]int{3, 10})
	for _, c := range rep.Configs {
		for _, q := range qs {
			order := c.Orders[q.ID]
			sorted := slices.Sorted(slices.Values(order))
			if want := slices.Sorted(slices.Values(q.DocIDs)); !slices.Equal(sorted, want) {
				t.Fatalf("%s %s: order %v is not a permutation of the documents", c.Name, q.ID, order)
			}
			if c.Name == eval.EngineName && !slices.Equal(order, q.DocIDs) {
				t.Fatalf("engine order of %s is not the input order", q.ID)
			}
			for _, m := range ms {
				if got, want := c.PerQuery[q.ID][m.String()], m.Of(order, q.Qrels); math.Abs(got-want) > 1e-12 {
					t.Errorf("%s %s %s = %v, metric package %v", c.Name, q.ID, m, got, want)
				}
			}
		}
		run := map[string][]string{}
		qrels := map[string]eval.Qrels{}
		for _, q := range qs {
			run[q.ID], qrels[q.ID] = c.Orders[q.ID], q.Qrels
		}
		mean := eval.Evaluate(run, qrels, ms).Mean
		for _, m := range wantMeasures {
			if math.Abs(c.Mean[m]-mean[m]) > 1e-12 {
				t.Errorf("%s mean %s = %v, metric package %v", c.Name, m, c.Mean[m], mean[m])
			}
		}
		if (c.Latency == nil) != (c.Name == eval.EngineName) || (c.Latency != nil && (c.Latency.P50 <= 0 || c.Latency.P95 < c.Latency.P50)) {
			t.Errorf("%s latency %+v", c.Name, c.Latency)
		}
	}
	head, window := rep.Configs[1], rep.Configs[2]
	if a := window.Agreement; a == nil || a.Reference != "pipeline=head" || a.Top1 < 0 || a.Top1 > 1 ||
		math.Abs(a.NDCGDiff-(window.Mean["nDCG@10"]-head.Mean["nDCG@10"])) > 1e-12 {
		t.Errorf("best_window agreement %+v", window.Agreement)
	}
	if head.Agreement != nil || rep.Configs[0].Agreement != nil {
		t.Error("the reference and the engine order have no agreement row")
	}
	// The set's long passages hold their answer deep: best_window must keep it.
	if window.Mean["nDCG@10"] <= head.Mean["nDCG@10"] {
		t.Errorf("best_window nDCG@10 %.4f not above head %.4f", window.Mean["nDCG@10"], head.Mean["nDCG@10"])
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| configuration | nDCG@10 | MRR@10 | Recall@3 | Recall@10 | p50 ms | p95 ms |", "| pipeline=best_window |", "Agreement with `pipeline=head`"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

// TestEvalBadInput: bad flags and input are errors that name the problem,
// before any request is sent.
func TestEvalBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"query":"a","documents":["x"],"labels":[1]}`+"\n"+`{"query":"b","documents":["x","y"],"labels":[1]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no target", []string{"--input", bad}, "--target"},
		{"labels mismatch", []string{"--input", bad, "--target", "http://127.0.0.1:1"}, "line 2: 1 labels for 2 documents"},
		{"no input", []string{"--target", "http://127.0.0.1:1"}, "no input"},
		{"both inputs", []string{"--input", bad, "--run", bad, "--target", "http://127.0.0.1:1"}, "not both"},
		{"trec incomplete", []string{"--run", bad, "--target", "http://127.0.0.1:1"}, "needs --topics"},
		{"bad config", []string{"--input", bad, "--target", "http://127.0.0.1:1", "--config", "x=[1]"}, "JSON object"},
		{"config sets query", []string{"--input", bad, "--target", "http://127.0.0.1:1", "--config", `x={"query":"q"}`}, `"query" comes from the input`},
		{"duplicate name", []string{"--input", bad, "--target", "http://127.0.0.1:1", "--model", "a", "--model", "a"}, "used twice"},
		{"bad cutoff", []string{"--input", bad, "--target", "http://127.0.0.1:1", "--recall-at", "0"}, "at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCommand(t, newEvalCmd, "", append(tt.args, "--report", filepath.Join(dir, "r"))...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
