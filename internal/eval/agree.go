package eval

import (
	"math"
	"sort"
)

// Spearman returns Spearman's rank correlation of two score vectors over the
// same documents (Pearson's correlation of their ranks, ties given their
// average rank). It is NaN when the lengths differ, fewer than two documents
// are given, or one vector is constant.
func Spearman(a, b []float64) float64 {
	if len(a) != len(b) || len(a) < 2 {
		return math.NaN()
	}
	return pearson(ranks(a), ranks(b))
}

// ranks gives each value its 1-based rank, ties their average rank.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return v[idx[i]] < v[idx[j]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for t := i; t <= j; t++ {
			r[idx[t]] = avg
		}
		i = j + 1
	}
	return r
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// SameTop reports whether two rankings put the same document first (false
// when either is empty). Its mean over queries is the top-1 agreement.
func SameTop(a, b []string) bool {
	return len(a) > 0 && len(b) > 0 && a[0] == b[0]
}

// TopKOverlap is the share of the first k documents of ranking a that are
// also among the first k of b, out of min(k, len(a), len(b)) (1 when both
// are empty or k < 1). Its mean over queries is the top-k agreement.
func TopKOverlap(a, b []string, k int) float64 {
	n := min(k, len(a), len(b))
	if n < 1 {
		return 1
	}
	in := make(map[string]bool, n)
	for _, id := range b[:n] {
		in[id] = true
	}
	same := 0
	for _, id := range a[:n] {
		if in[id] {
			same++
		}
	}
	return float64(same) / float64(n)
}
