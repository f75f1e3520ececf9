package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crossrank/crossrank/internal/quantize"
	"github.com/crossrank/crossrank/internal/twin"
)

// newModelCmd is `crossrank model`, the parent of every subcommand in
// modelCommands (twin, quantize, convert, pull).
func newModelCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "model",
		Short: "Make, quantise and fetch model folders (twin, quantize, convert, pull)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	for _, sub := range modelCommands() {
		c.AddCommand(sub())
	}
	return c
}

func newModelTwinCmd() *cobra.Command {
	var out string
	cfg := twin.Default()
	c := &cobra.Command{
		Use:   "twin --out DIR",
		Short: "Write the shape twin: MiniLM-L6-H384 cross-encoder architecture, fixed-seed random weights",
		Long: `twin writes a Hugging Face-layout model folder (config.json, tokenizer.json,
onnx/model.onnx, model.safetensors) with exactly the architecture of
cross-encoder/ms-marco-MiniLM-L-6-v2 (BERT, 22.7M parameters) and random
weights drawn from --seed. The same flags always write the same bytes.
Twin scores are not meaningful relevance: the twin stands in for the real
model in tests and benchmarks, with the same shapes and the same work.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("model twin: --out DIR is required")
			}
			start := time.Now()
			if err := twin.Write(out, cfg); err != nil {
				return fmt.Errorf("model twin: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote shape twin to %s: %d layers, hidden %d, %d heads, %d parameters, seed %d (%.1fs)\n",
				out, cfg.Layers, cfg.Hidden, cfg.Heads, cfg.Params(), cfg.Seed, time.Since(start).Seconds())
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "output folder (created if missing)")
	f.IntVar(&cfg.Layers, "layers", cfg.Layers, "encoder layers")
	f.IntVar(&cfg.Hidden, "hidden", cfg.Hidden, "hidden size")
	f.IntVar(&cfg.Heads, "heads", cfg.Heads, "attention heads (must divide --hidden)")
	f.IntVar(&cfg.Intermediate, "intermediate", cfg.Intermediate, "feed-forward size")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "weight seed")
	f.BoolVar(&cfg.AllTokens, "all-tokens", false, "keep every token through the last layer, as the checkpoint computes it (default: [CLS] alone, same scores, ~14% less work); for comparisons")
	return c
}

func newModelQuantizeCmd() *cobra.Command {
	var in, out string
	c := &cobra.Command{
		Use:   "quantize --in DIR --out DIR",
		Short: "Write a dynamically quantised int8 copy of a model folder",
		Long: `quantize rewrites every MatMul with a weight initializer as a per-row
activation quantiser + MatMulIntegerToFloat (int8 weights symmetric per
column, uint8 activations quantised per token at run time, so a pair's score
does not depend on its batch-mates; see internal/quantize). The output folder holds onnx/model_quantized.onnx and
the same graph as onnx/model.onnx (so 'crossrank serve --model DIR' runs the
int8 model), quantize_config.json, and config.json and tokenizer.json copied.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" || out == "" {
				return fmt.Errorf("model quantize: --in DIR and --out DIR are required")
			}
			if a, b := filepath.Clean(in), filepath.Clean(out); a == b {
				return fmt.Errorf("model quantize: --out must differ from --in (%s)", in)
			}
			start := time.Now()
			if err := quantize.Dynamic(in, out); err != nil {
				return prefixed("model quantize", err)
			}
			st, err := os.Stat(filepath.Join(out, "onnx", "model_quantized.onnx"))
			if err != nil {
				return fmt.Errorf("model quantize: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote int8 model to %s (onnx/model_quantized.onnx, %.1f MB, %.1fs)\n",
				out, float64(st.Size())/1e6, time.Since(start).Seconds())
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&in, "in", "", "input model folder (onnx/model.onnx or model.onnx)")
	f.StringVar(&out, "out", "", "output folder (created if missing)")
	return c
}

// prefixed wraps err with the command's prefix, unless err already starts
// with the prefix's last word ("model convert: convert: …" says it twice).
func prefixed(prefix string, err error) error {
	words := strings.Fields(prefix)
	if strings.HasPrefix(err.Error(), words[len(words)-1]+": ") || strings.HasPrefix(err.Error(), prefix+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
