package eval_test

import (
	"fmt"

	"github.com/crossrank/crossrank/internal/eval"
)

func ExampleEvaluate() {
	qrels := map[string]eval.Qrels{
		"q1": {"a": 2, "b": 0, "c": 1},
		"q2": {"x": 1},
	}
	run := map[string][]string{
		"q1": {"b", "a", "c"},
		"q2": {"y", "x"},
	}
	s := eval.Evaluate(run, qrels, eval.Measures([]int{1}))
	fmt.Printf("MRR@10 %.2f, Recall@1 %.2f\n", s.Mean["RR@10"], s.Mean["R@1"])
	// Output: MRR@10 0.50, Recall@1 0.00
}

func ExampleSpearman() {
	fp32 := []float64{0.91, 0.40, 0.75, 0.10}
	int8 := []float64{0.90, 0.42, 0.70, 0.12}
	fmt.Println(eval.Spearman(fp32, int8))
	// Output: 1
}
