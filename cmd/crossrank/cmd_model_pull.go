package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/hub"
)

func newModelPullCmd() *cobra.Command {
	var (
		out  string
		opts hub.Options
	)
	c := &cobra.Command{
		Use:   "pull REPO --out DIR",
		Short: "Download a cross-encoder (config.json, tokenizer.json, ONNX file) from the Hugging Face hub",
		Long: `pull downloads config.json, tokenizer.json and the ONNX export (onnx/model.onnx,
or onnx/model_quantized.onnx with --quantized; model.onnx at the repository
root as a fallback) of a Hugging Face hub repository into DIR. A repository
without an ONNX export has its model.safetensors downloaded and converted
(crossrank model convert; BERT, ELECTRA, (XLM-)RoBERTa, ModernBERT,
DeBERTa-v2/v3). Interrupted
downloads resume; every file is checked against the hub's sha256 (LFS) or git
blob sha1 before it is kept. HF_TOKEN is sent for gated repositories, and
HF_ENDPOINT sets the default endpoint.

Example:
  crossrank model pull cross-encoder/ms-marco-MiniLM-L-6-v2 --out models/minilm`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("model pull: --out DIR is required")
			}
			opts.Log = cmd.ErrOrStderr()
			res, err := hub.Pull(cmd.Context(), args[0], out, opts)
			if err != nil {
				return fmt.Errorf("model pull: %w", err)
			}
			if res.Safetensors != "" {
				// No ONNX export in the repository: write one from the
				// checkpoint into the same folder.
				log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
				c, err := convert.Convert(cmd.Context(), out, out, convert.Options{Logger: log})
				if err != nil {
					return fmt.Errorf("model pull: %s has no ONNX export and its model.safetensors could not be converted: %w", res.Repo, err)
				}
				res.ONNX = c.ONNX + " (converted from model.safetensors)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s@%s → %s (%s)\nserve it with: crossrank serve --model %s\n",
				res.Repo, res.Commit, res.Dir, res.ONNX, res.Dir)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "output folder (created if missing)")
	f.StringVar(&opts.Revision, "revision", "main", "branch, tag or commit")
	endpoint := hub.DefaultEndpoint
	if v := os.Getenv("HF_ENDPOINT"); v != "" {
		endpoint = v
	}
	f.StringVar(&opts.Endpoint, "endpoint", endpoint, "hub endpoint")
	f.BoolVar(&opts.Quantized, "quantized", false, "fetch the int8 export onnx/model_quantized.onnx")
	return c
}
