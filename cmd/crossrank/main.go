// Command crossrank is the crossrank sidecar and its tools: serve, score,
// tokenize, model (twin, quantize, pull), plugin and bench.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// command builds one subcommand; each lives in its own file (cmd_*.go).
type command func() *cobra.Command

func main() {
	root := &cobra.Command{
		Use:           "crossrank",
		Short:         "crossrank reranks search hits with a cross-encoder, beside Elasticsearch or OpenSearch",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, c := range commands() {
		root.AddCommand(c())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "crossrank:", err)
		os.Exit(1)
	}
}
