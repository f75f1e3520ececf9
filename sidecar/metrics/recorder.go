// Package metrics is the contract between the sidecar's parts and whatever
// records what they do: the Recorder interface, its stage names and Nop. The
// engine, batcher, server and plugin host depend on it alone; the Prometheus
// recorder (internal/metrics/prom), the stats ring (internal/metrics/stats)
// and the NVML probe (internal/metrics/nvml) implement or feed it.
package metrics

import "time"

// Stage names used with Recorder.Stage.
const (
	StagePlugins   = "plugins"
	StageTokenize  = "tokenize"
	StageQueue     = "queue"
	StageInference = "inference"
)

// Recorder receives events from the server, the batcher and the plugin host.
// Implementations must be safe for concurrent use. Nop is a valid Recorder.
type Recorder interface {
	// Request is called once per finished HTTP request.
	Request(route string, code int, d time.Duration, pairs int)
	// Stage records time spent in one pipeline stage (per request for plugins
	// and tokenize, per pair-group for queue, per batch for inference).
	Stage(stage string, d time.Duration)
	// Batch is called once per batch sent to a backend.
	Batch(model string, pairs, realTokens, paddedTokens int)
	// QueuePairs adds delta to the number of pairs waiting in batcher queues.
	QueuePairs(delta int)
	// Inflight adds delta to the number of in-flight HTTP requests.
	Inflight(delta int)
	// Cache records n score-cache look-ups that hit or missed.
	Cache(hits, misses int)
	// PluginError records a plugin failure; kind is trap, timeout, memory,
	// malformed, missing_export or other.
	PluginError(plugin, kind string)
	// Panic records a panic recovered while serving route (the server's
	// route name, "fallback" or "none"); the server kept serving.
	Panic(route string)
}

// Reasons a batcher drops a request's waiting pairs before inference
// (DropRecorder.Dropped).
const (
	// DropDeadline: the request's deadline (timeout_ms or the server's
	// request_timeout) passed while its pairs waited.
	DropDeadline = "deadline"
	// DropCancelled: the request was cancelled (its client left).
	DropCancelled = "cancelled"
)

// DropRecorder is implemented by recorders that count what the batcher drops
// before inference because its request ended while it waited (the batcher
// calls it when its recorder has it, as the engine does with
// rerank.EmbeddingCacheRecorder, so Recorder stays as it is).
type DropRecorder interface {
	// Dropped records that requests requests of model lost pairs waiting
	// pairs for reason (DropDeadline or DropCancelled).
	Dropped(model, reason string, requests, pairs int)
}

// Nop is a Recorder that records nothing.
type Nop struct{}

var _ Recorder = Nop{}

func (Nop) Request(string, int, time.Duration, int) {}
func (Nop) Stage(string, time.Duration)             {}
func (Nop) Batch(string, int, int, int)             {}
func (Nop) QueuePairs(int)                          {}
func (Nop) Inflight(int)                            {}
func (Nop) Cache(int, int)                          {}
func (Nop) PluginError(string, string)              {}
func (Nop) Panic(string)                            {}
