package crossrankplugin_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/crossrank/crossrank/plugins/abi"
	"github.com/crossrank/crossrank/sdk/go/crossrankplugin"
)

func upper(dst, _ []byte, doc crossrankplugin.Doc) ([]byte, error) {
	if bytes.Equal(doc.Data, []byte("fail")) {
		return dst, errors.New("cannot")
	}
	return append(dst, bytes.ToUpper(doc.Data)...), nil
}

// TestRunner drives the SDK's request/response handling natively (the
// wasm exports call the same Runner).
func TestRunner(t *testing.T) {
	p := &crossrankplugin.Plugin{
		Query:    func(dst, q []byte) ([]byte, error) { return append(append(dst, q...), '!'), nil },
		Passage:  upper,
		Truncate: func(dst, _, p []byte, max int) ([]byte, error) { return append(dst, p[:min(max, len(p))]...), nil },
	}
	if p.Stages() != uint32(abi.StageQuery|abi.StagePassage|abi.StageTruncate) {
		t.Errorf("stages %b", p.Stages())
	}
	r := &crossrankplugin.Runner{P: p}
	items := []abi.Item{{Kind: abi.KindText, Data: []byte("ab")}, {Kind: abi.KindJSON, Data: []byte(`{"x":1}`)}}
	cases := []struct {
		name    string
		stage   abi.Stage
		items   []abi.Item
		query   string
		want    []string
		wantErr string
	}{
		{name: "query", stage: abi.StageQuery, query: "q!"},
		{name: "passage", stage: abi.StagePassage, items: items, want: []string{"AB", `{"x":1}`}},
		{name: "truncate", stage: abi.StageTruncate, items: items[:1], want: []string{"a"}},
		{name: "handler error", stage: abi.StagePassage, items: []abi.Item{{Data: []byte("fail")}}, wantErr: "document 0: cannot"},
		{name: "bad stage", stage: 8, items: items, wantErr: "unknown stage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := r.Run(uint32(c.stage), abi.AppendRequest(nil, 1, "q", c.items))
			q, got, err := abi.DecodeResponse(out, nil)
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr && !bytes.Contains([]byte(err.Error()), []byte(c.wantErr)) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.stage == abi.StageQuery && string(q) != c.query {
				t.Errorf("query %q, want %q", q, c.query)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d items, want %d", len(got), len(c.want))
			}
			for i := range got {
				if string(got[i].Data) != c.want[i] {
					t.Errorf("item %d = %q, want %q", i, got[i].Data, c.want[i])
				}
			}
		})
	}
	if out := r.Run(uint32(abi.StagePassage), []byte{1}); out[0] != abi.StatusError {
		t.Error("a truncated request did not give an error response")
	}
	cfgErr := (&crossrankplugin.Runner{P: &crossrankplugin.Plugin{Configure: func([]byte) error { return errors.New("no") }}}).Configure([]byte("{}"))
	if cfgErr[0] != abi.StatusError || string(cfgErr[1:]) != "config: no" {
		t.Errorf("configure error response %q", cfgErr)
	}
}

// A Runner turns encoded requests into encoded responses; in a guest the
// SDK's exports use one for the plugin given to Register.
func ExampleRunner() {
	r := &crossrankplugin.Runner{P: &crossrankplugin.Plugin{Passage: upper}}
	out := r.Run(uint32(abi.StagePassage), abi.AppendRequest(nil, 0, "q", []abi.Item{{Data: []byte("hello")}}))
	_, items, _ := abi.DecodeResponse(out, nil)
	fmt.Println(string(items[0].Data))
	// Output: HELLO
}
