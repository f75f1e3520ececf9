// Package ort is crossrank's ONNX Runtime backend: it loads a model folder
// (see internal/modeldir) into one ONNX Runtime session, through
// github.com/yalue/onnxruntime_go. A cross-encoder's session implements
// models.Scorer (one logit per pair, the label column chosen by
// DefaultLabel); a bi-encoder's implements models.Embedder (one embedding
// per single sequence). Whatever the family, the graph's inputs are a subset
// of input_ids, attention_mask, token_type_ids and position_ids, each fed
// only when the graph declares it (position ids are derived from the mask).
//
// The ONNX Runtime shared library is found with FindLibrary (--ort-lib flag,
// $CROSSRANK_ORT_LIB, the project's .cache/ort, ~/.cache/crossrank/ort) and
// loaded once per process; see Load.
package ort

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/crossrank/crossrank/internal/modeldir"
	"github.com/crossrank/crossrank/models"
)

// Providers are the execution providers Load accepts.
func Providers() []string { return []string{"cpu", "cuda", "tensorrt", "coreml"} }

// Option configures Load.
type Option func(*config)

type config struct {
	lib          string
	intra, inter int
	provider     string
	label        int // -1: DefaultLabel
	file         string
	quantized    bool
	name         string
	noWarmup     bool
	disabled     []string    // graph optimisers to skip; nil: DefaultDisabledOptimizers
	optimised    string      // where ORT writes its optimised graph ("": nowhere)
	entries      [][2]string // extra session config entries, in order
	noArena      bool
}

// WithSessionConfig adds an ONNX Runtime session configuration entry
// (onnxruntime_session_options_config_keys.h), e.g.
// "session.intra_op.allow_spinning" = "0" or "session.set_denormal_as_zero"
// = "1". A key ONNX Runtime does not know is accepted and ignored by it.
func WithSessionConfig(key, value string) Option {
	return func(c *config) { c.entries = append(c.entries, [2]string{key, value}) }
}

// WithoutMemArena turns ONNX Runtime's CPU memory arena off (each run
// allocates and frees its tensors instead of reusing arena blocks).
func WithoutMemArena() Option { return func(c *config) { c.noArena = true } }

// WithLibrary sets the ONNX Runtime library path (default: FindLibrary("")).
func WithLibrary(path string) Option { return func(c *config) { c.lib = path } }

// WithThreads sets the intra-op and inter-op thread counts; 0 keeps ONNX
// Runtime's default (intra: one per physical core).
func WithThreads(intra, inter int) Option {
	return func(c *config) { c.intra, c.inter = intra, inter }
}

// WithProvider picks the execution provider: "cpu" (default), "cuda",
// "tensorrt" or "coreml". A provider the loaded library lacks makes Load fail.
func WithProvider(name string) Option { return func(c *config) { c.provider = name } }

// WithLabel picks which column of an [N,C] logits output Score returns
// (default: DefaultLabel's choice from config.json).
func WithLabel(i int) Option { return func(c *config) { c.label = i } }

// WithFile names the ONNX file inside the folder, e.g. "onnx/model_quantized.onnx".
func WithFile(rel string) Option { return func(c *config) { c.file = rel } }

// WithQuantized prefers the folder's onnx/model_quantized.onnx.
func WithQuantized() Option { return func(c *config) { c.quantized = true } }

// WithName sets Info().Name (default: the folder's base name).
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithoutWarmup skips the warm-up run Load does by default.
func WithoutWarmup() Option { return func(c *config) { c.noWarmup = true } }

// WithDisabledOptimizers names ONNX Runtime graph optimisers (transformers,
// e.g. "AttentionFusion") to skip when the session is created, replacing
// DefaultDisabledOptimizers; no names, or the single name "none", runs every
// optimiser.
func WithDisabledOptimizers(names ...string) Option {
	return func(c *config) {
		c.disabled = []string{}
		for _, n := range names {
			if n = strings.TrimSpace(n); n != "" && n != "none" {
				c.disabled = append(c.disabled, n)
			}
		}
	}
}

// WithOptimizedModelPath has ONNX Runtime write the graph it runs, after its
// optimisers, to path (for inspection; the file is specific to this machine).
func WithOptimizedModelPath(path string) Option { return func(c *config) { c.optimised = path } }

