package quantize_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crossrank/crossrank/internal/quantize"
	"github.com/crossrank/crossrank/internal/twin"
)

func ExampleDynamic() {
	tmp, _ := os.MkdirTemp("", "quantize")
	defer os.RemoveAll(tmp)
	fp32, int8 := filepath.Join(tmp, "fp32"), filepath.Join(tmp, "int8")
	cfg := twin.Config{Layers: 1, Hidden: 32, Heads: 2, Intermediate: 64, Vocab: 30522, MaxPositions: 64, TypeVocab: 2, NumLabels: 1, Seed: 1}
	if err := twin.Write(fp32, cfg); err != nil {
		fmt.Println(err)
		return
	}
	if err := quantize.Dynamic(fp32, int8); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(int8, quantize.ConfigFile))
	var c quantize.Config
	_ = json.Unmarshal(b, &c)
	fmt.Println(c.Format, c.Mode, c.WeightType, c.Quantized, "nodes")
	// Output: QOperator dynamic QInt8 9 nodes
}
