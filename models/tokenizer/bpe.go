package tokenizer

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// bpe is the BPE model as the reference applies it: each character of a
// word (continuing_subword_prefix before all but the first,
// end_of_word_suffix after the last) is looked up, unknown ones turned into
// <0xNN> byte pieces (byte_fallback) or the unk token (fused when
// fuse_unk), then the adjacent pair with the lowest merge rank, leftmost
// first, is merged until none is left.
type bpe struct {
	vocab        map[string]int32
	byID         []*string
	merges       map[uint64]bpeMerge // (left id, right id) -> merge
	unk          int32               // -1: no unk token
	unkName      string
	prefix       string
	suffix       string
	byteFallback bool
	fuseUnk      bool
	ignoreMerges bool
	byteIDs      [256]int32 // id of <0xNN>, -1 when missing
	// ascii holds the id of each ASCII character as a first symbol
	// (no prefix; suffix only when there is none), -1 for none.
	ascii   [128]int32
	asciiOK bool
	size    int
}

type bpeMerge struct {
	rank, id int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func newBPE(vocab map[string]int64, merges [][2]string, unk *string, prefix, suffix *string, byteFallback, fuseUnk, ignoreMerges bool) (*bpe, error) {
	m := &bpe{vocab: make(map[string]int32, len(vocab)), merges: make(map[uint64]bpeMerge, len(merges)), unk: -1,
		byteFallback: byteFallback, fuseUnk: fuseUnk, ignoreMerges: ignoreMerges, size: len(vocab)}
	for k, id := range vocab {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("model.vocab: id %d of %q out of range", id, k)
		}
		m.vocab[k] = int32(id)
	}
	m.byID = reverseVocab(m.vocab)
	if prefix != nil {
		m.prefix = *prefix
	}
	if suffix != nil {
		m.suffix = *suffix
	}
	if unk != nil {
		m.unkName = *unk
		// like the reference, a missing unk token is an error only once needed
		if id, ok := m.vocab[*unk]; ok {
			m.unk = id
		} else {
			m.unk = -2
		}
	}
	for i, mg := range merges {
		a, ok1 := m.vocab[mg[0]]
		b, ok2 := m.vocab[mg[1]]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("model.merges[%d]: %q or %q is not in the vocabulary", i, mg[0], mg[1])
		}
		right := mg[1]
		if m.prefix != "" && len(right) >= len(m.prefix) && right[:len(m.prefix)] == m.prefix {
			right = right[len(m.prefix):]
		}
		id, ok := m.vocab[mg[0]+right]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: the merge %q is not in the vocabulary", i, mg[0]+right)
		}
		k := pairKey(a, b)
		if _, dup := m.merges[k]; !dup {
			m.merges[k] = bpeMerge{int32(i), id}
		}
	}
	for b := 0; b < 256; b++ {
		m.byteIDs[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	return m, nil
}

func (m *bpe) tokenID(tok string) (int32, bool) {
	id, ok := m.vocab[tok]
	return id, ok
}

func (m *bpe) idToken(id int32) (string, bool) {
	if id < 0 || int(id) >= len(m.byID) || m.byID[id] == nil {
		return "", false
	}
	return *m.byID[id], true
}

func (m *bpe) vocabSize() int { return m.size }

// bpeSym is one symbol of a word being merged: its id, its byte range in
// the word, and its neighbours (-1: none).
type bpeSym struct {
	id         int32
	s, e       int32
	prev, next int32
}

func (m *bpe) tokenize(sc *scratch, b []byte, s, e int32, as, ae []int32, enc *seqEnc) error {
	if s >= e {
		return nil
	}
	w := b[s:e]
	if m.ignoreMerges {
		if id, ok := m.vocab[string(w)]; ok {
			enc.push(id, as[s], ae[e-1])
			return nil
		}
	}
	c := sc.cache()
	if toks, ok := c.get(w); ok {
		for _, t := range toks {
			enc.push(t.id, as[s+t.s], ae[s+t.e-1])
		}
		return nil
	}
	syms, err := m.initial(sc, w)
	if err != nil {
		return err
	}
	m.mergeAll(sc, syms)
	toks := sc.uniToks[:0]
	for i := int32(0); i >= 0 && len(syms) > 0; i = syms[i].next {
		toks = append(toks, token{id: syms[i].id, s: syms[i].s, e: syms[i].e})
	}
	// byte pieces of a prefixed or suffixed character advance the offsets
	// past it (by one per byte, as in the reference): keep them inside w
	n := int32(len(w))
	for k := range toks {
		toks[k].s, toks[k].e = min(toks[k].s, n-1), min(max(toks[k].e, toks[k].s+1), n)
	}
	sc.uniToks = toks
	for _, t := range toks {
		enc.push(t.id, as[s+t.s], ae[s+t.e-1])
	}
	c.put(w, toks)
	return nil
}

// initial cuts w into its first symbols. Offsets advance by each
// character's length in w (byte pieces by one each, as in the reference).
func (m *bpe) initial(sc *scratch, w []byte) ([]bpeSym, error) {
	syms := sc.syms[:0]
	off := int32(0)
	add := func(id, n int32) {
		syms = append(syms, bpeSym{id: id, s: off, e: off + n})
		off += n
	}
	unkID, unkLen := int32(-1), int32(0)
	buf := sc.symBuf
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRune(w[i:])
		first, last := i == 0, i+n == len(w)
		key := w[i : i+n]
		if (!first && m.prefix != "") || (last && m.suffix != "") {
			buf = buf[:0]
			if !first {
				buf = append(buf, m.prefix...)
			}
			buf = append(buf, key...)
			if last {
				buf = append(buf, m.suffix...)
			}
			key = buf
		}
		i += n
		if id, ok := m.vocab[string(key)]; ok {
			if unkID >= 0 {
				add(unkID, unkLen)
				unkID = -1
			}
			add(id, int32(n))
			continue
		}
		if m.byteFallback {
			all := true
			for _, c := range key {
				if m.byteIDs[c] < 0 {
					all = false
					break
				}
			}
			if all {
				for _, c := range key {
					add(m.byteIDs[c], 1)
				}
				continue
			}
		}
		if m.unk == -1 {
			continue // no unk token: the character is dropped, as in the reference
		}
		if m.unk == -2 {
			sc.symBuf = buf
			return nil, fmt.Errorf("tokenizer: BPE: unk_token %q is missing from the vocabulary", m.unkName)
		}
		switch {
		case unkID >= 0 && m.fuseUnk:
			unkLen += int32(n)
		case unkID >= 0:
			add(unkID, unkLen)
			unkID, unkLen = m.unk, int32(n)
		default:
			unkID, unkLen = m.unk, int32(n)
		}
	}
	if unkID >= 0 {
		add(unkID, unkLen)
	}
	sc.symBuf = buf
	for k := range syms {
		syms[k].prev, syms[k].next = int32(k-1), int32(k+1)
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	sc.syms = syms
	return syms, nil
}

// mergeAll merges the lowest-ranked adjacent pair, leftmost first, until
// no pair has a merge: the reference's priority queue of (rank, position)
// with stale entries skipped. Removed symbols are unlinked; the word is
// read from symbol 0 along next.
func (m *bpe) mergeAll(sc *scratch, syms []bpeSym) {
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if mg, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h = heapPush(h, mergeEnt{mg.rank, int32(i), mg.id})
		}
	}
	for len(h) > 0 {
		var top mergeEnt
		top, h = heapPop(h)
		i := top.pos
		if syms[i].e == syms[i].s && syms[i].id == -1 { // removed
			continue
		}
		j := syms[i].next
		if j < 0 {
			continue
		}
		if mg, ok := m.merges[pairKey(syms[i].id, syms[j].id)]; !ok || mg.id != top.id || mg.rank != top.rank {
			continue // stale
		}
		syms[i].id = top.id
		syms[i].e = syms[j].e
		syms[i].next = syms[j].next
		syms[j].id, syms[j].s, syms[j].e = -1, 0, 0
		if n := syms[i].next; n >= 0 {
			syms[n].prev = i
		}
		if p := syms[i].prev; p >= 0 {
			if mg, ok := m.merges[pairKey(syms[p].id, syms[i].id)]; ok {
				h = heapPush(h, mergeEnt{mg.rank, p, mg.id})
			}
		}
		if n := syms[i].next; n >= 0 {
			if mg, ok := m.merges[pairKey(syms[i].id, syms[n].id)]; ok {
				h = heapPush(h, mergeEnt{mg.rank, i, mg.id})
			}
		}
	}
	sc.heap = h
}

// mergeEnt is a queued merge: lower rank first, then leftmost.
type mergeEnt struct {
	rank, pos, id int32
}

func (a mergeEnt) less(b mergeEnt) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

func heapPush(h []mergeEnt, e mergeEnt) []mergeEnt {
	h = append(h, e)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func heapPop(h []mergeEnt) (mergeEnt, []mergeEnt) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].less(h[m]) {
			m = l
		}
		if r < n && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return top, h
}
