package nvml_test

import (
	"context"
	"os"
	"testing"

	"github.com/crossrank/crossrank/internal/metrics/nvml"
	"github.com/crossrank/crossrank/internal/metrics/prom"
	"github.com/crossrank/crossrank/internal/metrics/stats"
)

func TestNVMLAbsentOrReal(t *testing.T) {
	// On a machine without the NVIDIA driver, no probe (and so no GPU
	// series); where the driver is loaded, a real reading.
	probe, err := nvml.Open()
	if _, statErr := os.Stat("/proc/driver/nvidia/version"); statErr != nil {
		if err == nil || probe != nil {
			t.Fatalf("no NVIDIA driver, yet a probe: %v", probe)
		}
		t.Logf("no GPU probe, as expected: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("NVIDIA driver loaded but NVML unreadable: %v", err)
	}
	defer probe.Close()
	t.Logf("GPU %s", probe.Name())
	s, err := probe.Sample(context.Background())
	if err != nil || s.MemoryMB <= 0 || s.UtilPct < 0 || s.UtilPct > 100 {
		t.Fatalf("GPU sample %+v, %v", s, err)
	}
	rec := prom.New(prom.WithoutSampler(), prom.WithGPU(probe))
	defer rec.Close()
	rec.Sample(context.Background())
	snap := rec.Ring().Snapshot(stats.StatsQuery{Current: true})
	last := snap.Points[len(snap.Points)-1]
	if !snap.GPU || last.GPUMemMB == nil || *last.GPUMemMB <= 0 {
		t.Errorf("GPU not in /v1/stats: %+v", last)
	}
}
