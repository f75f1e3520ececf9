package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// hfConfig is the part of a Hugging Face config.json the converter reads.
type hfConfig struct {
	ModelType             string            `json:"model_type"`
	Architectures         []string          `json:"architectures"`
	VocabSize             int               `json:"vocab_size"`
	HiddenSize            int               `json:"hidden_size"`
	EmbeddingSize         int               `json:"embedding_size"` // ELECTRA
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	NumAttentionHeads     int               `json:"num_attention_heads"`
	IntermediateSize      int               `json:"intermediate_size"`
	HiddenAct             string            `json:"hidden_act"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	TypeVocabSize         int               `json:"type_vocab_size"`
	LayerNormEps          float64           `json:"layer_norm_eps"`
	PadTokenID            *int              `json:"pad_token_id"`
	PositionEmbeddingType string            `json:"position_embedding_type"`
	NumLabels             int               `json:"num_labels"`
	ID2Label              map[string]string `json:"id2label"`
	ProblemType           string            `json:"problem_type"`

	// ModernBERT.
	NormEps                float64         `json:"norm_eps"`
	NormBias               bool            `json:"norm_bias"`
	MLPBias                bool            `json:"mlp_bias"`
	AttentionBias          bool            `json:"attention_bias"`
	HiddenActivation       string          `json:"hidden_activation"`
	ClassifierActivation   string          `json:"classifier_activation"`
	ClassifierBias         bool            `json:"classifier_bias"`
	ClassifierPooling      string          `json:"classifier_pooling"`
	LocalAttention         int             `json:"local_attention"`
	GlobalAttnEveryNLayers int             `json:"global_attn_every_n_layers"`
	GlobalRopeTheta        float64         `json:"global_rope_theta"`
	LocalRopeTheta         *float64        `json:"local_rope_theta"`
	RopeScaling            json.RawMessage `json:"rope_scaling"`

	// DeBERTa-v2/v3.
	RelativeAttention    bool            `json:"relative_attention"`
	PositionBuckets      *int            `json:"position_buckets"`
	MaxRelativePositions *int            `json:"max_relative_positions"`
	PosAttTypeRaw        json.RawMessage `json:"pos_att_type"`
	ShareAttKey          bool            `json:"share_att_key"`
	NormRelEbd           string          `json:"norm_rel_ebd"`
	PositionBiasedInput  *bool           `json:"position_biased_input"`
	ConvKernelSize       int             `json:"conv_kernel_size"`
	PoolerHiddenSize     int             `json:"pooler_hidden_size"`
	PoolerHiddenAct      string          `json:"pooler_hidden_act"`
	AttentionHeadSize    int             `json:"attention_head_size"`

	posAttType []string // pos_att_type as a list
}

// Families lists the model_type values Convert supports.
func Families() []string {
	return []string{"bert", "electra", "xlm-roberta", "roberta", "modernbert", "deberta-v2"}
}

// ErrUnsupported is wrapped by the error for a model_type Convert cannot build.
var ErrUnsupported = errors.New("unsupported model_type")

func readConfig(dir string) (*hfConfig, error) {
	p := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var c hfConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	if c.NumLabels == 0 {
		c.NumLabels = len(c.ID2Label)
	}
	if c.NumLabels == 0 {
		c.NumLabels = 2 // transformers' PretrainedConfig default
	}
	if err := c.validate(p); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *hfConfig) validate(p string) error {
	supported := false
	for _, f := range Families() {
		supported = supported || f == c.ModelType
	}
	if !supported {
		name := c.ModelType
		if name == "" {
			name = "(none)"
		}
		return fmt.Errorf("%s: model_type %q: %w; crossrank model convert writes %s graphs — export this model to ONNX with Optimum (optimum-cli export onnx --model DIR OUT) and serve the folder holding onnx/model.onnx",
			p, name, ErrUnsupported, strings.Join(Families(), ", "))
	}
	if c.ModelType == "modernbert" {
		if err := c.modernDefaults(p); err != nil {
			return err
		}
	}
	if c.ModelType == "deberta-v2" {
		if err := c.debertaDefaults(p); err != nil {
			return err
		}
	}
	if c.HiddenAct == "" {
		c.HiddenAct = "gelu"
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-12
	}
	if c.PositionEmbeddingType == "" {
		c.PositionEmbeddingType = "absolute"
	}
	if c.EmbeddingSize == 0 {
		c.EmbeddingSize = c.HiddenSize
	}
	switch {
	case c.HiddenSize < 1 || c.NumHiddenLayers < 1 || c.NumAttentionHeads < 1 || c.IntermediateSize < 1 || c.VocabSize < 1 || c.MaxPositionEmbeddings < 1:
		return fmt.Errorf("%s: hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, vocab_size and max_position_embeddings must all be ≥ 1 (got %d, %d, %d, %d, %d, %d)",
			p, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings)
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("%s: hidden_size %d is not a multiple of num_attention_heads %d", p, c.HiddenSize, c.NumAttentionHeads)
	case c.PositionEmbeddingType != "absolute":
		return fmt.Errorf("%s: position_embedding_type %q is not supported (only \"absolute\")", p, c.PositionEmbeddingType)
	case c.TypeVocabSize < 0:
		return fmt.Errorf("%s: type_vocab_size %d is negative", p, c.TypeVocabSize)
	case c.NumLabels < 1:
		return fmt.Errorf("%s: num_labels %d must be ≥ 1", p, c.NumLabels)
	}
	if _, err := activation(c.HiddenAct); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	for i := range c.NumLabels {
		if _, ok := c.ID2Label[strconv.Itoa(i)]; !ok && len(c.ID2Label) > 0 {
			return fmt.Errorf("%s: id2label has no label %d of %d", p, i, c.NumLabels)
		}
	}
	if c.roberta() {
		if c.PadTokenID == nil {
			one := 1
			c.PadTokenID = &one
		}
		if *c.PadTokenID < 0 || *c.PadTokenID >= c.VocabSize || *c.PadTokenID+2 > c.MaxPositionEmbeddings {
			return fmt.Errorf("%s: pad_token_id %d does not fit vocab_size %d and max_position_embeddings %d", p, *c.PadTokenID, c.VocabSize, c.MaxPositionEmbeddings)
		}
	}
	return nil
}

// debertaDefaults fills DeBERTa-v2's defaults (transformers'
// DebertaV2Config and the modules' getattr fallbacks) and checks its options.
func (c *hfConfig) debertaDefaults(p string) error {
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-7
	}
	if c.PoolerHiddenSize == 0 {
		c.PoolerHiddenSize = c.HiddenSize
	}
	if c.PoolerHiddenAct == "" {
		c.PoolerHiddenAct = "gelu"
	}
	if c.NormRelEbd == "" {
		c.NormRelEbd = "none"
	}
	if c.PositionBiasedInput == nil {
		t := true
		c.PositionBiasedInput = &t
	}
	switch raw := strings.TrimSpace(string(c.PosAttTypeRaw)); {
	case raw == "" || raw == "null":
	case strings.HasPrefix(raw, "["):
		if err := json.Unmarshal(c.PosAttTypeRaw, &c.posAttType); err != nil {
			return fmt.Errorf("%s: pos_att_type: %w", p, err)
		}
	default:
		var s string
		if err := json.Unmarshal(c.PosAttTypeRaw, &s); err != nil {
			return fmt.Errorf("%s: pos_att_type: %w", p, err)
		}
		for _, t := range strings.Split(strings.ToLower(s), "|") {
			c.posAttType = append(c.posAttType, strings.TrimSpace(t))
		}
	}
	for _, t := range c.posAttType {
		if t != "c2p" && t != "p2c" {
			return fmt.Errorf("%s: pos_att_type %q is not supported (c2p, p2c)", p, t)
		}
	}
	for _, n := range strings.Split(strings.ToLower(c.NormRelEbd), "|") {
		if n = strings.TrimSpace(n); n != "none" && n != "layer_norm" {
			return fmt.Errorf("%s: norm_rel_ebd %q is not supported (none, layer_norm)", p, n)
		}
	}
	switch {
	case c.ConvKernelSize > 0:
		return fmt.Errorf("%s: conv_kernel_size %d: DeBERTa-v2's convolution layer (the v2 xlarge/xxlarge models) is not supported; DeBERTa-v3 has none", p, c.ConvKernelSize)
	case c.PoolerHiddenSize != c.HiddenSize:
		return fmt.Errorf("%s: pooler_hidden_size %d differs from hidden_size %d", p, c.PoolerHiddenSize, c.HiddenSize)
	case c.AttentionHeadSize != 0 && c.AttentionHeadSize*c.NumAttentionHeads != c.HiddenSize:
		return fmt.Errorf("%s: attention_head_size %d × %d heads differs from hidden_size %d", p, c.AttentionHeadSize, c.NumAttentionHeads, c.HiddenSize)
	case !*c.PositionBiasedInput && !c.RelativeAttention:
		return fmt.Errorf("%s: neither position_biased_input nor relative_attention: the model has no positions", p)
	}
	if _, err := activation(c.PoolerHiddenAct); err != nil {
		return fmt.Errorf("%s: pooler_hidden_act: %w", p, err)
	}
	return nil
}

// modernDefaults fills ModernBERT's defaults (transformers'
// ModernBertConfig) and checks its options.
func (c *hfConfig) modernDefaults(p string) error {
	if c.NormEps == 0 {
		c.NormEps = 1e-5
	}
	c.LayerNormEps = c.NormEps
	if c.HiddenActivation == "" {
		c.HiddenActivation = "gelu"
	}
	c.HiddenAct = c.HiddenActivation
	if c.ClassifierActivation == "" {
		c.ClassifierActivation = "gelu"
	}
	if c.ClassifierPooling == "" {
		c.ClassifierPooling = "cls"
	}
	if c.LocalAttention == 0 {
		c.LocalAttention = 128
	}
	if c.GlobalAttnEveryNLayers == 0 {
		c.GlobalAttnEveryNLayers = 3
	}
	if c.GlobalRopeTheta == 0 {
		c.GlobalRopeTheta = 160000
	}
	c.TypeVocabSize = 0 // ModernBERT has no token types
	switch {
	case len(c.RopeScaling) > 0 && string(c.RopeScaling) != "null":
		return fmt.Errorf("%s: rope_scaling %s is not supported (only the default RoPE)", p, c.RopeScaling)
	case c.ClassifierPooling != "cls" && c.ClassifierPooling != "mean":
		return fmt.Errorf("%s: classifier_pooling %q is not supported (cls, mean)", p, c.ClassifierPooling)
	case c.LocalAttention < 2 || c.GlobalAttnEveryNLayers < 1:
		return fmt.Errorf("%s: local_attention %d and global_attn_every_n_layers %d must be ≥ 2 and ≥ 1", p, c.LocalAttention, c.GlobalAttnEveryNLayers)
	case (c.HiddenSize/max(c.NumAttentionHeads, 1))%2 != 0:
		return fmt.Errorf("%s: head size %d must be even for rotary embeddings", p, c.HiddenSize/max(c.NumAttentionHeads, 1))
	}
	if _, err := activation(c.ClassifierActivation); err != nil {
		return fmt.Errorf("%s: classifier_activation: %w", p, err)
	}
	return nil
}

func (c *hfConfig) roberta() bool { return c.ModelType == "xlm-roberta" || c.ModelType == "roberta" }

// activation maps hidden_act to the graph's form.
func activation(name string) (string, error) {
	switch name {
	case "gelu", "gelu_python":
		return "gelu", nil
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return "gelu_tanh", nil
	case "relu":
		return "relu", nil
	}
	return "", fmt.Errorf("hidden_act %q is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)", name)
}

// prefix finds the module prefix of the encoder in the checkpoint: "" for a
// base model saved alone (BertModel), "bert." etc. for a task model.
func prefix(names map[string]bool, family string) (string, error) {
	var candidates []string
	switch family {
	case "bert":
		candidates = []string{"bert.", ""}
	case "electra":
		candidates = []string{"electra.", ""}
	case "xlm-roberta", "roberta":
		candidates = []string{"roberta.", ""}
	case "modernbert":
		candidates = []string{"model.", ""}
	case "deberta-v2":
		candidates = []string{"deberta.", ""}
	}
	key := "embeddings.word_embeddings.weight"
	if family == "modernbert" {
		key = "embeddings.tok_embeddings.weight"
	}
	for _, p := range candidates {
		if names[p+key] {
			return p, nil
		}
	}
	var some []string
	for n := range names {
		some = append(some, n)
	}
	sort.Strings(some)
	if len(some) > 5 {
		some = append(some[:5], "…")
	}
	return "", fmt.Errorf("no %q tensor (looked under prefixes %q); the file holds %v — is it a %s checkpoint?",
		key, candidates, some, family)
}
