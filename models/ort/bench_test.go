package ort_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/crossrank/crossrank/internal/roofline"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/ort"
)

// Benchmark grid. The names let a run pick a subset, e.g.
//
//	go test ./models/ort -run '^$' -bench 'Session/fp32/t=2/b=32/L=128$'
//
// (make bench-runtime runs the whole grid three times and tabulates the
// medians with testdata/benchtable.awk.)
var (
	benchDtypes  = []string{"fp32", "int8"}
	benchThreads = []int{1, 2}
	benchBatches = []int{1, 8, 32, 96}
	benchLengths = []int{64, 128, 256}
)

// modelFLOPs is roofline's count for one pair of l tokens of the model in
// dir: the model's work (the twin's graph executes about 14% less: its last
// layer computes [CLS] alone, see internal/convert/RATIONALE.md).
func modelFLOPs(tb testing.TB, dir string, l int) float64 {
	tb.Helper()
	c, err := roofline.LoadConfig(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return c.PairFLOPs(l)
}

func cpuSeconds(testing.TB) float64 { return roofline.CPUSeconds() }

func sgemmPeak(tb testing.TB, threads, reps int) (wall, cpu float64) {
	tb.Helper()
	if _, err := ort.Version(testenv.ORTLib(tb)); err != nil {
		tb.Fatal(err)
	}
	p, err := roofline.SgemmPeak(tb.TempDir(), threads, reps)
	if err != nil {
		tb.Fatal(err)
	}
	return p.Wall, p.CPU
}

// BenchmarkSgemmPeak reports this machine's fp32 matrix-multiply peak as
// ONNX Runtime reaches it (best of 10 runs per iteration).
func BenchmarkSgemmPeak(b *testing.B) {
	for _, t := range benchThreads {
		b.Run(fmt.Sprintf("t=%d", t), func(b *testing.B) {
			var peak, peakCPU float64
			for range b.N {
				w, c := sgemmPeak(b, t, 10)
				peak, peakCPU = max(peak, w), max(peakCPU, c)
			}
			b.ReportMetric(peak, "GFLOP/s")
			b.ReportMetric(peakCPU, "GFLOP/cpu-s")
		})
	}
}

// BenchmarkSession measures Session.Score throughput over the grid
// dtype × threads × batch × length, on full rows (no padding): pairs/s and
// achieved GFLOP/s (modelFLOPs; for int8 the same count, i.e. fp32-
// equivalent work), per wall-second and per CPU-second (see cpuSeconds). testdata/benchtable.awk turns a run of this and
// BenchmarkSgemmPeak into a table with the percentage of the peak (the
// median peak of the same thread count), which is more robust on a shared
// machine than a peak measured beside each point.
func BenchmarkSession(b *testing.B) {
	ctx := context.Background()
	for _, dtype := range benchDtypes {
		b.Run(dtype, func(b *testing.B) {
			dir := testenv.TwinDir(b)
			if dtype == "int8" {
				dir = testenv.TwinInt8Dir(b)
			}
			for _, threads := range benchThreads {
				b.Run(fmt.Sprintf("t=%d", threads), func(b *testing.B) {
					s, err := ort.Load(ctx, dir, ort.WithLibrary(testenv.ORTLib(b)), ort.WithThreads(threads, 1))
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					for _, n := range benchBatches {
						for _, l := range benchLengths {
							b.Run(fmt.Sprintf("b=%d/L=%d", n, l), func(b *testing.B) {
								batch := randomBatch(uint64(n*1000+l), n, l, true)
								if _, err := s.Score(ctx, batch); err != nil { // warm this shape
									b.Fatal(err)
								}
								b.ResetTimer()
								cpu0 := cpuSeconds(b)
								for range b.N {
									if _, err := s.Score(ctx, batch); err != nil {
										b.Fatal(err)
									}
								}
								cpu := cpuSeconds(b) - cpu0
								sec := b.Elapsed().Seconds()
								pairs := float64(n*b.N) / sec
								flops := modelFLOPs(b, dir, l)
								b.ReportMetric(pairs, "pairs/s")
								b.ReportMetric(pairs*flops/1e9, "GFLOP/s")
								b.ReportMetric(float64(n*b.N)/cpu, "pairs/cpu-s")
								b.ReportMetric(float64(n*b.N)*flops/cpu/1e9, "GFLOP/cpu-s")
							})
						}
					}
				})
			}
		})
	}
}

// BenchmarkScoreOverhead runs the smallest useful batch (one row of four
// tokens) to show the per-call cost around the model: tensors over the
// batch's slices, the run, the result slice (allocs/op), with and without a
// cancellable context (which adds ORT run options and a context.AfterFunc).
func BenchmarkScoreOverhead(b *testing.B) {
	s := loadTwin(b)
	batch := randomBatch(5, 1, 4, true)
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{{"background", context.Background()}, {"cancellable", cctx}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := s.Score(tc.ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGraphOptimizers compares the CPU session Load creates by default
// (AttentionFusion skipped, see DefaultDisabledOptimizers) with one running
// every ONNX Runtime fusion, one thread, interleaved per shape so both meet
// the same machine state.
func BenchmarkGraphOptimizers(b *testing.B) {
	ctx := context.Background()
	graphs := []struct {
		name string
		opts []ort.Option
	}{{"default", nil}, {"all-fusions", []ort.Option{ort.WithDisabledOptimizers("none")}}}
	sessions := make([]*ort.Session, len(graphs))
	for i, g := range graphs {
		sessions[i] = loadTwin(b, g.opts...)
	}
	for _, n := range []int{2, 8, 32} {
		for _, l := range []int{64, 128} {
			batch := randomBatch(uint64(n*100+l), n, l, true)
			for i, g := range graphs {
				b.Run(fmt.Sprintf("b=%d/L=%d/%s", n, l, g.name), func(b *testing.B) {
					if _, err := sessions[i].Score(ctx, batch); err != nil { // warm this shape
						b.Fatal(err)
					}
					b.ResetTimer()
					for range b.N {
						if _, err := sessions[i].Score(ctx, batch); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "pairs/s")
				})
			}
		}
	}
}

// BenchmarkSessionOptions compares ONNX Runtime session settings the
// sidecar could change on the MiniLM-sized twin at an MS MARCO-like shape
// (16 pairs × 72 tokens), interleaved per thread count: the defaults,
// intra-op spinning off (only matters with a thread pool, t=2), denormals
// as zero, and the CPU memory arena off. It reports pairs per wall-second
// and per CPU-second (see cpuSeconds).
//
//	go test -run '^$' -bench SessionOptions -benchtime 10x -count 5 ./models/ort/
func BenchmarkSessionOptions(b *testing.B) {
	ctx := context.Background()
	variants := []struct {
		name string
		opts []ort.Option
	}{
		{"default", nil},
		{"no-spin", []ort.Option{ort.WithSessionConfig("session.intra_op.allow_spinning", "0")}},
		{"denormal-zero", []ort.Option{ort.WithSessionConfig("session.set_denormal_as_zero", "1")}},
		{"no-arena", []ort.Option{ort.WithoutMemArena()}},
	}
	const n, l = 16, 72
	batch := randomBatch(72016, n, l, true)
	for _, threads := range benchThreads {
		sessions := make([]*ort.Session, len(variants))
		for i, v := range variants {
			s, err := ort.Load(ctx, testenv.TwinDir(b), append([]ort.Option{ort.WithLibrary(testenv.ORTLib(b)), ort.WithThreads(threads, 1)}, v.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			sessions[i] = s
		}
		for i, v := range variants {
			b.Run(fmt.Sprintf("t=%d/%s", threads, v.name), func(b *testing.B) {
				s := sessions[i]
				if _, err := s.Score(ctx, batch); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				cpu0 := cpuSeconds(b)
				for range b.N {
					if _, err := s.Score(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
				cpu := cpuSeconds(b) - cpu0
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "pairs/s")
				b.ReportMetric(float64(n*b.N)/cpu, "pairs/cpu-s")
			})
		}
	}
}
