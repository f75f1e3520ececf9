// Package convert writes ONNX graphs from Hugging Face checkpoints
// (config.json + model.safetensors) with crossrank's own graph writer
// (internal/onnx), so a model published without ONNX can be served without
// Python.
//
// Supported model_type values: bert, electra, roberta, xlm-roberta,
// modernbert and deberta-v2 (DeBERTa-v3), each either as a sequence
// classifier (output "logits" [N, num_labels], the family's own head: BERT
// pooler + classifier, ELECTRA dense/gelu/out_proj, RoBERTa
// dense/tanh/out_proj, ModernBERT cls or mean pooling, dense/act/norm,
// classifier, DeBERTa ContextPooler + classifier) or, for a folder in
// sentence-transformers layout (modules.json: Transformer, Pooling,
// optional Normalize) without a classification head, as a bi-encoder
// (output "sentence_embedding" [N, hidden], pooling and L2 normalisation
// inside the graph).
//
// The graph follows transformers' forward exactly: absolute positions
// 0..L-1 for BERT and ELECTRA; for (XLM-)RoBERTa positions padding_idx + 1
// onwards counted over the non-pad tokens of input_ids, computed in the
// graph (Equal, Not, CumSum); a token_type_ids input only when
// type_vocab_size > 1 (with one type, row 0 of the table is added); for
// ModernBERT rotary embeddings computed in the graph and the sliding-window
// mask of its local layers; for DeBERTa the disentangled c2p/p2c terms
// over log-bucketed relative positions (see RATIONALE.md). Nodes are laid
// out the way torch.onnx.export writes them at opset 11, so ONNX Runtime's
// transformer fusions apply to converted graphs as to the official exports.
//
// Every input is checked: an unsupported model_type, a checkpoint whose
// tensor names or shapes do not match config.json, or a truncated or
// corrupted safetensors file is an error naming the file, the tensor and
// what was expected.
package convert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/crossrank/crossrank/internal/convert/safetensors"
	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/quantize"
)

// Version changes whenever Convert writes different bytes for the same
// input; crossrank.json records it.
const Version = 4

// maxGraphBytes bounds the initializer bytes of a graph written as one
// file: protobuf messages cannot exceed 2 GiB, and the graph needs some
// room beside its weights. Above it, weights go to external data.
const maxGraphBytes = 2<<30 - 64<<20

// MetadataFile is written beside the graph and describes the model to
// crossrank's model-folder reader (internal/modeldir).
const MetadataFile = "crossrank.json"

// Kinds of model Convert writes.
const (
	KindCrossEncoder = "cross-encoder"
	KindBiEncoder    = "bi-encoder"
)

// Metadata is the content of crossrank.json.
type Metadata struct {
	Kind             string   `json:"crossrank_kind"`
	Trained          bool     `json:"trained"`
	ModelType        string   `json:"model_type"`
	Inputs           []string `json:"inputs"`
	Output           string   `json:"output"`
	OutputDim        int      `json:"output_dim"`
	Pooling          []string `json:"pooling,omitempty"`
	Normalize        bool     `json:"normalize,omitempty"`
	MaxLength        int      `json:"max_length"`
	Int8             bool     `json:"int8"`
	Source           string   `json:"source"`
	ConverterVersion int      `json:"crossrank_convert_version"`
	// LastLayerCLSOnly: the graph's last layer computes the first token's
	// query, attention output and feed-forward only (a cross-encoder's
	// classifier and a bi-encoder's cls pooling read nothing else), which
	// skips about 14% of a 6-layer model's FLOPs.
	LastLayerCLSOnly bool `json:"last_layer_cls_only,omitempty"`
}

// Options changes what Convert writes.
type Options struct {
	// Int8 quantises the graph dynamically (internal/quantize): the folder
	// then holds the int8 graph as onnx/model.onnx and
	// onnx/model_quantized.onnx, and quantize_config.json.
	Int8 bool
	// ExternalData stores the weights in onnx/model.onnx_data beside the
	// graph (ONNX external data); it is automatic for weights over 2 GB,
	// which one protobuf file cannot hold.
	ExternalData bool
	// Logger receives progress lines (nil: discarded).
	Logger *slog.Logger
}

