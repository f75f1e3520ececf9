package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/sidecar/api"
)

func TestDecodeCascade(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantName   string
		wantStages int // -1: none inline
		wantErr    string
	}{
		{"absent", `{"query":"q","documents":["a"]}`, "", -1, ""},
		{"null", `{"query":"q","documents":["a"],"cascade":null}`, "", -1, ""},
		{"name", `{"query":"q","documents":["a"],"cascade":"fast"}`, "fast", -1, ""},
		{"inline", `{"query":"q","documents":["a"],"cascade":[{"model":"m","keep":10},{"model":"n","keep":2}]}`, "", 2, ""},
		{"inline empty", `{"query":"q","documents":["a"],"cascade":[]}`, "", 0, ""},
		{"number", `{"query":"q","documents":["a"],"cascade":3}`, "", -1, "cascade: want a cascade's name"},
		{"unknown stage field", `{"query":"q","documents":["a"],"cascade":[{"model":"m","top":1}]}`, "", -1, "unknown field"},
		{"keep a string", `{"query":"q","documents":["a"],"cascade":[{"model":"m","keep":"1"}]}`, "", -1, "cascade:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := api.DecodeRerank([]byte(tc.body))
			if tc.wantErr != "" {
				var e *api.Error
				if !errors.As(err, &e) || e.Status != http.StatusUnprocessableEntity || !strings.Contains(e.Message, tc.wantErr) {
					t.Fatalf("err = %v, want 422 %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			req := r.Engine()
			if req.Cascade != tc.wantName || (tc.wantStages < 0) != (req.CascadeStages == nil) || (tc.wantStages >= 0 && len(req.CascadeStages) != tc.wantStages) {
				t.Fatalf("engine request cascade %q stages %v", req.Cascade, req.CascadeStages)
			}
		})
	}
}
