package stats

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/procfs"
)

// ProcessSample is one reading of the process's CPU and memory.
type ProcessSample struct {
	CPUPercent float64 // CPU time over wall time since the previous sample, ×100 (of one core)
	RSSMB      float64 // resident set size in MiB
}

// ProcessProbe reads the process's CPU and memory.
type ProcessProbe interface {
	Sample() (ProcessSample, error)
}

// ProcProbe reads /proc/self (Linux). CPU percent is measured between two
// successive calls (the first call: since NewProcProbe).
type ProcProbe struct {
	mu      sync.Mutex
	lastCPU float64
	lastAt  time.Time
}

// NewProcProbe returns a ProcProbe.
func NewProcProbe() *ProcProbe {
	p := &ProcProbe{}
	if proc, err := procfs.Self(); err == nil {
		if st, err := proc.Stat(); err == nil {
			p.lastCPU, p.lastAt = st.CPUTime(), time.Now()
		}
	}
	return p
}

// Sample implements ProcessProbe.
func (p *ProcProbe) Sample() (ProcessSample, error) {
	proc, err := procfs.Self()
	if err != nil {
		return ProcessSample{}, fmt.Errorf("metrics: open /proc/self: %w", err)
	}
	st, err := proc.Stat()
	if err != nil {
		return ProcessSample{}, fmt.Errorf("metrics: read /proc/self/stat: %w", err)
	}
	now := time.Now()
	cpu := st.CPUTime()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := ProcessSample{RSSMB: float64(st.ResidentMemory()) / (1 << 20)}
	if !p.lastAt.IsZero() {
		if wall := now.Sub(p.lastAt).Seconds(); wall > 0 {
			s.CPUPercent = 100 * (cpu - p.lastCPU) / wall
		}
	}
	p.lastCPU, p.lastAt = cpu, now
	return s, nil
}

// GPUSample is one reading of GPU memory and utilisation.
type GPUSample struct {
	MemoryMB float64
	UtilPct  float64
}

// GPUProbe reads the GPU.
type GPUProbe interface {
	Sample(ctx context.Context) (GPUSample, error)
}
