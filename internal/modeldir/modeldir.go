// Package modeldir reads a Hugging Face-layout model folder: config.json,
// tokenizer.json and one ONNX file (onnx/model.onnx, model.onnx or, when
// asked for, onnx/model_quantized.onnx). It only reads metadata; the
// backends (models/ort) load the graph.
//
// A folder is a cross-encoder (a sequence classifier with a "logits"
// output) or a bi-encoder: the sentence-transformers layout (modules.json
// naming a Transformer, a Pooling module and optionally Normalize), whose
// graph outputs "sentence_embedding". crossrank.json, written by
// `crossrank model convert` (internal/convert), states the kind and whether
// the weights are trained; without it the layout decides. A folder holding
// model.safetensors but no ONNX file is an error wrapping
// ErrNeedsConversion.
package modeldir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultFiles returns the ONNX files tried, in order, when no file is named:
// the fp32 exports, then the quantized ones (a folder pulled with
// --quantized holds only those).
func DefaultFiles() []string {
	return append([]string{"onnx/model.onnx", "model.onnx"}, QuantizedFiles()...)
}

// QuantizedFiles returns the ONNX files tried, in order, for a quantized model.
func QuantizedFiles() []string {
	return []string{"onnx/model_quantized.onnx", "model_quantized.onnx"}
}

// DefaultMaxLength is used when config.json has no max_position_embeddings.
const DefaultMaxLength = 512

