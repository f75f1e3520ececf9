// Package eval computes the ranking-quality measures of `crossrank eval`:
// nDCG@k, MRR@k (reciprocal rank) and Recall@k per query and their mean, with
// the definitions of trec_eval and PyPI ir-measures (checked against
// ir-measures to 1e-9 by the tests' goldens), plus the agreement measures
// used to compare two rankings (Spearman's rho, top-1 agreement).
//
// A ranking is a query's document ids, best first; qrels map a document id to
// its graded label. Documents without a label have gain 0.
package eval

import (
	"math"
	"sort"
	"strconv"
)

// RelevantFrom is the label threshold of MRR and Recall: a document is
// relevant when its label is at least 1 (label > 0 for integer grades),
// ir-measures' default rel=1.
const RelevantFrom = 1

// Qrels are one query's judgements: document id → graded label.
type Qrels map[string]int

// NDCG returns nDCG@k of ranking: the DCG of its first k documents (gain =
// label, discount log2(rank+1), rank from 1; negative labels gain 0) over the
// DCG of the ideal ordering of all judged documents of the query, cut at k.
// It is 0 when the query has no document with a positive label. k <= 0 means
// no cut.
func NDCG(ranking []string, qrels Qrels, k int) float64 {
	ideal := make([]int, 0, len(qrels))
	for _, l := range qrels {
		if l > 0 {
			ideal = append(ideal, l)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ideal)))
	idcg := dcg(ideal, k)
	if idcg == 0 {
		return 0
	}
	gains := make([]int, len(ranking))
	for i, d := range ranking {
		gains[i] = qrels[d]
	}
	return dcg(gains, k) / idcg
}

func dcg(gains []int, k int) float64 {
	if k > 0 && len(gains) > k {
		gains = gains[:k]
	}
	var s float64
	for i, g := range gains {
		if g > 0 {
			s += float64(g) / math.Log2(float64(i+2))
		}
	}
	return s
}

// RR returns the reciprocal rank at k: 1/rank of the first document in the
// top k whose label is at least RelevantFrom, else 0. Its mean is MRR@k.
func RR(ranking []string, qrels Qrels, k int) float64 {
	for i, d := range ranking {
		if k > 0 && i >= k {
			break
		}
		if qrels[d] >= RelevantFrom {
			return 1 / float64(i+1)
		}
	}
	return 0
}

// Recall returns Recall@k: the relevant documents (label at least
// RelevantFrom) in the top k over all relevant documents of the query; 0
// when the query has none.
func Recall(ranking []string, qrels Qrels, k int) float64 {
	total := 0
	for _, l := range qrels {
		if l >= RelevantFrom {
			total++
		}
	}
	if total == 0 {
		return 0
	}
	found := 0
	seen := make(map[string]bool, len(ranking))
	for i, d := range ranking {
		if k > 0 && i >= k {
			break
		}
		if !seen[d] && qrels[d] >= RelevantFrom {
			found++
		}
		seen[d] = true
	}
	return float64(found) / float64(total)
}

// Measure names one measure at one cutoff, as ir-measures writes it:
// "nDCG@10", "RR@10", "R@100".
type Measure struct {
	Name string // "nDCG", "RR" or "R"
	K    int
}

// String is the measure's ir-measures name.
func (m Measure) String() string {
	if m.K <= 0 {
		return m.Name
	}
	return m.Name + "@" + strconv.Itoa(m.K)
}

// Of computes m for one query. An unknown measure name gives NaN.
func (m Measure) Of(ranking []string, qrels Qrels) float64 {
	switch m.Name {
	case "nDCG":
		return NDCG(ranking, qrels, m.K)
	case "RR":
		return RR(ranking, qrels, m.K)
	case "R":
		return Recall(ranking, qrels, m.K)
	}
	return math.NaN()
}

// Scores are the values of a set of measures per query and their means.
type Scores struct {
	// PerQuery maps query id → measure name → value.
	PerQuery map[string]map[string]float64 `json:"per_query"`
	// Mean maps measure name → the mean over the evaluated queries.
	Mean map[string]float64 `json:"mean"`
}

// Evaluate computes measures for every query of qrels: a query missing from
// run is scored on an empty ranking (0 everywhere). Queries of run without
// qrels are ignored.
func Evaluate(run map[string][]string, qrels map[string]Qrels, measures []Measure) Scores {
	s := Scores{PerQuery: map[string]map[string]float64{}, Mean: map[string]float64{}}
	for q, rel := range qrels {
		per := make(map[string]float64, len(measures))
		for _, m := range measures {
			v := m.Of(run[q], rel)
			per[m.String()] = v
			s.Mean[m.String()] += v
		}
		s.PerQuery[q] = per
	}
	if n := len(qrels); n > 0 {
		for k := range s.Mean {
			s.Mean[k] /= float64(n)
		}
	}
	return s
}
