package host

// WithoutInterrupt turns the per-call time limit off, for the benchmark that
// measures what it costs.
func WithoutInterrupt(c Config) Config {
	c.interrupt = interruptNone
	return c
}

// WithCloseOnContextDone enforces the time limit with wazero's
// close-on-context-done instead of the interrupt global, for comparison.
func WithCloseOnContextDone(c Config) Config {
	c.interrupt = interruptContext
	return c
}

// GuestMemoryInUse is the bytes of guest linear memory the host accounts.
func (h *Host) GuestMemoryInUse() int64 { return h.memAlloc.used.Load() }

// IdleDepths reads the call-depth global of every idle instance of the
// current pipelines (it must be 0 between calls).
func (h *Host) IdleDepths() []uint64 {
	g := h.gen.Load()
	var out []uint64
	for _, p := range g.pools {
		var ins []*instance
	drain:
		for {
			select {
			case in := <-p.ready:
				ins = append(ins, in)
			default:
				break drain
			}
		}
		for _, in := range ins {
			if d := in.mod.ExportedGlobal(DepthGlobal); d != nil {
				out = append(out, d.Get())
			}
			p.ready <- in
		}
	}
	return out
}
