package server

import (
	"os"
	"strconv"
	"strings"
)

// DefaultMaxInflightBytes sizes the in-flight request bytes for this
// machine: a sixteenth of its memory (the cgroup's limit when there is one,
// else the physical memory from /proc/meminfo), between 64 MiB and 1 GiB.
// Each admitted byte costs a few more while a request is decoded and
// tokenized, so the bound keeps that well inside the memory there is.
func DefaultMaxInflightBytes() int64 {
	const lo, hi = 64 << 20, 1 << 30
	total := memoryLimit()
	if total <= 0 {
		return 256 << 20
	}
	return min(max(total/16, lo), hi)
}

// memoryLimit is the cgroup v2 memory limit, else MemTotal (0: unknown).
func memoryLimit() int64 {
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}
