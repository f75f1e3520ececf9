package batcher

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestGroup(t *testing.T) {
	tests := []struct {
		name                          string
		lengths                       []int
		anchor, maxPairs, maxTok, ovh int
		lo, hi                        int
	}{
		{"all equal, capped by pairs", []int{10, 10, 10, 10, 10}, 0, 3, 1000, 64, 0, 3},
		{"anchor at end", []int{10, 10, 10, 10, 10}, 4, 3, 1000, 64, 2, 5},
		{"token cap", []int{10, 10, 10, 10}, 0, 4, 25, 64, 0, 2},
		{"skip long outlier", []int{10, 11, 12, 100}, 0, 4, 10000, 64, 0, 3},
		{"no overhead: a lone pair has no padding", []int{10, 11, 12}, 0, 4, 10000, 0, 0, 1},
		{"overhead makes the outlier worth it", []int{10, 10, 10, 13}, 0, 4, 10000, 1000, 0, 4},
		{"single pair over the token cap still goes", []int{500}, 0, 4, 100, 64, 0, 1},
		{"anchor is long", []int{5, 5, 50, 52}, 2, 4, 10000, 64, 2, 4},
	}
	for _, tt := range tests {
		lo, hi := Group(tt.lengths, tt.anchor, tt.maxPairs, tt.maxTok, tt.ovh)
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("%s: Group = [%d,%d), want [%d,%d)", tt.name, lo, hi, tt.lo, tt.hi)
		}
	}
}

// TestGroupInvariants checks, on random queues, that Group's run holds the
// anchor, respects both caps, and is the most efficient run that does
// (compared with brute force).
func TestGroupInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 500 {
		n := 1 + rng.IntN(60)
		l := make([]int, n)
		for i := range l {
			l[i] = 5 + rng.IntN(300)
		}
		slices.Sort(l)
		anchor := rng.IntN(n)
		maxPairs := 1 + rng.IntN(32)
		maxTok := 300 + rng.IntN(5000)
		ovh := rng.IntN(256)
		lo, hi := Group(l, anchor, maxPairs, maxTok, ovh)
		if anchor < lo || anchor >= hi || hi-lo > maxPairs || (hi-lo > 1 && (hi-lo)*l[hi-1] > maxTok) {
			t.Fatalf("Group(%v, %d, %d, %d) = [%d,%d) breaks a constraint", l, anchor, maxPairs, maxTok, lo, hi)
		}
		eff := func(i, j int) float64 {
			s := 0
			for _, x := range l[i:j] {
				s += x
			}
			return float64(s) / float64((j-i)*l[j-1]+ovh)
		}
		got := eff(lo, hi)
		for i := 0; i <= anchor; i++ {
			for j := anchor + 1; j <= n; j++ {
				if j-i > maxPairs || (j-i > 1 && (j-i)*l[j-1] > maxTok) {
					continue
				}
				if eff(i, j) > got+1e-9 {
					t.Fatalf("Group(%v, a=%d) = [%d,%d) eff %.4f; [%d,%d) has %.4f", l, anchor, lo, hi, got, i, j, eff(i, j))
				}
			}
		}
	}
}