// output writes one file of the converted folder to path.
type output func(path string) error

func bytesOutput(b []byte) output {
	return func(p string) error { return os.WriteFile(p, b, 0o644) }
}

// externalMin is the smallest initializer written as external data.
const externalMin = 1024

// Result describes a finished conversion.
type Result struct {
	Metadata Metadata
	Params   int64  // parameters in the graph's float initializers
	ONNX     string // path of onnx/model.onnx
	Elapsed  time.Duration
}

// passthrough lists the files copied from the checkpoint folder when they
// exist (tokenizers, sentence-transformers layout).
func passthrough() []string {
	return []string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
		"sentencepiece.bpe.model", "spm.model", "merges.txt", "vocab.json", "added_tokens.json",
		"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json", "README.md", "LICENSE"}
}

// Convert reads the checkpoint folder in and writes the ONNX graph, the
// tokenizer and configuration files and crossrank.json to out. out may be
// in (the graph is added to the folder) or a folder that does not exist
// yet or is empty; a new folder is written under a temporary name and
// renamed, so an interrupted run leaves nothing half-written.
func Convert(ctx context.Context, in, out string, opts Options) (*Result, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, md, err := Build(ctx, in)
	if err != nil {
		return nil, err
	}
	params := int64(0)
	for _, t := range m.Graph.Initializers {
		if t.DataType == onnx.Float {
			params += onnx.NumElements(t.Dims)
		}
	}
	var qcfg []byte
	if opts.Int8 {
		n, err := quantize.Model(m)
		if err != nil {
			return nil, fmt.Errorf("convert: int8: %w", err)
		}
		md.Int8 = true
		cfg := quantize.Config{Format: "QOperator", Mode: "dynamic", WeightType: "QInt8", ActivationType: "QUInt8",
			Symmetric: true, OpTypes: []string{"MatMul", "Gather"}, Quantized: n, Source: "model.safetensors", Version: quantize.Version}
		if qcfg, err = json.MarshalIndent(cfg, "", "  "); err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		qcfg = append(qcfg, '\n')
	}
	size := int64(0)
	for _, t := range m.Graph.Initializers {
		size += int64(len(t.Raw))
	}
	external := opts.ExternalData || size > maxGraphBytes
	meta, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	meta = append(meta, '\n')

	files := map[string]output{}
	graphFiles := []string{"onnx/model.onnx"}
	if opts.Int8 {
		graphFiles = append(graphFiles, "onnx/model_quantized.onnx")
		files[quantize.ConfigFile] = bytesOutput(qcfg)
	}
	if external {
		// Weights beside the graph (ONNX external data, named like
		// Optimum's), for models over protobuf's 2 GB limit.
		for _, rel := range graphFiles {
			data := path.Base(rel) + "_data"
			files[rel] = func(p string) error { return onnx.WriteFileExternal(p, m, data, externalMin) }
		}
		log.Info("writing weights as ONNX external data", "bytes", size)
	} else {
		graph, err := m.Marshal()
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		for _, rel := range graphFiles {
			files[rel] = bytesOutput(graph)
		}
	}
	inPlace, err := sameDir(in, out)
	if err != nil {
		return nil, err
	}
	if inPlace {
		if err := writeInPlace(out, files, meta); err != nil {
			return nil, err
		}
	} else {
		if err := writeNew(in, out, files, meta); err != nil {
			return nil, err
		}
	}
	res := &Result{Metadata: *md, Params: params, ONNX: filepath.Join(out, "onnx", "model.onnx"), Elapsed: time.Since(start)}
	log.Info("converted model", "in", in, "out", out, "model_type", md.ModelType, "kind", md.Kind,
		"params", params, "int8", opts.Int8, "seconds", res.Elapsed.Seconds())
	return res, ctx.Err()
}

// BuildOption changes the graph Build writes.
type BuildOption func(*buildConfig)

type buildConfig struct{ allTokens bool }