// DefaultDisabledOptimizers returns the graph optimisers Load skips for an
// execution provider unless WithDisabledOptimizers says otherwise. On the CPU
// provider it is AttentionFusion: with it (and the layer-norm fusions that
// come with it) the MiniLM-sized twin ran 6-15% slower on one thread at 2-32
// pairs of 64-128 tokens, and no faster at 256 (BenchmarkGraphOptimizers;
// RATIONALE.md, "Graph optimisers on the CPU"). GPU providers keep every
// fusion.
func DefaultDisabledOptimizers(provider string) []string {
	if provider == "" || provider == "cpu" {
		return []string{"AttentionFusion"}
	}
	return nil
}

// input roles, in the order the session's inputs are passed.
const (
	roleIDs = iota
	roleMask
	roleTypes
	rolePos
)

// DefaultLabel picks the logits column a cross-encoder with classes output
// columns is scored by, from config.json's id2label (label(i) is class i's
// name, "" when unnamed). The rule: one column is that column; otherwise the
// first class whose name, case-insensitively, is "relevant", "relevance",
// "positive", "yes" or "true"; otherwise the last column (for the usual
// binary head LABEL_0/LABEL_1 that is LABEL_1, the positive class).
func DefaultLabel(classes int, label func(i int) string) int {
	if classes <= 1 {
		return 0
	}
	for i := range classes {
		switch strings.ToLower(strings.TrimSpace(label(i))) {
		case "relevant", "relevance", "positive", "yes", "true":
			return i
		}
	}
	return classes - 1
}

// Session is one ONNX Runtime session over a cross-encoder (Score) or a
// bi-encoder (Embed). It is safe for concurrent use: ONNX Runtime's Run is
// thread-safe, and each call builds its own input and output tensors over
// the caller's Batch and a fresh result slice.
type Session struct {
	sess    *onnxruntime.DynamicAdvancedSession
	roles   []int // role of each session input, in order
	classes int   // C of the [N,C] output (1 for [N] or [N,1]); D for a bi-encoder
	outRank int
	embed   bool // a bi-encoder: the output is [N, D] embeddings
	label   int
	info    models.Info
	lib     string
	mu      sync.RWMutex // Score holds it shared; Close exclusive
	closed  bool
}

var (
	_ models.Scorer   = (*Session)(nil)
	_ models.Embedder = (*Session)(nil)
)

