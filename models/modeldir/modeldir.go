// Package modeldir reads a Hugging Face-layout cross-encoder folder:
// config.json, tokenizer.json and one ONNX file (onnx/model.onnx, model.onnx
// or, when asked for, onnx/model_quantized.onnx). It only reads metadata; the
// backends (models/ort) load the graph.
package modeldir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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

// Dir is an opened model folder.
type Dir struct {
	Path      string // the folder
	Config    Config
	ONNX      string // absolute path of the ONNX file in use
	File      string // that file relative to Path, slash-separated
	Tokenizer string // path of tokenizer.json ("" when the folder has none)
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
	return nil, fmt.Errorf("modeldir: %s: no ONNX file (looked for %v)", dir, candidates)
}

// MaxLength is the longest sequence the model takes: max_position_embeddings,
// less the padding offset RoBERTa-style models reserve (pad_token_id+1).
func (d *Dir) MaxLength() int {
	n := d.Config.MaxPositionEmbeddings
	if n <= 0 {
		return DefaultMaxLength
	}
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
