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