// WithAllTokens keeps every token through the last layer of a
// cross-encoder or cls-pooling bi-encoder, as the checkpoint's own forward
// pass computes it, instead of [CLS] alone (Metadata.LastLayerCLSOnly). The scores are the same; the graph does
// about 16% more work on a 6-layer model. For comparisons: tests,
// BenchmarkLastLayer and BenchmarkEfficiency.
func WithAllTokens() BuildOption { return func(c *buildConfig) { c.allTokens = true } }

// Build reads the checkpoint folder dir and returns the ONNX model and its
// metadata without writing anything.
func Build(ctx context.Context, dir string, opts ...BuildOption) (*onnx.Model, *Metadata, error) {
	var bc buildConfig
	for _, o := range opts {
		o(&bc)
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("convert: %w", err)
	}
	be, err := readBiEncoder(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("convert: %w", err)
	}
	stPath := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(stPath); err != nil {
		if _, e2 := os.Stat(filepath.Join(dir, "model.safetensors.index.json")); e2 == nil {
			return nil, nil, fmt.Errorf("convert: %s: sharded checkpoints (model.safetensors.index.json) are not supported yet", dir)
		}
		return nil, nil, fmt.Errorf("convert: %s: no model.safetensors (pytorch_model.bin is not read: convert it to safetensors first): %w", dir, err)
	}
	st, err := safetensors.Open(stPath)
	if err != nil {
		return nil, nil, fmt.Errorf("convert: %w", err)
	}
	defer st.Close()
	names := map[string]bool{}
	for _, n := range st.Names() {
		names[n] = true
	}
	p, err := prefix(names, cfg.ModelType)
	if err != nil {
		return nil, nil, fmt.Errorf("convert: %s: %w", stPath, err)
	}
	md := &Metadata{ModelType: cfg.ModelType, Trained: !isTwin(dir), Source: "model.safetensors", ConverterVersion: Version, MaxLength: maxLength(cfg)}
	if n := tokenizerMaxLength(dir); n > 0 && n < md.MaxLength {
		md.MaxLength = n
	}
	classifier := hasClassifier(st, cfg.ModelType)
	switch {
	case classifier:
		md.Kind, md.Output, md.OutputDim = KindCrossEncoder, "logits", cfg.NumLabels
	case be != nil:
		md.Kind, md.Output, md.OutputDim = KindBiEncoder, "sentence_embedding", cfg.HiddenSize*len(be.Pooling.Modes())
		md.Pooling, md.Normalize = be.Pooling.Modes(), be.Normalize
		if be.MaxLength > 0 && be.MaxLength < md.MaxLength {
			md.MaxLength = be.MaxLength
		}
	default:
		head := "classifier.out_proj.weight"
		if cfg.ModelType == "bert" || cfg.ModelType == "modernbert" || cfg.ModelType == "deberta-v2" {
			head = "classifier.weight"
		}
		return nil, nil, fmt.Errorf("convert: %s is neither a sequence classifier (%s has no %q tensor) nor a sentence-transformers bi-encoder (no modules.json): %w",
			dir, stPath, head, ErrIncompleteLayout)
	}
	b := &graphBuilder{Builder: onnx.NewBuilder("main_graph"), st: st, cfg: cfg, p: p,
		clsOnly: !bc.allTokens && cfg.bertStyle() && (md.Kind == KindCrossEncoder || slices.Equal(md.Pooling, []string{"cls"}))}
	md.LastLayerCLSOnly = b.clsOnly
	b.G.Inputs = cfg.inputs()
	for _, vi := range b.G.Inputs {
		md.Inputs = append(md.Inputs, vi.Name)
	}
	x := b.encoder(ctx)
	if md.Kind == KindCrossEncoder {
		b.classifierHead(x)
	} else {
		b.poolingHead(x, be)
	}
	b.G.Outputs = []*onnx.ValueInfo{onnx.Input(md.Output, onnx.Float, "batch_size", int64(md.OutputDim))}
	if b.err == nil {
		if extra := b.unused(md.Kind == KindBiEncoder); len(extra) > 0 {
			more := ""
			if len(extra) > 3 {
				more = fmt.Sprintf(" and %d more", len(extra)-3)
				extra = extra[:3]
			}
			b.err = fmt.Errorf("%s holds tensors config.json does not account for: %q%s (num_hidden_layers %d, model_type %s: is config.json the checkpoint's own?)",
				stPath, extra, more, cfg.NumHiddenLayers, cfg.ModelType)
		}
	}
	if b.err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("convert: %w", ctx.Err())
		}
		return nil, nil, fmt.Errorf("convert: %s (model_type %s): %w", dir, cfg.ModelType, b.err)
	}
	return &onnx.Model{
		IRVersion:       6,
		ProducerName:    "crossrank-convert",
		ProducerVersion: fmt.Sprint(Version),
		Opsets:          []onnx.OpsetID{{Version: Opset}},
		Graph:           b.G,
	}, md, nil
}

