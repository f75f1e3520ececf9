package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/crossrank/crossrank/internal/convert"
)

// newModelConvertCmd is `crossrank model convert`: a Hugging Face folder
// with config.json and model.safetensors to an ONNX graph written by
// crossrank's own graph writer.
func newModelConvertCmd() *cobra.Command {
	var in, out string
	var int8 bool
	c := &cobra.Command{
		Use:   "convert --in DIR --out DIR [--int8]",
		Short: "Write an ONNX graph from a Hugging Face folder with model.safetensors (BERT, ELECTRA, (XLM-)RoBERTa)",
		Long: `convert reads config.json and model.safetensors from --in and writes
onnx/model.onnx with the real weights, the tokenizer and configuration files
and crossrank.json (model kind, inputs, output) to --out. --out may equal
--in (the graph is added to the folder) or name a folder that does not exist
yet; a new folder is written under a temporary name and renamed.

Sequence classifiers (BertForSequenceClassification, ElectraFor...,
XLMRobertaFor..., RobertaFor...) give "logits" [N, num_labels]; a
sentence-transformers folder (modules.json: Transformer, Pooling, optional
Normalize) without a classification head gives a bi-encoder with
"sentence_embedding" [N, hidden], pooling and normalisation in the graph.
--int8 quantises the graph dynamically, like 'crossrank model quantize'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" || out == "" {
				return fmt.Errorf("model convert: --in DIR and --out DIR are required")
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			res, err := convert.Convert(cmd.Context(), in, out, convert.Options{Int8: int8, Logger: log})
			if err != nil {
				return prefixed("model convert", err)
			}
			md := res.Metadata
			st, err := os.Stat(res.ONNX)
			if err != nil {
				return fmt.Errorf("model convert: %w", err)
			}
			last := "every token"
			if md.LastLayerCLSOnly {
				last = "[CLS] only"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s %s graph to %s: inputs %v, output %s [N, %d], last layer %s, %d parameters, int8 %v (%.1f MB, %.1fs)\n",
				md.ModelType, md.Kind, res.ONNX, md.Inputs, md.Output, md.OutputDim, last, res.Params, md.Int8,
				float64(st.Size())/1e6, res.Elapsed.Seconds())
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&in, "in", "", "Hugging Face model folder (config.json, model.safetensors, tokenizer files)")
	f.StringVar(&out, "out", "", "output folder: the input folder, or a new one")
	f.BoolVar(&int8, "int8", false, "quantise the graph dynamically to int8 (internal/quantize)")
	return c
}
