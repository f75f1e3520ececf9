package roofline_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/internal/roofline"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/ort"
)

func TestPairFLOPs(t *testing.T) {
	// MiniLM-L6-H384 at 128 tokens, worked by hand:
	// per layer 8·128·384² + 4·128·384·1536 + 4·128²·384
	//         = 150,994,944 + 301,989,888 + 25,165,824 = 478,150,656;
	// ×6 = 2,868,903,936; + pooler 294,912 + classifier 768 = 2,869,199,616.
	c, err := roofline.LoadConfig(testenv.TwinDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PairFLOPs(128); got != 2_869_199_616 {
		t.Fatalf("PairFLOPs(128) = %.0f, want 2869199616", got)
	}
	if got, want := c.BatchFLOPs(4, 512), 4*c.PairFLOPs(128); got != want {
		t.Fatalf("BatchFLOPs(4, 512) = %.0f, want %.0f", got, want)
	}
	if got := c.BatchFLOPs(0, 0); got != 0 {
		t.Fatalf("BatchFLOPs(0, 0) = %v, want 0", got)
	}
	if got, want := c.ExecutedPairFLOPs(128), c.PairFLOPs(128); got != want {
		t.Fatalf("ExecutedPairFLOPs(128) without CLSOnlyLast = %.0f, want PairFLOPs %.0f", got, want)
	}
	// With CLSOnlyLast the last layer is K, V on 128 tokens
	// (4·128·384² = 75,497,472) plus Q, O, feed-forward and attention for
	// one row (4·384² + 4·384·1536 + 4·128·384 = 589,824 + 2,359,296 +
	// 196,608): 78,643,200 instead of 478,150,656.
	c.CLSOnlyLast = true
	if got, want := c.ExecutedPairFLOPs(128), 2_869_199_616.0-478_150_656+78_643_200; got != want {
		t.Fatalf("ExecutedPairFLOPs(128) = %.0f, want %.0f", got, want)
	}
	if got, want := c.ExecutedBatchFLOPs(4, 512), 4*c.ExecutedPairFLOPs(128); got != want {
		t.Fatalf("ExecutedBatchFLOPs(4, 512) = %.0f, want %.0f", got, want)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body string }{
		{"missing", ""},
		{"not json", "{"},
		{"zero layers", `{"hidden_size":8,"intermediate_size":16,"num_hidden_layers":0}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(dir, tc.name)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.body != "" {
				if err := os.WriteFile(filepath.Join(d, "config.json"), []byte(tc.body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := roofline.LoadConfig(d); err == nil {
				t.Fatal("LoadConfig succeeded, want an error")
			}
		})
	}
}

func TestSgemmPeak(t *testing.T) {
	if _, err := ort.Version(testenv.ORTLib(t)); err != nil {
		t.Fatal(err)
	}
	p, err := roofline.SgemmPeak(t.TempDir(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	// A real product of 17 GFLOP took a positive, finite time.
	if p.Threads != 1 || !(p.Wall > 0) || p.Wall > 1e5 || !(p.CPU > 0) {
		t.Fatalf("SgemmPeak = %+v", p)
	}
}
