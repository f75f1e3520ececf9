package metrics

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
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

// NvidiaSMI reads GPU 0 through the nvidia-smi tool (NVML underneath). It
// returns an error when nvidia-smi is not installed, so a machine without an
// NVIDIA GPU never reports GPU numbers.
type NvidiaSMI struct {
	Path  string // nvidia-smi binary
	Index int    // GPU index
}

// FindNvidiaSMI returns a probe when nvidia-smi is on PATH and answers.
func FindNvidiaSMI(ctx context.Context) (*NvidiaSMI, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil, fmt.Errorf("metrics: no GPU probe: %w", err)
	}
	n := &NvidiaSMI{Path: path}
	if _, err := n.Sample(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// Sample implements GPUProbe.
func (n *NvidiaSMI) Sample(ctx context.Context) (GPUSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, n.Path, "--query-gpu=memory.used,utilization.gpu",
		"--format=csv,noheader,nounits", "-i", strconv.Itoa(n.Index)).Output()
	if err != nil {
		return GPUSample{}, fmt.Errorf("metrics: nvidia-smi: %w", err)
	}
	return parseNvidiaSMI(out)
}

func parseNvidiaSMI(out []byte) (GPUSample, error) {
	line := strings.TrimSpace(string(bytes.SplitN(out, []byte("\n"), 2)[0]))
	f := strings.Split(line, ",")
	if len(f) != 2 {
		return GPUSample{}, fmt.Errorf("metrics: nvidia-smi: unexpected output %q", line)
	}
	mem, err1 := strconv.ParseFloat(strings.TrimSpace(f[0]), 64)
	util, err2 := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
	if err1 != nil || err2 != nil {
		return GPUSample{}, fmt.Errorf("metrics: nvidia-smi: unexpected output %q", line)
	}
	return GPUSample{MemoryMB: mem, UtilPct: util}, nil
}
