package tokenizer

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// unigram is the Unigram model: the segmentation of each word that
// maximises the sum of the pieces' log probabilities (Viterbi over the
// vocabulary's scores, exactly as the reference computes it: float64 sums,
// ties kept by the first candidate, shortest piece first), unknown
// characters scored min_score - 10 and fused, then looked up or turned into
// <0xNN> byte pieces when byte_fallback is on.
type unigram struct {
	pieces     []string
	scores     []float64
	ids        map[string]int32
	trie       *byteTrie
	unk        int32 // -1: none
	unkScore   float64
	byteFB     bool
	byteIDs    [256]int32 // id of <0xNN>, -1 when missing
	hasAllByte bool
}

const unigramUnkPenalty = 10.0

func newUnigram(pieces []string, scores []float64, unk int, byteFallback bool) (*unigram, error) {
	u := &unigram{pieces: pieces, scores: scores, ids: make(map[string]int32, len(pieces)), unk: -1, byteFB: byteFallback}
	if len(pieces) == 0 {
		return nil, fmt.Errorf("model.vocab: empty")
	}
	if len(pieces) > math.MaxInt32 {
		return nil, fmt.Errorf("model.vocab: too large")
	}
	minScore := math.Inf(1)
	ids := make([]int32, len(pieces))
	for i, p := range pieces {
		u.ids[p] = int32(i)
		ids[i] = int32(i)
		minScore = min(minScore, scores[i])
	}
	if unk >= 0 {
		if unk >= len(pieces) {
			return nil, fmt.Errorf("model.unk_id: %d is outside the vocabulary (%d entries)", unk, len(pieces))
		}
		u.unk = int32(unk)
	}
	u.unkScore = minScore - unigramUnkPenalty
	u.trie = newByteTrie(pieces, ids)
	u.hasAllByte = true
	for b := 0; b < 256; b++ {
		u.byteIDs[b] = -1
		if id, ok := u.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			u.byteIDs[b] = id
		} else {
			u.hasAllByte = false
		}
	}
	return u, nil
}

func (u *unigram) tokenID(tok string) (int32, bool) {
	id, ok := u.ids[tok]
	return id, ok
}

func (u *unigram) idToken(id int32) (string, bool) {
	if id < 0 || int(id) >= len(u.pieces) {
		return "", false
	}
	return u.pieces[id], true
}

func (u *unigram) vocabSize() int { return len(u.pieces) }

// vnode is one position of the Viterbi lattice: the best path ending here.
type vnode struct {
	score float64
	start int32 // -1: not reached
	id    int32
}

// errMissingUnk is the reference's error for an unknown piece without unk_id.
var errMissingUnk = fmt.Errorf("tokenizer: Unigram: an unknown token was found but the model has no unk_id")

func (u *unigram) tokenize(sc *scratch, b []byte, s, e int32, as, ae []int32, enc *seqEnc) error {
	if s >= e {
		return nil
	}
	if c := sc.cache(); c != nil {
		if toks, ok := c.get(b[s:e]); ok {
			for _, t := range toks {
				enc.push(t.id, as[s+t.s], ae[s+t.e-1])
			}
			return nil
		}
	}
	w := b[s:e]
	n := len(w)
	lat := sc.lattice[:0]
	for i := 0; i <= n; i++ {
		lat = append(lat, vnode{start: -1})
	}
	lat[0].start = 0
	for pos := 0; pos < n; {
		base := lat[pos].score
		_, mblen := utf8.DecodeRune(w[pos:])
		single := false
		node := int32(0)
		for k := pos; k < n; k++ {
			node = u.trie.next(node, w[k])
			if node < 0 {
				break
			}
			id := u.trie.nodes[node].id
			if id < 0 {
				continue
			}
			end := k + 1
			cand := u.scores[id] + base
			if t := &lat[end]; t.start < 0 || cand > t.score {
				t.score, t.start, t.id = cand, int32(pos), id
			}
			if end-pos == mblen {
				single = true
			}
		}
		if !single {
			if u.unk < 0 {
				return errMissingUnk
			}
			cand := u.unkScore + base
			if t := &lat[pos+mblen]; t.start < 0 || cand > t.score {
				t.score, t.start, t.id = cand, int32(pos), u.unk
			}
		}
		pos += mblen
	}
	sc.lattice = lat
	// backtrack: pieces from the end, consecutive unknowns fused
	out := sc.uniOut[:0]
	for end := int32(n); end > 0; {
		nd := lat[end]
		if nd.id == u.unk && len(out) > 0 && out[len(out)-1].id == u.unk && out[len(out)-1].fused {
			out[len(out)-1].s = nd.start
		} else {
			out = append(out, uniPiece{id: nd.id, s: nd.start, e: end, fused: nd.id == u.unk})
		}
		end = nd.start
	}
	sc.uniOut = out
	toks := sc.uniToks[:0]
	for i := len(out) - 1; i >= 0; i-- {
		p := out[i]
		id := p.id
		if p.fused {
			// the fused string is looked up again, as in the reference
			var ok bool
			if id, ok = u.ids[string(w[p.s:p.e])]; !ok {
				id = u.unk
				if u.byteFB && u.allBytes(w[p.s:p.e]) {
					for k := p.s; k < p.e; k++ {
						toks = append(toks, token{id: u.byteIDs[w[k]], s: p.s, e: p.e})
					}
					continue
				}
			}
		}
		toks = append(toks, token{id: id, s: p.s, e: p.e})
	}
	sc.uniToks = toks
	for _, t := range toks {
		enc.push(t.id, as[s+t.s], ae[s+t.e-1])
	}
	if c := sc.cache(); c != nil {
		c.put(w, toks)
	}
	return nil
}

// allBytes reports whether every byte of p has a <0xNN> piece.
func (u *unigram) allBytes(p []byte) bool {
	if u.hasAllByte {
		return true
	}
	for _, c := range p {
		if u.byteIDs[c] < 0 {
			return false
		}
	}
	return true
}

type uniPiece struct {
	id    int32
	s, e  int32
	fused bool
}
