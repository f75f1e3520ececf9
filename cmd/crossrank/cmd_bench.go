package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/crossrank/crossrank/internal/bench"
	"github.com/crossrank/crossrank/sidecar/config"
)

type benchFlags struct {
	target, model, corpus, sweep, report, name, description, modelName string
	synthetic                                                          bool
	seed                                                               uint64
	batch, concurrency, requests, warmup                               int
	rate                                                               float64
	duration, soak, timeout                                            time.Duration
	quiet                                                              bool
	writeRequests                                                      string
	// Rate sweep (latency–throughput curve) and capacity line.
	rateSweep           string
	capacityConcurrency int
	capacity            float64
	deadline            time.Duration
	targetQPS           float64
	topK                int
	p95Target           time.Duration
	// In-process sidecar (--model) tuning.
	threads, workers, cacheSize, maxBatchPairs int
	provider                                   string
	edf                                        bool
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a sidecar and write report.md, report.json and plots",
		Long: `bench sends rerank requests (POST /v1/rerank) to a sidecar, in a closed loop
(--concurrency) or an open loop (--rate), for one configuration or a sweep,
polls its /v1/stats every second, and writes DIR/report.md (the reference
report's sections and tables), DIR/report.json and PNG plots.

  crossrank bench --target http://127.0.0.1:8080 --synthetic --batch 64 --concurrency 2 --duration 60s --report out/bench
  crossrank bench --model .cache/models/twin --sweep "batch=16,32,64;concurrency=1,2,4" --duration 20s --report out/sweep
  crossrank bench --target http://127.0.0.1:8080 --soak 10m --report out/soak
  crossrank bench --model .cache/models/twin --rate-sweep auto --batch 32 --duration 20s \
      --target-qps 50 --top-k 32 --p95-target 1s --report out/curve

--rate-sweep first measures the capacity in a closed loop (--capacity-concurrency
requests in flight), then offers open-loop rates at the given fractions of it
(auto: 0.2,0.4,0.6,0.8,0.9,1.0,1.2) and writes the latency–throughput curve
(p50/p95/p99, p99/p50, achieved throughput, requests dropped past their
deadline, the knee) into the report; with --target-qps it adds the capacity
line: replicas of this machine needed for that load at --p95-target.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "", "base URL of a running sidecar (e.g. http://127.0.0.1:8080)")
	fl.StringVar(&f.model, "model", "", "model folder: start a sidecar in-process on it instead of --target")
	fl.StringVar(&f.corpus, "corpus", "", "JSONL corpus: one {\"query\", \"documents\": [...]} per line")
	fl.BoolVar(&f.synthetic, "synthetic", false, "synthetic MS MARCO-like corpus (the default without --corpus)")
	fl.Uint64Var(&f.seed, "seed", 42, "seed of the synthetic corpus")
	fl.IntVar(&f.batch, "batch", 32, "documents per request")
	fl.IntVar(&f.concurrency, "concurrency", 1, "closed loop: requests in flight")
	fl.Float64Var(&f.rate, "rate", 0, "open loop: requests per second (overrides --concurrency)")
	fl.StringVar(&f.sweep, "sweep", "", `sweep, e.g. "batch=16,32,64;concurrency=1,2,4"`)
	fl.DurationVar(&f.duration, "duration", 0, "measure each configuration this long (default 30s unless --requests)")
	fl.IntVar(&f.requests, "requests", 0, "measure each configuration over this many requests")
	fl.IntVar(&f.warmup, "warmup", 2, "unmeasured warm-up requests per configuration")
	fl.DurationVar(&f.soak, "soak", 0, "soak: hold the load this long and report errors, memory growth and latency drift")
	fl.DurationVar(&f.timeout, "timeout", time.Minute, "per-request timeout")
	fl.StringVar(&f.report, "report", "", "write the report into this folder (default out/bench-<time>)")
	fl.StringVar(&f.name, "name", "crossrank bench", "report title")
	fl.StringVar(&f.description, "description", "", "report subtitle")
	fl.StringVar(&f.modelName, "model-name", "", "\"model\" field sent with each request (multi-model sidecars)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress bar")
	fl.IntVar(&f.threads, "threads", 0, "--model: intra-op threads per batch (default: serve's)")
	fl.IntVar(&f.workers, "workers", 0, "--model: batches run at once (default: serve's)")
	fl.IntVar(&f.cacheSize, "cache-size", 0, "--model: score-cache entries (default 0: measure the model, not the cache)")
	fl.IntVar(&f.maxBatchPairs, "max-batch-pairs", 0, "--model: pairs per batch (default: serve's)")
	fl.BoolVar(&f.edf, "edf", false, "--model: schedule earliest deadline first (serve's edf)")
	fl.StringVar(&f.provider, "provider", "", "--model: execution provider (default: serve's, cpu)")
	fl.StringVar(&f.rateSweep, "rate-sweep", "", `latency–throughput sweep: open-loop rates at these fractions of the measured capacity ("auto": 0.2,0.4,0.6,0.8,0.9,1.0,1.2)`)
	fl.IntVar(&f.capacityConcurrency, "capacity-concurrency", 4, "--rate-sweep: requests in flight of the closed-loop capacity run")
	fl.Float64Var(&f.capacity, "capacity", 0, "--rate-sweep: capacity in requests/s to use instead of measuring it")
	fl.DurationVar(&f.deadline, "deadline", 0, "send each request timeout_ms = this (the sidecar drops pairs still queued past it; default: none sent)")
	fl.Float64Var(&f.targetQPS, "target-qps", 0, "--rate-sweep: write the capacity line for this many requests/s")
	fl.IntVar(&f.topK, "top-k", 0, "--rate-sweep: pairs per request of the capacity line (default --batch)")
	fl.DurationVar(&f.p95Target, "p95-target", 0, "--rate-sweep: p95 latency the capacity line must meet")
	fl.StringVar(&f.writeRequests, "write-requests", "", "write --requests requests of --batch documents from the corpus to this JSONL file and exit (for the peer benches)")
	return cmd
}

func runBench(cmd *cobra.Command, f benchFlags) error {
	ctx := cmd.Context()
	if f.writeRequests != "" {
		return writeRequests(f)
	}
	configs, err := benchConfigs(f)
	if err != nil {
		return err
	}
	corpus, err := benchCorpus(f)
	if err != nil {
		return err
	}
	target, stop, err := benchTarget(ctx, f)
	if err != nil {
		return err
	}
	defer stop()
	client, err := bench.NewClient(target, f.modelName)
	if err != nil {
		return err
	}
	client.SetDeadline(f.deadline)
	dir := f.report
	if dir == "" {
		dir = filepath.Join("out", "bench-"+time.Now().Format("20060102-150405"))
	}
	opts := bench.Options{Name: f.name, Description: f.description, Client: client, Corpus: corpus,
		Configs: configs, Soak: f.soak > 0}
	if f.soak > 0 && opts.Description == "" {
		opts.Description = fmt.Sprintf("Soak: %s at %s", f.soak, configs[0].Label())
	}
	stderr := cmd.ErrOrStderr()
	if !f.quiet && isTerminal(stderr) {
		opts.Progress = progressBars(stderr, len(configs))
	}
	var rep *bench.Report
	if f.rateSweep != "" {
		rep, err = bench.Sweep(ctx, opts, sweepOf(f, configs[0]))
	} else {
		rep, err = bench.Bench(ctx, opts)
	}
	if err != nil {
		return err
	}
	if err := rep.Write(dir); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	for _, c := range rep.Configs {
		fmt.Fprintf(out, "%-28s %6d req  %5d err  lat p50 %7.1fms p95 %7.1fms  %8.1f pairs/s\n",
			c.Label, c.Requests, c.Errors, c.Latency.P50, c.Latency.P95, c.AggThroughput)
	}
	if c := rep.Curve; c != nil {
		fmt.Fprintf(out, "capacity %.2f req/s; %s\n", c.CapacityRPS, c.KneeRule)
		for i, pt := range c.Points {
			mark := ""
			if i == c.Knee {
				mark = "  <- knee"
			}
			fmt.Fprintf(out, "offered %7.2f/s (%.2fx)  achieved %7.2f/s  p50 %7.1fms p95 %7.1fms p99 %7.1fms  p99/p50 %.2f  dropped %d  errors %d%s\n",
				pt.OfferedRPS, pt.Fraction, pt.AchievedRPS, pt.P50, pt.P95, pt.P99, pt.P99OverP50, pt.Dropped, pt.Errors, mark)
		}
		if c.Plan != nil {
			fmt.Fprintln(out, c.Plan.Line)
		}
	}
	fmt.Fprintf(out, "report: %s\n", filepath.Join(dir, "report.md"))
	return nil
}

func writeRequests(f benchFlags) error {
	var corpus bench.Corpus = bench.NewSynthetic(bench.SyntheticConfig{Seed: f.seed})
	if f.corpus != "" {
		c, err := bench.LoadCorpus(f.corpus)
		if err != nil {
			return err
		}
		corpus = c
	}
	out, err := os.Create(f.writeRequests)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := bench.WriteRequests(out, corpus, f.requests, f.batch); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// benchConfigs checks the flags and returns the configurations to run.
func benchConfigs(f benchFlags) ([]bench.Config, error) {
	if (f.target == "") == (f.model == "") {
		return nil, fmt.Errorf("bench: give exactly one of --target URL or --model DIR")
	}
	if f.corpus != "" && f.synthetic {
		return nil, fmt.Errorf("bench: --corpus and --synthetic exclude each other")
	}
	if f.soak > 0 && f.sweep != "" {
		return nil, fmt.Errorf("bench: --soak runs one configuration; drop --sweep")
	}
	if f.rateSweep != "" {
		switch {
		case f.sweep != "" || f.soak > 0:
			return nil, fmt.Errorf("bench: --rate-sweep makes its own configurations; drop --sweep and --soak")
		case f.rate > 0:
			return nil, fmt.Errorf("bench: --rate-sweep chooses the rates from the measured capacity; drop --rate (or give --capacity)")
		case f.capacityConcurrency < 1:
			return nil, fmt.Errorf("bench: --capacity-concurrency must be at least 1")
		case f.capacity < 0 || f.targetQPS < 0 || f.topK < 0 || f.p95Target < 0 || f.deadline < 0:
			return nil, fmt.Errorf("bench: --capacity, --target-qps, --top-k, --p95-target and --deadline must not be negative")
		}
		if _, err := bench.ParseFractions(f.rateSweep); err != nil {
			return nil, err
		}
	} else if f.targetQPS > 0 || f.p95Target > 0 || f.topK > 0 {
		return nil, fmt.Errorf("bench: --target-qps, --top-k and --p95-target plan from a curve: add --rate-sweep")
	}
	base := bench.Config{Batch: f.batch, Concurrency: f.concurrency, Rate: f.rate, Duration: f.duration,
		Requests: f.requests, Warmup: f.warmup, Timeout: f.timeout}
	if f.soak > 0 {
		base.Duration, base.Requests = f.soak, 0
	}
	if base.Duration == 0 && base.Requests == 0 {
		base.Duration = 30 * time.Second
	}
	configs := []bench.Config{base}
	if f.sweep != "" {
		var err error
		if configs, err = bench.ParseSweep(f.sweep, base); err != nil {
			return nil, err
		}
	}
	for _, c := range configs {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	return configs, nil
}

// sweepOf is the rate sweep of the flags (checked by benchConfigs).
func sweepOf(f benchFlags, base bench.Config) bench.RateSweep {
	fr, _ := bench.ParseFractions(f.rateSweep)
	return bench.RateSweep{Base: base, Fractions: fr, CapacityConcurrency: f.capacityConcurrency, Capacity: f.capacity,
		Plan: bench.CapacityPlan{TargetQPS: f.targetQPS, TopK: f.topK, P95Target: f.p95Target}}
}

// benchCorpus is --corpus, or the synthetic corpus.
func benchCorpus(f benchFlags) (bench.Corpus, error) {
	if f.corpus != "" {
		return bench.LoadCorpus(f.corpus)
	}
	return bench.NewSynthetic(bench.SyntheticConfig{Seed: f.seed}), nil
}

// benchTarget is --target, or a sidecar started in this process on --model
// (stop ends it).
func benchTarget(ctx context.Context, f benchFlags) (target string, stop func(), err error) {
	if f.model == "" {
		return f.target, func() {}, nil
	}
	return startInProcess(ctx, f.model, func(c *config.Config) {
		c.CacheSize = f.cacheSize
		if f.threads > 0 {
			c.Threads = f.threads
		}
		if f.workers > 0 {
			c.Workers = f.workers
		}
		if f.maxBatchPairs > 0 {
			c.MaxBatchPairs = f.maxBatchPairs
		}
		if f.provider != "" {
			c.Provider = f.provider
		}
		c.EDF = f.edf
	})
}

// progressBars draws one progress bar per configuration on w.
func progressBars(w io.Writer, n int) func(int, bench.Config) bench.Progress {
	return func(i int, c bench.Config) bench.Progress {
		desc := fmt.Sprintf("[%d/%d] %s", i+1, n, c.Label())
		if c.Requests > 0 {
			bar := progressbar.NewOptions(c.Requests, progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(desc), progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
			return func(done int, _ time.Duration) { _ = bar.Set(done) }
		}
		secs := int(c.Duration / time.Second)
		bar := progressbar.NewOptions(max(secs, 1), progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc), progressbar.OptionSetItsString("s"),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
		return func(_ int, elapsed time.Duration) { _ = bar.Set(min(int(elapsed/time.Second), secs)) }
	}
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
