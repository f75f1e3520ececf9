package jsonw

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestAppendScore(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	in := []float64{0, 1, -1, 0.5, 0.12345678901234567, -0.1234567890123456, 1e21, 1e-30, 0.9999999999999999, 123456789.123456789}
	for range 2000 {
		in = append(in, r.Float64(), -r.Float64()*10, 1/(1+math.Exp(-r.NormFloat64()*4)), r.NormFloat64()*1e-9)
	}
	for _, f := range in {
		got := string(AppendScore(nil, f))
		if len(got) > MaxScoreLen {
			t.Fatalf("AppendScore(%v) = %s: %d characters", f, got, len(got))
		}
		if !strings.ContainsAny(got, ".e") {
			t.Fatalf("AppendScore(%v) = %s reads as an integer", f, got)
		}
		var back float64
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("AppendScore(%v) = %s: %v", f, got, err)
		}
		if d := math.Abs(back - f); d > 1e-14*math.Max(1, math.Abs(f)) {
			t.Fatalf("AppendScore(%v) = %s reads back as %v", f, got, back)
		}
		if short := string(AppendFloat(nil, f)); len(short) <= MaxScoreLen && short != got {
			t.Fatalf("AppendScore(%v) = %s, want the shortest form %s", f, got, short)
		}
	}
}