// Config is the part of config.json crossrank uses.
type Config struct {
	ModelType             string            `json:"model_type"`
	Architectures         []string          `json:"architectures"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	NumLabels             int               `json:"num_labels"`
	ID2Label              map[string]string `json:"id2label"`
	PadTokenID            *int              `json:"pad_token_id"`
	TypeVocabSize         int               `json:"type_vocab_size"`
	CrossrankTwin         bool              `json:"crossrank_twin"`
}

// Model kinds.
const (
	KindCrossEncoder = "cross-encoder"
	KindBiEncoder    = "bi-encoder"
)

// Meta is crossrank.json, written beside a converted graph (the fields
// crossrank reads; internal/convert.Metadata writes them).
type Meta struct {
	Kind      string   `json:"crossrank_kind"`
	Trained   bool     `json:"trained"`
	Output    string   `json:"output"`
	OutputDim int      `json:"output_dim"`
	Pooling   []string `json:"pooling"`
	Normalize bool     `json:"normalize"`
	MaxLength int      `json:"max_length"`
	Int8      bool     `json:"int8"` // the graph is dynamically quantised (crossrank model quantize)
}

// Pooling is a bi-encoder's sentence-transformers pooling.
type Pooling struct {
	Modes     []string // cls, max, mean, mean_sqrt_len_tokens, in concatenation order
	Normalize bool     // a Normalize module follows (embeddings have unit length)
	MaxLength int      // sentence_bert_config.json max_seq_length (0: none)
}

// Dir is an opened model folder.
type Dir struct {
	Path      string // the folder
	Config    Config
	ONNX      string // absolute path of the ONNX file in use
	File      string // that file relative to Path, slash-separated
	Tokenizer string // path of tokenizer.json ("" when the folder has none)
	Kind      string // KindCrossEncoder or KindBiEncoder
	Trained   bool   // false for crossrank's random-weight twins
	Pooling   *Pooling
	Meta      *Meta // crossrank.json, nil when the folder has none
	// TokenizerMaxLength is tokenizer_config.json's model_max_length (0 when
	// absent or a placeholder for "no limit").
	TokenizerMaxLength int
}

// Option changes how Open picks the ONNX file.
type Option func(*options)

type options struct {
	file      string
	quantized bool
}

// WithFile names the ONNX file, relative to the folder (e.g.
// "onnx/model_quantized.onnx"). An empty name keeps the default search.
func WithFile(rel string) Option { return func(o *options) { o.file = rel } }

// WithQuantized prefers onnx/model_quantized.onnx (then model_quantized.onnx).
func WithQuantized() Option { return func(o *options) { o.quantized = true } }

// Open reads dir's config.json and picks its ONNX file.
func Open(dir string, opts ...Option) (*Dir, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("modeldir: %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("modeldir: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("modeldir: %s is not a folder", dir)
	}
	d := &Dir{Path: abs}
	raw, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("modeldir: %s: read config.json: %w", dir, err)
	}
	if err := json.Unmarshal(raw, &d.Config); err != nil {
		return nil, fmt.Errorf("modeldir: %s: parse config.json: %w", dir, err)
	}
	if d.Config.NumLabels == 0 {
		d.Config.NumLabels = len(d.Config.ID2Label)
	}
	for i := range d.Config.NumLabels {
		if _, ok := d.Config.ID2Label[strconv.Itoa(i)]; !ok && len(d.Config.ID2Label) > 0 {
			return nil, fmt.Errorf("modeldir: %s: config.json id2label has no label %d of %d", dir, i, d.Config.NumLabels)
		}
	}
	if t := filepath.Join(abs, "tokenizer.json"); fileExists(t) {
		d.Tokenizer = t
	}
	if err := d.readTokenizerConfig(); err != nil {
		return nil, fmt.Errorf("modeldir: %s: %w", dir, err)
	}
	if err := d.readKind(); err != nil {
		return nil, fmt.Errorf("modeldir: %s: %w", dir, err)
	}
	candidates := DefaultFiles()
	switch {
	case o.file != "":
		candidates = []string{o.file}
	case o.quantized:
		candidates = QuantizedFiles()
	}
	for _, c := range candidates {
		p := filepath.Join(abs, filepath.FromSlash(c))
		if fileExists(p) {
			d.ONNX, d.File = p, filepath.ToSlash(c)
			return d, nil
		}
	}
	if fileExists(filepath.Join(abs, "model.safetensors")) {
		return nil, fmt.Errorf("modeldir: %s: model.safetensors but no ONNX file (looked for %v): %w: run crossrank model convert --in %s --out %s",
			dir, candidates, ErrNeedsConversion, dir, dir)
	}
	return nil, fmt.Errorf("modeldir: %s: no ONNX file (looked for %v)", dir, candidates)
}

// Precision returns "int8" when the graph in use is dynamically quantised
// and "fp32" otherwise. A graph is int8 when it is one of QuantizedFiles,
// when crossrank.json says "int8": true, or when the folder is the output of
// `crossrank model quantize` (quantize_config.json beside it: that command
// writes the int8 graph as onnx/model.onnx too, so the folder serves it by
// default).
func (d *Dir) Precision() string {
	if slices.Contains(QuantizedFiles(), d.File) || (d.Meta != nil && d.Meta.Int8) ||
		fileExists(filepath.Join(d.Path, "quantize_config.json")) {
		return "int8"
	}
	return "fp32"
}

// HasQuantized reports whether dir holds one of QuantizedFiles, the int8
// graph that WithQuantized opens.
func HasQuantized(dir string) bool {
	for _, f := range QuantizedFiles() {
		if fileExists(filepath.Join(dir, filepath.FromSlash(f))) {
			return true
		}
	}
	return false
}

// readTokenizerConfig reads model_max_length from tokenizer_config.json.
// transformers writes a huge placeholder (int(1e30)) for "no limit", kept
// as 0 here.
func (d *Dir) readTokenizerConfig() error {
	raw, err := os.ReadFile(filepath.Join(d.Path, "tokenizer_config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var tc struct {
		ModelMaxLength *float64 `json:"model_max_length"`
	}
	if err := json.Unmarshal(raw, &tc); err != nil {
		return fmt.Errorf("parse tokenizer_config.json: %w", err)
	}
	if tc.ModelMaxLength != nil && *tc.ModelMaxLength >= 1 && *tc.ModelMaxLength < 1<<24 {
		d.TokenizerMaxLength = int(*tc.ModelMaxLength)
	}
	return nil
}

// ErrNeedsConversion is wrapped by Open's error for a folder with
// model.safetensors and no ONNX graph.
var ErrNeedsConversion = errors.New("the checkpoint needs converting to ONNX")

// readKind reads crossrank.json and the sentence-transformers layout.
func (d *Dir) readKind() error {
	d.Kind, d.Trained = KindCrossEncoder, !d.Config.CrossrankTwin
	if raw, err := os.ReadFile(filepath.Join(d.Path, "crossrank.json")); err == nil {
		var m Meta
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("parse crossrank.json: %w", err)
		}
		if m.Kind != KindCrossEncoder && m.Kind != KindBiEncoder {
			return fmt.Errorf("crossrank.json: crossrank_kind %q is neither %q nor %q", m.Kind, KindCrossEncoder, KindBiEncoder)
		}
		d.Meta, d.Kind, d.Trained = &m, m.Kind, m.Trained && !d.Config.CrossrankTwin
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(d.Path, "modules.json"))
	if errors.Is(err, os.ErrNotExist) {
		if d.Kind == KindBiEncoder {
			return errors.New("crossrank.json says bi-encoder but there is no modules.json")
		}
		return nil
	}
	if err != nil {
		return err
	}
	var mods []struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &mods); err != nil {
		return fmt.Errorf("parse modules.json: %w", err)
	}
	p := &Pooling{}
	poolPath, hasTransformer := "", false
	for _, m := range mods {
		switch m.Type[strings.LastIndex(m.Type, ".")+1:] {
		case "Transformer":
			hasTransformer = true
		case "Pooling":
			poolPath = m.Path
		case "Normalize":
			p.Normalize = true
		}
	}
	if d.Meta != nil && d.Meta.Kind == KindCrossEncoder || d.Meta == nil && d.classifierArchitecture() {
		return nil // a classifier that also ships a sentence-transformers layout
	}
	var missing []string
	if !hasTransformer {
		missing = append(missing, "a sentence_transformers.models.Transformer module")
	}
	if poolPath == "" {
		missing = append(missing, "a sentence_transformers.models.Pooling module")
	}
	if len(missing) > 0 {
		return fmt.Errorf("modules.json is neither a classifier nor a complete sentence-transformers layout: it lacks %s", strings.Join(missing, " and "))
	}
	if !filepath.IsLocal(filepath.FromSlash(poolPath)) {
		return fmt.Errorf("modules.json: Pooling path %q leaves the folder", poolPath)
	}
	pc := filepath.Join(d.Path, filepath.FromSlash(poolPath), "config.json")
	raw, err = os.ReadFile(pc)
	if err != nil {
		return fmt.Errorf("sentence-transformers layout incomplete: Pooling module: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("parse %s: %w", pc, err)
	}
	// sentence-transformers concatenates the modes in this order.
	for _, mode := range [][2]string{{"pooling_mode_cls_token", "cls"}, {"pooling_mode_max_tokens", "max"},
		{"pooling_mode_mean_tokens", "mean"}, {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"}} {
		if on, _ := cfg[mode[0]].(bool); on {
			p.Modes = append(p.Modes, mode[1])
		}
	}
	if len(p.Modes) == 0 {
		return fmt.Errorf("%s sets no supported pooling mode (cls, max, mean, mean_sqrt_len_tokens)", pc)
	}
	if raw, err := os.ReadFile(filepath.Join(d.Path, "sentence_bert_config.json")); err == nil {
		var sc struct {
			MaxSeqLength int `json:"max_seq_length"`
		}
		if err := json.Unmarshal(raw, &sc); err != nil {
			return fmt.Errorf("parse sentence_bert_config.json: %w", err)
		}
		p.MaxLength = sc.MaxSeqLength
	}
	d.Kind, d.Pooling = KindBiEncoder, p
	return nil
}

// MaxLength is the longest sequence the model takes, specials included: the
// smallest of max_position_embeddings (less the padding offset RoBERTa-style
// models reserve, pad_token_id+1; DefaultMaxLength when absent),
// tokenizer_config.json's model_max_length, sentence_bert_config.json's
// max_seq_length (a bi-encoder was trained to it) and crossrank.json's
// max_length. tokenizer.json's own truncation setting is not used: the
// engine truncates to this length.
func (d *Dir) MaxLength() int {
	n := d.Config.MaxPositionEmbeddings
	if n <= 0 {
		n = DefaultMaxLength
	} else {
		n = d.positions(n)
	}
	lower := func(m int) {
		if m > 0 && m < n {
			n = m
		}
	}
	lower(d.TokenizerMaxLength)
	if d.Pooling != nil {
		lower(d.Pooling.MaxLength)
	}
	if d.Meta != nil {
		lower(d.Meta.MaxLength)
	}
	return n
}

// positions is max_position_embeddings less the padding offset of
// RoBERTa-style models.
func (d *Dir) positions(n int) int {
	switch d.Config.ModelType {
	case "roberta", "xlm-roberta", "camembert":
		pad := 1
		if d.Config.PadTokenID != nil {
			pad = *d.Config.PadTokenID
		}
		n -= pad + 1
	}
	return n
}

// classifierArchitecture reports whether config.json names a
// sequence-classification architecture (BertForSequenceClassification, ...).
func (d *Dir) classifierArchitecture() bool {
	for _, a := range d.Config.Architectures {
		if strings.HasSuffix(a, "ForSequenceClassification") {
			return true
		}
	}
	return false
}

// Label returns the id2label name of class i ("" when the config has none).
func (d *Dir) Label(i int) string { return d.Config.ID2Label[strconv.Itoa(i)] }

// ErrNoTokenizer is returned by RequireTokenizer for a folder without tokenizer.json.
var ErrNoTokenizer = errors.New("modeldir: no tokenizer.json")

// RequireTokenizer returns the tokenizer.json path or an error naming the folder.
func (d *Dir) RequireTokenizer() (string, error) {
	if d.Tokenizer == "" {
		return "", fmt.Errorf("%w in %s", ErrNoTokenizer, d.Path)
	}
	return d.Tokenizer, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
