package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/modeldir"
)

// ensureONNX returns the folder to load for the model folder dir: dir itself
// when it has an ONNX file (or no safetensors checkpoint, for the loader to
// report), else the ONNX conversion of its model.safetensors, written once
// under cacheRoot by convert.Cached and reused on later starts. A family
// convert cannot build is an error naming its model_type and what to do.
func ensureONNX(ctx context.Context, name, dir, cacheRoot string, log *slog.Logger) (string, error) {
	for _, f := range modeldir.DefaultFiles() {
		if isRegular(filepath.Join(dir, f)) {
			return dir, nil
		}
	}
	if !isRegular(filepath.Join(dir, "model.safetensors")) {
		return dir, nil
	}
	out, converted, err := convert.Cached(ctx, dir, cacheRoot, convert.Options{Logger: log})
	if err != nil {
		return "", fmt.Errorf("model %s: %s has model.safetensors and no ONNX file, and converting it failed: %w", name, dir, err)
	}
	if converted {
		log.Info("converted safetensors checkpoint to ONNX (once; reused next start)", "name", name, "in", dir, "out", out)
	} else {
		log.Info("using the cached ONNX conversion of a safetensors checkpoint", "name", name, "in", dir, "out", out)
	}
	return out, nil
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
