package host

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/abi"
)

// RunStage loads one plugin on its own, runs one stage of it ("query",
// "passage" or "truncate"; "" runs every stage it implements, in order) on
// a request, and unloads it: the offline path of `crossrank plugin run`.
// It does not touch the loaded pipelines.
func (h *Host) RunStage(ctx context.Context, st Step, stage string, tok plugins.Tokenizer, in plugins.Input) (plugins.Output, error) {
	var want abi.Stage
	if stage != "" {
		s, err := abi.ParseStage(stage)
		if err != nil {
			return plugins.Output{}, err
		}
		want = s
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return plugins.Output{}, fmt.Errorf("plugins: host is closed")
	}
	c, _, err := h.compile(ctx, st.Plugin, h.resolve(st.Plugin))
	h.mu.Unlock()
	if err != nil {
		return plugins.Output{}, err
	}
	defer func() {
		h.mu.Lock()
		h.releaseCompiled(ctx, c)
		h.mu.Unlock()
	}()
	conf := []byte("{}")
	if st.Config != nil {
		if conf, err = json.Marshal(st.Config); err != nil {
			return plugins.Output{}, fmt.Errorf("plugins: config: %w", err)
		}
	}
	p := newPool(h, st.Plugin, c, conf, 1)
	defer p.close(ctx)
	<-p.slots
	inst, err := p.create(ctx)
	if err != nil {
		return plugins.Output{}, err
	}
	p.stages = inst.stages
	p.ready <- inst
	if want != 0 {
		if p.stages&want == 0 {
			return plugins.Output{}, fmt.Errorf("plugin %q does not implement the %s stage (it implements %s)", st.Plugin, want, stageList(p.stages))
		}
		p.stages = want
	}
	pl := &pipeline{h: h, name: st.Plugin, steps: []step{{pool: p}}}
	return pl.prepare(ctx, tok, in)
}

func stageList(s abi.Stage) string {
	out := ""
	for _, x := range abi.Stages {
		if s&x != 0 {
			if out != "" {
				out += ", "
			}
			out += x.String()
		}
	}
	return out
}