// maxLength is the longest input the model takes: max_position_embeddings,
// less the padding offset (pad_token_id + 1) of RoBERTa-style positions
// (Build then caps it at tokenizer_config.json's model_max_length and, for
// a bi-encoder, sentence_bert_config.json's max_seq_length).
func maxLength(c *hfConfig) int {
	n := c.MaxPositionEmbeddings
	if c.roberta() {
		n -= *c.PadTokenID + 1
	}
	return n
}

// tokenizerMaxLength is tokenizer_config.json's model_max_length (0 when
// absent or when it is transformers' "unset" sentinel, 1e30).
func tokenizerMaxLength(dir string) int {
	raw, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return 0
	}
	var c struct {
		ModelMaxLength float64 `json:"model_max_length"`
	}
	if json.Unmarshal(raw, &c) != nil || c.ModelMaxLength < 1 || c.ModelMaxLength > 1<<20 {
		return 0
	}
	return int(c.ModelMaxLength)
}

// isTwin reports whether config.json marks random weights (crossrank's
// twins set "crossrank_twin": true).
func isTwin(dir string) bool {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return false
	}
	var c struct {
		Twin bool `json:"crossrank_twin"`
	}
	return json.Unmarshal(raw, &c) == nil && c.Twin
}

func sameDir(a, b string) (bool, error) {
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, fmt.Errorf("convert: %w", err)
	}
	bb, err := filepath.Abs(b)
	if err != nil {
		return false, fmt.Errorf("convert: %w", err)
	}
	if aa == bb {
		return true, nil
	}
	sa, err1 := os.Stat(aa)
	sb, err2 := os.Stat(bb)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb), nil
}

// writeInPlace adds files to dir, each through a temporary name and a
// rename; crossrank.json goes last, so its presence means a complete graph.
func writeInPlace(dir string, files map[string]output, meta []byte) error {
	_ = os.Remove(filepath.Join(dir, MetadataFile))
	for rel, write := range files {
		if err := writeAtomic(filepath.Join(dir, filepath.FromSlash(rel)), write); err != nil {
			return err
		}
	}
	return writeAtomic(filepath.Join(dir, MetadataFile), bytesOutput(meta))
}

func writeAtomic(p string, write output) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	tmp := p + ".tmp-convert"
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("convert: write %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("convert: write %s: %w", p, err)
	}
	return nil
}

// writeNew writes a new folder out: everything goes into a temporary
// sibling folder first, which is then renamed.
func writeNew(in, out string, files map[string]output, meta []byte) error {
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("convert: output folder %s exists and is not empty (remove it, or pass the input folder as --out to add the graph in place)", out)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("convert: %w", err)
	}
	parent := filepath.Dir(filepath.Clean(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-convert-")
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	for _, rel := range passthrough() {
		data, err := os.ReadFile(filepath.Join(in, filepath.FromSlash(rel)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		files[rel] = bytesOutput(data)
	}
	files[MetadataFile] = bytesOutput(meta)
	for rel, write := range files {
		p := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		if err := write(p); err != nil {
			return fmt.Errorf("convert: write %s: %w", p, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	_ = os.Remove(out) // an empty folder, if any
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	ok = true
	return nil
}
