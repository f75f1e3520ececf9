// Package twin writes the crossrank "shape twin": a BERT cross-encoder with
// exactly the architecture of cross-encoder/ms-marco-MiniLM-L-6-v2
// (MiniLM-L6-H384, 22.7M parameters, one logit) and fixed-seed random
// weights, laid out like a Hugging Face model folder:
//
//	config.json          BertForSequenceClassification config (+ "crossrank_twin": true)
//	tokenizer.json       bert-base-uncased, truncation max_length 512 longest_first
//	tokenizer_config.json, special_tokens_map.json, vocab.txt  (for Python and JS loaders)
//	onnx/model.onnx      the graph crossrank model convert writes from these files, opset 11
//	model.safetensors    the same weights under BertForSequenceClassification names
//
// The output is byte-identical for the same Config. Twin scores carry no
// relevance meaning; the twin exists so that tests and benchmarks run the
// real computation (same shapes, same FLOPs, same graph) without network.
package twin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crossrank/crossrank/internal/assets"
	"github.com/crossrank/crossrank/internal/convert"
)

// Version changes whenever the bytes Write produces for a given Config
// change; config.json records it as "crossrank_twin_version" so caches of an
// older twin can be detected and rebuilt.
const Version = 7

// Opset is the ONNX opset the twin graph is written at: convert.Opset, the
// graph writer's (ONNX Runtime's graph optimiser fuses Attention only for
// the opset-11 forms of Unsqueeze, Softmax, Add and Reshape).
const Opset = convert.Opset

// Config is the twin's architecture and seed.
type Config struct {
	Layers       int    // encoder layers (6)
	Hidden       int    // hidden size (384)
	Heads        int    // attention heads (12)
	Intermediate int    // feed-forward size (1536)
	Vocab        int    // vocabulary size (30522, bert-base-uncased)
	MaxPositions int    // position embeddings (512)
	TypeVocab    int    // token types (2)
	NumLabels    int    // classifier outputs (1)
	Seed         uint64 // weight seed (42 for the default twin)
	// AllTokens writes the graph that keeps every token through the last
	// layer (convert.WithAllTokens), as the checkpoint computes it, instead
	// of the default [CLS]-only last layer: same scores, about 16% more
	// work; for side-by-side comparisons.
	AllTokens bool
}

// Default is the MiniLM-L6-H384 cross-encoder shape with seed 42: the twin
// every test and benchmark uses (.cache/models/twin).
func Default() Config {
	return Config{Layers: 6, Hidden: 384, Heads: 12, Intermediate: 1536, Vocab: 30522,
		MaxPositions: 512, TypeVocab: 2, NumLabels: 1, Seed: 42}
}

// Validate reports a clear error for an impossible configuration.
func (c Config) Validate() error {
	switch {
	case c.Layers < 1:
		return fmt.Errorf("twin: layers must be ≥ 1, got %d", c.Layers)
	case c.Hidden < 1 || c.Heads < 1:
		return fmt.Errorf("twin: hidden (%d) and heads (%d) must be ≥ 1", c.Hidden, c.Heads)
	case c.Hidden%c.Heads != 0:
		return fmt.Errorf("twin: hidden %d is not a multiple of heads %d", c.Hidden, c.Heads)
	case c.Intermediate < 1:
		return fmt.Errorf("twin: intermediate must be ≥ 1, got %d", c.Intermediate)
	case c.Vocab < 103:
		return fmt.Errorf("twin: vocab %d is smaller than the bert-base-uncased special ids (need ≥ 103; tokenizer has 30522)", c.Vocab)
	case c.MaxPositions < 3:
		return fmt.Errorf("twin: max positions must be ≥ 3, got %d", c.MaxPositions)
	case c.TypeVocab < 1 || c.NumLabels < 1:
		return fmt.Errorf("twin: type vocab (%d) and labels (%d) must be ≥ 1", c.TypeVocab, c.NumLabels)
	}
	return nil
}

// Params is the number of parameters of the model (22,713,601 for Default).
func (c Config) Params() int64 {
	h, i := int64(c.Hidden), int64(c.Intermediate)
	emb := (int64(c.Vocab)+int64(c.MaxPositions)+int64(c.TypeVocab))*h + 2*h
	layer := 4*(h*h+h) + 2*h + (h*i + i) + (i*h + h) + 2*h
	return emb + int64(c.Layers)*layer + (h*h + h) + (h*int64(c.NumLabels) + int64(c.NumLabels))
}

