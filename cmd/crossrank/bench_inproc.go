package main

import (
	"context"
	"fmt"
)

// startInProcess starts a sidecar on modelDir inside this process for
// `crossrank bench --model` and returns its base URL and a stop function.
func startInProcess(ctx context.Context, modelDir string) (string, func(), error) {
	return "", nil, fmt.Errorf("bench: --model %s: the in-process sidecar is not available in this build; start `crossrank serve` and use --target", modelDir)
}
