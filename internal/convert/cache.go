package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Cached converts the checkpoint folder dir into a folder under cacheRoot
// once and returns that folder's path; later calls (and later processes)
// with the same checkpoint reuse it. converted reports whether this call
// wrote it. The folder is named after dir and a key hashing dir's absolute
// path, config.json, model.safetensors' size and modification time, the
// converter Version and opts.Int8, so a replaced checkpoint or a new
// converter converts again. Concurrent callers are safe: each writes a
// temporary folder and renames it; a loser of the race uses the winner's.
//
// It is what `serve --model DIR` on a safetensors-only folder needs:
// convert once into the cache, log it, reuse it next start.
func Cached(ctx context.Context, dir, cacheRoot string, opts Options) (path string, converted bool, err error) {
	key, err := cacheKey(dir, opts)
	if err != nil {
		return "", false, err
	}
	name := strings.Trim(filepath.Base(filepath.Clean(dir)), ".")
	if name == "" {
		name = "model"
	}
	out := filepath.Join(cacheRoot, name+"-"+key)
	if Complete(out) {
		return out, false, nil
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log.Info("converting safetensors checkpoint into the cache (once)", "in", dir, "out", out)
	if _, err := Convert(ctx, dir, out, opts); err != nil {
		if Complete(out) { // another process finished first
			return out, false, nil
		}
		return "", false, err
	}
	return out, true, nil
}

// Complete reports whether dir holds a finished conversion by this
// converter Version (crossrank.json is written last).
func Complete(dir string) bool {
	raw, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		return false
	}
	var m Metadata
	if json.Unmarshal(raw, &m) != nil || m.ConverterVersion != Version {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, "onnx", "model.onnx"))
	return err == nil && st.Mode().IsRegular()
}

func cacheKey(dir string, opts Options) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("convert: %w", err)
	}
	cfg, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		return "", fmt.Errorf("convert: %w", err)
	}
	st, err := os.Stat(filepath.Join(abs, "model.safetensors"))
	if err != nil {
		return "", fmt.Errorf("convert: %s: %w", dir, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "crossrank-convert %d\x00%s\x00%d\x00%d\x00int8=%v\x00", Version, abs, st.Size(), st.ModTime().UnixNano(), opts.Int8)
	h.Write(cfg)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