// Write writes the twin folder to dir (created if needed; existing files of
// the same names are replaced).
func Write(dir string, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	w := newWeights(cfg)
	files, err := render(cfg, w)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "onnx"), 0o755); err != nil {
		return fmt.Errorf("twin: write %s: %w", dir, err)
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return fmt.Errorf("twin: write %s: %w", p, err)
		}
	}
	// The graph is the one crossrank model convert writes from these
	// config.json and model.safetensors: one graph writer for twins and
	// converted checkpoints.
	var opts []convert.BuildOption
	if cfg.AllTokens {
		opts = append(opts, convert.WithAllTokens())
	}
	m, _, err := convert.Build(context.Background(), dir, opts...)
	if err != nil {
		return fmt.Errorf("twin: onnx: %w", err)
	}
	m.ProducerName, m.ProducerVersion = "crossrank-twin", fmt.Sprint(Version)
	model, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("twin: onnx: %w", err)
	}
	p := filepath.Join(dir, "onnx", "model.onnx")
	if err := os.WriteFile(p, model, 0o644); err != nil {
		return fmt.Errorf("twin: write %s: %w", p, err)
	}
	return nil
}

type file struct {
	name string
	data []byte
}

func render(cfg Config, w *weights) ([]file, error) {
	conf, err := configJSON(cfg)
	if err != nil {
		return nil, err
	}
	tok, err := TokenizerJSON()
	if err != nil {
		return nil, err
	}
	st, err := safetensors(w)
	if err != nil {
		return nil, err
	}
	vocab, err := vocabTxt(tok)
	if err != nil {
		return nil, err
	}
	return []file{
		{"config.json", conf},
		{"tokenizer.json", tok},
		{"tokenizer_config.json", []byte(tokenizerConfig)},
		{"special_tokens_map.json", []byte(specialTokens)},
		{"vocab.txt", vocab},
		{"model.safetensors", st},
	}, nil
}

// TokenizerJSON returns the twin's tokenizer.json: the embedded
// bert-base-uncased file with truncation set to 512 tokens, longest first,
// from the right, stride 0 (what the MiniLM cross-encoder ships). Only the
// "truncation" value is changed; every other byte is kept.
func TokenizerJSON() ([]byte, error) {
	src := assets.BertBaseUncasedTokenizer()
	old := []byte(`"truncation": null,`)
	if bytes.Count(src, old) != 1 {
		return nil, errors.New(`twin: embedded tokenizer.json has no single "truncation": null field`)
	}
	trunc := []byte(`"truncation": {
        "direction": "Right",
        "max_length": 512,
        "strategy": "LongestFirst",
        "stride": 0
    },`)
	out := bytes.Replace(src, old, trunc, 1)
	if !json.Valid(out) {
		return nil, errors.New("twin: tokenizer.json is not valid JSON after setting truncation")
	}
	return out, nil
}

// tokenizerConfig is tokenizer_config.json as the MiniLM cross-encoder ships
// it (transformers' BertTokenizer settings, 512-token limit).
const tokenizerConfig = `{
  "clean_up_tokenization_spaces": true,
  "cls_token": "[CLS]",
  "do_basic_tokenize": true,
  "do_lower_case": true,
  "mask_token": "[MASK]",
  "model_max_length": 512,
  "never_split": null,
  "pad_token": "[PAD]",
  "sep_token": "[SEP]",
  "strip_accents": null,
  "tokenize_chinese_chars": true,
  "tokenizer_class": "BertTokenizer",
  "unk_token": "[UNK]"
}
`

const specialTokens = `{
  "cls_token": "[CLS]",
  "mask_token": "[MASK]",
  "pad_token": "[PAD]",
  "sep_token": "[SEP]",
  "unk_token": "[UNK]"
}
`

