package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/abi"
)

// items turns a request's documents into ABI items: a JSON string becomes
// text, anything else stays JSON.
func items(docs []json.RawMessage) ([]abi.Item, error) {
	out := make([]abi.Item, len(docs))
	for i, d := range docs {
		d = bytes.TrimSpace(d)
		if len(d) == 0 {
			return nil, fmt.Errorf("plugins: document %d is empty", i)
		}
		if d[0] == '"' {
			if body, ok := plainString(d); ok {
				out[i] = abi.Item{Kind: abi.KindText, Data: body} // no escapes: use it as is
				continue
			}
			var s string
			if err := json.Unmarshal(d, &s); err != nil {
				return nil, fmt.Errorf("plugins: document %d: %w", i, err)
			}
			out[i] = abi.Item{Kind: abi.KindText, Data: []byte(s)}
			continue
		}
		// Not validated again: Input.Documents come from the decoded request
		// body, and a guest that meets malformed JSON fails on its own.
		out[i] = abi.Item{Kind: abi.KindJSON, Data: d}
	}
	return out, nil
}

// flatten turns JSON items into their default text (plugins.DocumentText).
func flatten(items []abi.Item) error {
	for i, it := range items {
		if it.Kind != abi.KindJSON {
			continue
		}
		s, err := plugins.DocumentText(it.Data)
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		items[i] = abi.Item{Kind: abi.KindText, Data: []byte(s)}
	}
	return nil
}

// prepare runs every step: per step, each stage its plugin implements, in
// the order query, passage, truncate, each stage one guest call for the
// whole request. JSON documents left after the passage stages (and before a
// truncate stage) become their default text.
func (pl *pipeline) prepare(ctx context.Context, tok plugins.Tokenizer, in plugins.Input) (plugins.Output, error) {
	if err := checkInput(in, uint64(pl.h.cfg.MemoryLimitPages)*65536); err != nil {
		return plugins.Output{}, err
	}
	its, err := items(in.Documents)
	if err != nil {
		return plugins.Output{}, err
	}
	query := in.Query
	bp := pl.h.bufs.Get().(*[]byte)
	defer pl.h.bufs.Put(bp)
	buf := bp
	for i, st := range pl.steps {
		ctx, span := pl.h.startStep(ctx, pl.name, i, st)
		for _, stage := range abi.Stages {
			if st.pool.stages&stage == 0 {
				continue
			}
			if stage == abi.StageTruncate {
				if tok == nil {
					return plugins.Output{}, span.end(fmt.Errorf("plugins: pipeline %q: plugin %q: the truncate stage needs the serving model's tokenizer", pl.name, st.pool.plugin))
				}
				if err := flatten(its); err != nil {
					return plugins.Output{}, span.end(err)
				}
			}
			if stage != abi.StageQuery && len(its) == 0 {
				continue
			}
			var sendItems []abi.Item
			if stage != abi.StageQuery {
				sendItems = its
			}
			q, out, err := st.pool.runStage(ctx, tok, stage, in.MaxTokensPerDoc, query, sendItems, buf)
			if err != nil {
				if _, ok := err.(*PluginError); ok && st.skip {
					span.skipped(err)
					continue // on_error: skip — the input passes through
				}
				if ctx.Err() != nil {
					return plugins.Output{}, span.end(fmt.Errorf("plugins: pipeline %q: %w", pl.name, err))
				}
				return plugins.Output{}, span.end(err)
			}
			if stage == abi.StageQuery {
				query = q
			} else {
				its = out
			}
		}
		span.end(nil)
	}
	if err := flatten(its); err != nil {
		return plugins.Output{}, err
	}
	out := plugins.Output{Query: query, Passages: make([]string, len(its))}
	for i, it := range its {
		out.Passages[i] = string(it.Data)
	}
	return out, nil
}

// plainString returns the body of a JSON string literal that holds no
// escapes or control characters (most documents), without copying.
func plainString(d []byte) ([]byte, bool) {
	if len(d) < 2 || d[len(d)-1] != '"' {
		return nil, false
	}
	body := d[1 : len(d)-1]
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 {
			return nil, false
		}
	}
	return body, true
}

// checkInput range-checks what crosses the ABI as a u32: max_tokens_per_doc
// (which the guest SDKs read as an i32), the query's and each document's
// length and the batch's size, which must also fit the guest's memory.
func checkInput(in plugins.Input, memLimit uint64) error {
	if in.MaxTokensPerDoc < 0 || in.MaxTokensPerDoc > math.MaxInt32 {
		return &InputError{Field: "max_tokens_per_doc", Err: fmt.Errorf("%d is outside [0, %d]", in.MaxTokensPerDoc, math.MaxInt32)}
	}
	total := uint64(len(in.Query)) + 12
	for _, d := range in.Documents {
		total += uint64(len(d)) + 5
	}
	if total > memLimit || total > math.MaxUint32 {
		return &InputError{Field: "documents", Err: fmt.Errorf("the request's %d bytes exceed a plugin's %d-byte memory", total, memLimit)}
	}
	return nil
}
