package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/crossrank/crossrank/models/tokenizer"
	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
	"github.com/spf13/cobra"
)

// pluginInput is what `crossrank plugin run` reads from standard input.
type pluginInput struct {
	Query           string            `json:"query"`
	Documents       []json.RawMessage `json:"documents"`
	MaxTokensPerDoc int               `json:"max_tokens_per_doc"`
}

func newPluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Work with WASM preprocessing plugins",
	}
	var (
		name, config, stage, dir, model, tokPath string
	)
	run := &cobra.Command{
		Use:   "run --plugin NAME|FILE [--config JSON] [--stage query|passage|truncate] < input.json",
		Short: "Run a plugin offline on a request read from standard input",
		Long: `Runs one plugin (a standard plugin's name, looked up in --plugin-dir, or a
path to a .wasm file) on a request read as JSON from standard input:

  {"query": "...", "documents": ["text", {"title": "..."}], "max_tokens_per_doc": 0}

and prints {"query": "...", "passages": [...]}. --stage runs only that stage;
without it every stage the plugin implements runs, in the order query,
passage, truncate. The truncate stage counts tokens with the tokenizer of
--model (default: the twin in .cache/models/twin) or --tokenizer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			step := host.Step{Plugin: name}
			if config != "" {
				if err := json.Unmarshal([]byte(config), &step.Config); err != nil {
					return fmt.Errorf("plugin run: --config is not a JSON object: %w", err)
				}
			}
			raw, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("plugin run: read input: %w", err)
			}
			var in pluginInput
			if err := json.Unmarshal(raw, &in); err != nil {
				return fmt.Errorf("plugin run: input is not {\"query\", \"documents\"} JSON: %w", err)
			}
			if !cmd.Flags().Changed("plugin-dir") {
				dir = repoPath(dir)
			}
			if !cmd.Flags().Changed("model") {
				model = repoPath(model)
			}
			var tok plugins.Tokenizer
			if tokPath == "" && model != "" {
				tokPath = filepath.Join(model, "tokenizer.json")
			}
			if tokPath != "" {
				t, err := tokenizer.Load(tokPath)
				if err != nil {
					if cmd.Flags().Changed("model") || cmd.Flags().Changed("tokenizer") {
						return fmt.Errorf("plugin run: %w", err)
					}
				} else {
					tok = t
				}
			}
			h, err := host.New(ctx, host.Config{PluginDir: dir, WatchInterval: -1, PoolSize: 1})
			if err != nil {
				return err
			}
			defer h.Close(ctx)
			out, err := h.RunStage(ctx, step, stage, tok, plugins.Input{
				Query: in.Query, Documents: in.Documents, MaxTokensPerDoc: in.MaxTokensPerDoc,
			})
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(map[string]any{"query": out.Query, "passages": out.Passages})
		},
	}
	run.Flags().StringVar(&name, "plugin", "", "standard plugin name or path to a .wasm file (required)")
	run.Flags().StringVar(&config, "config", "", "the plugin's config as a JSON object")
	run.Flags().StringVar(&stage, "stage", "", "run only this stage: query, passage or truncate")
	run.Flags().StringVar(&dir, "plugin-dir", filepath.Join("plugins", "wasm"), "folder of the standard plugins (default: plugins/wasm of the crossrank checkout around the working directory or the executable)")
	run.Flags().StringVar(&model, "model", filepath.Join(".cache", "models", "twin"), "model folder whose tokenizer.json counts tokens (default: .cache/models/twin of the checkout, found like --plugin-dir)")
	run.Flags().StringVar(&tokPath, "tokenizer", "", "tokenizer.json to count tokens with (overrides --model)")
	_ = run.MarkFlagRequired("plugin")
	cmd.AddCommand(run)
	return cmd
}

// repoPath finds a default path that is relative to the crossrank checkout:
// rel under the working directory or a folder above it, else under the
// executable's folder or a folder above it (bin/crossrank in a checkout);
// rel itself when none has it.
func repoPath(rel string) string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, d := range starts {
		for {
			if p := filepath.Join(d, rel); exists(p) {
				return p
			}
			if filepath.Dir(d) == d {
				break
			}
			d = filepath.Dir(d)
		}
	}
	return rel
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