// Load opens the model folder dir (config.json plus an ONNX file), creates
// an ONNX Runtime session with full graph optimisation, checks its inputs
// (input_ids and attention_mask, optional token_type_ids and position_ids,
// all int64 [batch, sequence]) and its output, and runs one warm-up batch.
// A cross-encoder's output is "logits" ([N], [N,1] or [N,C]); a
// bi-encoder's (modeldir says which) is "sentence_embedding" [N,D]
// (crossrank.json may name another). The maximum length is the model's:
// see modeldir.Dir.MaxLength.
//
// The first Load in a process initialises the ONNX Runtime environment from
// the library it is given; later Loads reuse it (one library per process).
func Load(ctx context.Context, dir string, opts ...Option) (*Session, error) {
	cfg := config{provider: "cpu", label: -1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.provider == "" {
		cfg.provider = "cpu"
	}
	if !slices.Contains(Providers(), cfg.provider) {
		return nil, fmt.Errorf("ort: unknown execution provider %q (want one of %v)", cfg.provider, Providers())
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ort: load %s: %w", dir, err)
	}
	var dopts []modeldir.Option
	if cfg.file != "" {
		dopts = append(dopts, modeldir.WithFile(cfg.file))
	} else if cfg.quantized {
		dopts = append(dopts, modeldir.WithQuantized())
	}
	md, err := modeldir.Open(dir, dopts...)
	if err != nil {
		return nil, fmt.Errorf("ort: load: %w", err)
	}
	if cfg.intra < 0 || cfg.inter < 0 {
		return nil, fmt.Errorf("ort: load %s: thread counts must be >= 0, got intra %d inter %d", dir, cfg.intra, cfg.inter)
	}
	lib, err := FindLibrary(cfg.lib)
	if err != nil {
		return nil, err
	}
	if err := initEnvironment(lib); err != nil {
		return nil, err
	}

	ins, outs, err := onnxruntime.GetInputOutputInfo(md.ONNX)
	if err != nil {
		return nil, fmt.Errorf("ort: load %s: read graph inputs/outputs: %w", md.ONNX, err)
	}
	s := &Session{lib: lib, label: cfg.label, embed: md.Kind == modeldir.KindBiEncoder}
	names, err := s.bindInputs(md.ONNX, ins)
	if err != nil {
		return nil, err
	}
	outName, err := s.bindOutput(md, outs)
	if err != nil {
		return nil, err
	}
	switch {
	case s.embed:
		s.label = 0
	case cfg.label < 0:
		s.label = DefaultLabel(s.classes, md.Label)
	case cfg.label >= s.classes:
		return nil, fmt.Errorf("ort: load %s: label %d out of range: the model has %d output class(es)", dir, cfg.label, s.classes)
	}

	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	defer so.Destroy()
	if err := configure(so, cfg, lib); err != nil {
		return nil, err
	}
	s.sess, err = onnxruntime.NewDynamicAdvancedSession(md.ONNX, names, []string{outName}, so)
	if err != nil {
		return nil, fmt.Errorf("ort: create session for %s (provider %s, library %s): %w", md.ONNX, cfg.provider, lib, err)
	}
	name := cfg.name
	if name == "" {
		name = filepath.Base(md.Path)
	}
	s.info = models.Info{
		Name:       name,
		Dir:        md.Path,
		File:       md.File,
		Provider:   cfg.provider,
		MaxLength:  md.MaxLength(),
		NumLabels:  s.classes,
		HasTypeIDs: slices.Contains(s.roles, roleTypes),
		Twin:       md.Config.CrossrankTwin,
		Kind:       models.CrossEncoder,
		Trained:    md.Trained,
		Precision:  md.Precision(),
	}
	if s.embed {
		s.info.Kind, s.info.NumLabels, s.info.Dim = models.BiEncoder, 0, s.classes
	} else {
		s.info.Label = md.Label(s.label)
	}
	if !cfg.noWarmup {
		if err := s.warmup(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("ort: warm-up %s: %w", md.ONNX, err)
		}
	}
	return s, nil
}

func (s *Session) bindInputs(path string, ins []onnxruntime.InputOutputInfo) ([]string, error) {
	var names []string
	seen := map[int]bool{}
	for _, in := range ins {
		role := -1
		switch in.Name {
		case "input_ids":
			role = roleIDs
		case "attention_mask":
			role = roleMask
		case "token_type_ids":
			role = roleTypes
		case "position_ids":
			role = rolePos
		default:
			return nil, fmt.Errorf("ort: %s: unsupported model input %q (want input_ids, attention_mask, optional token_type_ids and position_ids)", path, in.Name)
		}
		if in.DataType != onnxruntime.TensorElementDataTypeInt64 {
			return nil, fmt.Errorf("ort: %s: input %s is %s, want int64", path, in.Name, in.DataType)
		}
		if len(in.Dimensions) != 2 {
			return nil, fmt.Errorf("ort: %s: input %s has shape %s, want [batch, sequence]", path, in.Name, in.Dimensions)
		}
		if seen[role] {
			return nil, fmt.Errorf("ort: %s: input %s declared twice", path, in.Name)
		}
		seen[role] = true
		s.roles = append(s.roles, role)
		names = append(names, in.Name)
	}
	if !seen[roleIDs] || !seen[roleMask] {
		return nil, fmt.Errorf("ort: %s: model lacks input_ids or attention_mask (inputs %v)", path, names)
	}
	return names, nil
}

func (s *Session) bindOutput(md *modeldir.Dir, outs []onnxruntime.InputOutputInfo) (string, error) {
	if len(outs) == 0 {
		return "", fmt.Errorf("ort: %s: model has no outputs", md.ONNX)
	}
	want := "logits"
	if s.embed {
		want = "sentence_embedding"
		if md.Meta != nil && md.Meta.Output != "" {
			want = md.Meta.Output
		}
	}
	out := outs[0]
	found := false
	for _, o := range outs {
		if o.Name == want {
			out, found = o, true
		}
	}
	if s.embed && !found {
		names := make([]string, len(outs))
		for i, o := range outs {
			names[i] = o.Name
		}
		return "", fmt.Errorf("ort: %s: a bi-encoder needs output %q [N, D], the graph has %v", md.ONNX, want, names)
	}
	if out.DataType != onnxruntime.TensorElementDataTypeFloat {
		return "", fmt.Errorf("ort: %s: output %s is %s, want float32", md.ONNX, out.Name, out.DataType)
	}
	s.outRank = len(out.Dimensions)
	if s.embed {
		if s.outRank != 2 {
			return "", fmt.Errorf("ort: %s: output %s has shape %s, want [N, D] embeddings", md.ONNX, out.Name, out.Dimensions)
		}
		s.classes = int(out.Dimensions[1])
		if s.classes <= 0 && md.Meta != nil {
			s.classes = md.Meta.OutputDim
		}
		if s.classes <= 0 {
			return "", fmt.Errorf("ort: %s: output %s has a dynamic embedding size and crossrank.json gives no output_dim", md.ONNX, out.Name)
		}
		return out.Name, nil
	}
	switch s.outRank {
	case 1:
		s.classes = 1
	case 2:
		s.classes = int(out.Dimensions[1])
		if s.classes <= 0 { // dynamic: trust config.json
			s.classes = max(md.Config.NumLabels, 1)
		}
	default:
		return "", fmt.Errorf("ort: %s: output %s has shape %s, want [N] or [N,C]", md.ONNX, out.Name, out.Dimensions)
	}
	return out.Name, nil
}

func configure(so *onnxruntime.SessionOptions, cfg config, lib string) error {
	if err := so.SetGraphOptimizationLevel(onnxruntime.GraphOptimizationLevelEnableAll); err != nil {
		return fmt.Errorf("ort: set graph optimisation: %w", err)
	}
	if cfg.intra > 0 {
		if err := so.SetIntraOpNumThreads(cfg.intra); err != nil {
			return fmt.Errorf("ort: set intra-op threads %d: %w", cfg.intra, err)
		}
	}
	if cfg.inter > 0 {
		if err := so.SetInterOpNumThreads(cfg.inter); err != nil {
			return fmt.Errorf("ort: set inter-op threads %d: %w", cfg.inter, err)
		}
	}
	disabled := cfg.disabled
	if disabled == nil {
		disabled = DefaultDisabledOptimizers(cfg.provider)
	}
	if len(disabled) > 0 {
		if err := so.AddSessionConfigEntry("optimization.disable_specified_optimizers", strings.Join(disabled, ";")); err != nil {
			return fmt.Errorf("ort: disable optimizers %v: %w", disabled, err)
		}
	}
	for _, e := range cfg.entries {
		if err := so.AddSessionConfigEntry(e[0], e[1]); err != nil {
			return fmt.Errorf("ort: session config %s=%s: %w", e[0], e[1], err)
		}
	}
	if cfg.noArena {
		if err := so.SetCpuMemArena(false); err != nil {
			return fmt.Errorf("ort: memory arena off: %w", err)
		}
	}
	if cfg.optimised != "" {
		if err := so.SetOptimizedModelFilePath(cfg.optimised); err != nil {
			return fmt.Errorf("ort: optimised model path %s: %w", cfg.optimised, err)
		}
	}
	var mode onnxruntime.ExecutionMode = onnxruntime.ExecutionModeSequential
	if cfg.inter > 1 {
		mode = onnxruntime.ExecutionModeParallel
	}
	if err := so.SetExecutionMode(mode); err != nil {
		return fmt.Errorf("ort: set execution mode: %w", err)
	}
	missing := func(err error) error {
		return fmt.Errorf("ort: execution provider %q is not available in the ONNX Runtime library %s: %w "+
			"(use --provider cpu, or point --ort-lib/%s at a library built with %s)", cfg.provider, lib, err, EnvLibrary, cfg.provider)
	}
	switch cfg.provider {
	case "cpu":
	case "cuda":
		po, err := onnxruntime.NewCUDAProviderOptions()
		if err != nil {
			return missing(err)
		}
		defer po.Destroy()
		if err := so.AppendExecutionProviderCUDA(po); err != nil {
			return missing(err)
		}
	case "tensorrt":
		po, err := onnxruntime.NewTensorRTProviderOptions()
		if err != nil {
			return missing(err)
		}
		defer po.Destroy()
		if err := so.AppendExecutionProviderTensorRT(po); err != nil {
			return missing(err)
		}
	case "coreml":
		if err := so.AppendExecutionProvider("CoreML", nil); err != nil {
			return missing(err)
		}
	default:
		return fmt.Errorf("ort: unknown execution provider %q (want one of %v)", cfg.provider, Providers())
	}
	return nil
}

func (s *Session) warmup(ctx context.Context) error {
	var b models.Batch
	l := min(16, s.info.MaxLength)
	b.Reset(2, l)
	for i := range b.AttentionMask {
		b.AttentionMask[i] = 1
	}
	_, _, err := s.run(ctx, &b)
	return err
}

// Info describes the loaded model.
func (s *Session) Info() models.Info { return s.info }

// Library is the ONNX Runtime library the session was loaded from.
func (s *Session) Library() string { return s.lib }

// ErrClosed is returned by Score after Close.
var ErrClosed = errors.New("ort: session closed")

// Score runs a cross-encoder on b and returns one logit per row (the
// configured label's column). b must hold N*L values in each slice, with 0
// < L <= Info().MaxLength. Cancelling ctx terminates a run in progress. On a
// bi-encoder it is an error (use Embed).
func (s *Session) Score(ctx context.Context, b *models.Batch) ([]float32, error) {
	if s.embed {
		return nil, fmt.Errorf("ort: score: %s is a bi-encoder: it embeds single sequences (Embed), it does not score pairs", s.info.Name)
	}
	logits, _, err := s.run(ctx, b)
	if err != nil || s.classes == 1 {
		return logits, err
	}
	res := make([]float32, b.N)
	for i := range res {
		res[i] = logits[i*s.classes+s.label]
	}
	return res, nil
}

// Embed runs a bi-encoder on b, one single sequence per row, and returns
// one embedding of Info().Dim values per row (they share one backing
// array). On a cross-encoder it is an error (use Score).
func (s *Session) Embed(ctx context.Context, b *models.Batch) ([][]float32, error) {
	if !s.embed {
		return nil, fmt.Errorf("ort: embed: %s is a cross-encoder: it scores pairs (Score), it does not embed", s.info.Name)
	}
	flat, d, err := s.run(ctx, b)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, b.N)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return out, nil
}

