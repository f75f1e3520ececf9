package loader_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/loader"
	"github.com/crossrank/crossrank/models/ort"
)

func TestLoad(t *testing.T) {
	m, err := loader.Load(context.Background(), "twin", testenv.TwinDir(t), ort.WithLibrary(testenv.ORTLib(t)), ort.WithThreads(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Scorer.Close()
	if m.Name != "twin" || m.Kind != models.CrossEncoder || m.Tokenizer.MaxLength() != m.Scorer.Info().MaxLength {
		t.Fatalf("model %+v", m)
	}
	// Truncation: right keeps the start, left the end; off keeps all.
	long := strings.Repeat("river ", 40) + "bridge"
	for _, tc := range []struct {
		tr   models.Truncation
		want int
	}{
		{models.Truncation{MaxLength: 12}, 12},
		{models.Truncation{MaxLength: 12, Direction: models.Left}, 12},
		{models.Truncation{MaxLength: 12, Off: true}, 1 + 1 + 1 + 41 + 1},
	} {
		enc, err := m.Tokenizer.NewPairEncoder(tc.tr)
		if err != nil {
			t.Fatal(err)
		}
		seqs, err := enc.EncodePairs("q", []string{long})
		if err != nil || len(seqs) != 1 || len(seqs[0].IDs) != tc.want || len(seqs[0].TypeIDs) != tc.want {
			t.Errorf("%+v: %v %v, want %d ids", tc.tr, seqs, err, tc.want)
		}
	}
	if _, err := loader.Load(context.Background(), "x", t.TempDir()); err == nil {
		t.Error("an empty folder loaded")
	}
}
