// Package nvml reads a GPU's memory and utilisation through NVIDIA's
// management library for the metrics recorder (a stats.GPUProbe). It is
// the only metrics package that needs cgo.
package nvml

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/crossrank/crossrank/internal/metrics/stats"
)

// Probe reads one GPU's memory and utilisation through NVIDIA's management
// library (libnvidia-ml, loaded at run time by github.com/NVIDIA/go-nvml, so
// the binary needs no NVIDIA library to build or to start). On a machine
// without the library or without a GPU, Open fails and no GPU series
// exist: they are never zero-filled.
type Probe struct {
	lib  nvml.Interface
	dev  nvml.Device
	name string
	once sync.Once
}

var _ stats.GPUProbe = (*Probe)(nil)

// Open loads NVML and opens the GPU that CUDA numbers 0 in this process:
// the first entry of CUDA_VISIBLE_DEVICES (an index or a GPU-… UUID) when it
// is set, else NVML's device 0. Close releases it.
func Open() (*Probe, error) {
	lib := nvml.New()
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("nvml: no GPU probe: NVML: %s", lib.ErrorString(ret))
	}
	dev, ret := openVisible(lib, os.Getenv("CUDA_VISIBLE_DEVICES"))
	if ret != nvml.SUCCESS {
		lib.Shutdown()
		return nil, fmt.Errorf("nvml: no GPU probe: device: %s", lib.ErrorString(ret))
	}
	name, _ := dev.GetName()
	n := &Probe{lib: lib, dev: dev, name: name}
	if _, err := n.Sample(context.Background()); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// visibleDevice parses the first entry of CUDA_VISIBLE_DEVICES: an index, or
// a UUID; empty means device 0.
func visibleDevice(env string) (index int, uuid string) {
	first := strings.TrimSpace(strings.Split(env, ",")[0])
	if first == "" {
		return 0, ""
	}
	if i, err := strconv.Atoi(first); err == nil {
		return i, ""
	}
	return -1, first
}

func openVisible(lib nvml.Interface, env string) (nvml.Device, nvml.Return) {
	index, uuid := visibleDevice(env)
	if uuid != "" {
		return lib.DeviceGetHandleByUUID(uuid)
	}
	return lib.DeviceGetHandleByIndex(index)
}

// Name is the GPU's product name as NVML reports it.
func (n *Probe) Name() string { return n.name }

// Sample implements stats.GPUProbe: used device memory in MiB and the GPU's
// utilisation over NVML's last sample period.
func (n *Probe) Sample(ctx context.Context) (stats.GPUSample, error) {
	if err := ctx.Err(); err != nil {
		return stats.GPUSample{}, fmt.Errorf("nvml: sample: %w", err)
	}
	mem, ret := n.dev.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return stats.GPUSample{}, fmt.Errorf("nvml: memory: %s", n.lib.ErrorString(ret))
	}
	util, ret := n.dev.GetUtilizationRates()
	if ret != nvml.SUCCESS {
		return stats.GPUSample{}, fmt.Errorf("nvml: utilisation: %s", n.lib.ErrorString(ret))
	}
	return stats.GPUSample{MemoryMB: float64(mem.Used) / (1 << 20), UtilPct: float64(util.Gpu)}, nil
}

// Close shuts NVML down; later calls do nothing.
func (n *Probe) Close() error {
	var err error
	n.once.Do(func() {
		if ret := n.lib.Shutdown(); ret != nvml.SUCCESS {
			err = errors.New("nvml: shutdown: " + n.lib.ErrorString(ret))
		}
	})
	return err
}