// run runs the graph on b and returns its output, N rows of width values.
func (s *Session) run(ctx context.Context, b *models.Batch) (vals []float32, width int, err error) {
	if b == nil || b.N <= 0 || b.L <= 0 {
		return nil, 0, fmt.Errorf("ort: score: empty batch")
	}
	n, l := b.N, b.L
	if l > s.info.MaxLength {
		return nil, 0, fmt.Errorf("ort: score: sequence length %d exceeds the model maximum %d (truncate first)", l, s.info.MaxLength)
	}
	size := n * l
	if len(b.InputIDs) < size || len(b.AttentionMask) < size || (s.info.HasTypeIDs && len(b.TokenTypeIDs) < size) {
		return nil, 0, fmt.Errorf("ort: score: batch %dx%d needs %d values per input, have ids %d mask %d types %d",
			n, l, size, len(b.InputIDs), len(b.AttentionMask), len(b.TokenTypeIDs))
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("ort: score: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, 0, ErrClosed
	}

	shape := onnxruntime.NewShape(int64(n), int64(l))
	inputs := make([]onnxruntime.Value, len(s.roles))
	defer func() {
		for _, v := range inputs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	var pos []int64
	for i, role := range s.roles {
		data := b.InputIDs
		switch role {
		case roleMask:
			data = b.AttentionMask
		case roleTypes:
			data = b.TokenTypeIDs
		case rolePos:
			pos = positions(b)
			data = pos
		}
		t, err := onnxruntime.NewTensor(shape, data[:size])
		if err != nil {
			return nil, 0, fmt.Errorf("ort: score: input tensor: %w", err)
		}
		inputs[i] = t
	}
	logits := make([]float32, n*s.classes)
	outShape := onnxruntime.NewShape(int64(n), int64(s.classes))
	if s.outRank == 1 {
		outShape = onnxruntime.NewShape(int64(n))
	}
	out, err := onnxruntime.NewTensor(outShape, logits)
	if err != nil {
		return nil, 0, fmt.Errorf("ort: score: output tensor: %w", err)
	}
	defer out.Destroy()

	var ro *onnxruntime.RunOptions
	if ctx.Done() != nil {
		ro, err = onnxruntime.NewRunOptions()
		if err != nil {
			return nil, 0, fmt.Errorf("ort: score: run options: %w", err)
		}
		defer ro.Destroy()
		stop := context.AfterFunc(ctx, func() { ro.Terminate() })
		defer stop()
	}
	if err := s.sess.RunWithOptions(inputs, []onnxruntime.Value{out}, ro); err != nil {
		if ctx.Err() != nil {
			return nil, 0, fmt.Errorf("ort: score %dx%d: %w", n, l, ctx.Err())
		}
		return nil, 0, fmt.Errorf("ort: score %dx%d: %w", n, l, err)
	}
	return logits, s.classes, nil
}

// positions derives position ids from the attention mask: 0, 1, ... over
// each row's real tokens (the running count of the mask less one), 0 on
// padding. Models that offset positions (RoBERTa's padding_idx + 1) do it
// inside their graph.
func positions(b *models.Batch) []int64 {
	pos := make([]int64, b.N*b.L)
	for r := range b.N {
		var k int64
		row := b.AttentionMask[r*b.L : (r+1)*b.L]
		for j, m := range row {
			if m != 0 {
				pos[r*b.L+j] = k
				k++
			}
		}
	}
	return pos
}

// Close releases the session; it waits for Score calls in progress.
// The process-wide ONNX Runtime environment stays up.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.sess.Destroy(); err != nil {
		return fmt.Errorf("ort: close %s: %w", s.info.Dir, err)
	}
	return nil
}