// vocabTxt lists the WordPiece vocabulary of tokenizer.json one token a
// line in id order (the vocab.txt of slow BERT tokenizers).
func vocabTxt(tokenizerJSON []byte) ([]byte, error) {
	var t struct {
		Model struct {
			Vocab map[string]int `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(tokenizerJSON, &t); err != nil {
		return nil, fmt.Errorf("twin: tokenizer.json: %w", err)
	}
	byID := make([]string, len(t.Model.Vocab))
	for tok, id := range t.Model.Vocab {
		if id < 0 || id >= len(byID) || byID[id] != "" {
			return nil, fmt.Errorf("twin: tokenizer.json vocab id %d of %q is out of range or repeated", id, tok)
		}
		byID[id] = tok
	}
	var b bytes.Buffer
	for _, tok := range byID {
		b.WriteString(tok)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// hfConfig is config.json, fields in the order transformers writes them.
type hfConfig struct {
	NameOrPath                string            `json:"_name_or_path"`
	Architectures             []string          `json:"architectures"`
	AttentionProbsDropoutProb float64           `json:"attention_probs_dropout_prob"`
	ClassifierDropout         *float64          `json:"classifier_dropout"`
	CrossrankTwin             bool              `json:"crossrank_twin"`
	CrossrankTwinSeed         uint64            `json:"crossrank_twin_seed"`
	CrossrankTwinVersion      int               `json:"crossrank_twin_version"`
	CrossrankTwinNote         string            `json:"crossrank_twin_note"`
	HiddenAct                 string            `json:"hidden_act"`
	HiddenDropoutProb         float64           `json:"hidden_dropout_prob"`
	HiddenSize                int               `json:"hidden_size"`
	ID2Label                  map[string]string `json:"id2label"`
	InitializerRange          float64           `json:"initializer_range"`
	IntermediateSize          int               `json:"intermediate_size"`
	Label2ID                  map[string]int    `json:"label2id"`
	LayerNormEps              float64           `json:"layer_norm_eps"`
	MaxPositionEmbeddings     int               `json:"max_position_embeddings"`
	ModelType                 string            `json:"model_type"`
	NumAttentionHeads         int               `json:"num_attention_heads"`
	NumHiddenLayers           int               `json:"num_hidden_layers"`
	PadTokenID                int               `json:"pad_token_id"`
	PositionEmbeddingType     string            `json:"position_embedding_type"`
	SbertCEActivation         string            `json:"sbert_ce_default_activation_function"`
	TorchDtype                string            `json:"torch_dtype"`
	TransformersVersion       string            `json:"transformers_version"`
	TypeVocabSize             int               `json:"type_vocab_size"`
	UseCache                  bool              `json:"use_cache"`
	VocabSize                 int               `json:"vocab_size"`
}

func configJSON(cfg Config) ([]byte, error) {
	id2label := map[string]string{}
	label2id := map[string]int{}
	for i := 0; i < cfg.NumLabels; i++ {
		l := fmt.Sprintf("LABEL_%d", i)
		id2label[fmt.Sprint(i)] = l
		label2id[l] = i
	}
	c := hfConfig{
		NameOrPath:                "crossrank/shape-twin-MiniLM-L6-H384",
		Architectures:             []string{"BertForSequenceClassification"},
		AttentionProbsDropoutProb: 0.1,
		CrossrankTwin:             true,
		CrossrankTwinSeed:         cfg.Seed,
		CrossrankTwinVersion:      Version,
		CrossrankTwinNote:         "random weights with the shape of cross-encoder/ms-marco-MiniLM-L-6-v2: scores are not meaningful relevance",
		HiddenAct:                 "gelu",
		HiddenDropoutProb:         0.1,
		HiddenSize:                cfg.Hidden,
		ID2Label:                  id2label,
		InitializerRange:          0.02,
		IntermediateSize:          cfg.Intermediate,
		Label2ID:                  label2id,
		LayerNormEps:              layerNormEps,
		MaxPositionEmbeddings:     cfg.MaxPositions,
		ModelType:                 "bert",
		NumAttentionHeads:         cfg.Heads,
		NumHiddenLayers:           cfg.Layers,
		PositionEmbeddingType:     "absolute",
		SbertCEActivation:         "torch.nn.modules.linear.Identity",
		TorchDtype:                "float32",
		TransformersVersion:       "4.46.0",
		TypeVocabSize:             cfg.TypeVocab,
		UseCache:                  true,
		VocabSize:                 cfg.Vocab,
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("twin: config.json: %w", err)
	}
	return append(b, '\n'), nil
}
