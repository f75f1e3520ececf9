package tokenizer

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// wordPiece is the WordPiece model: greedy longest-match-first over the
// vocabulary, continuation pieces carrying a prefix ("##").
type wordPiece struct {
	vocab      map[string]int32 // every piece, for added tokens' ids
	first      *vocabTable      // the same, for lookups
	cont       *vocabTable      // continuation pieces, keyed without the prefix
	maxLen     int              // longest key in vocab, bytes
	maxContLen int              // longest key in cont, bytes
	unk        int32            // -1: not in the vocabulary (an error once needed, as in the reference)
	unkName    string
	maxChars   int
	size       int
	byID       []*string
}

func newWordPiece(vocab map[string]int64, unk, prefix string, maxChars int) (*wordPiece, error) {
	wp := &wordPiece{
		vocab:    make(map[string]int32, len(vocab)),
		maxChars: maxChars,
		size:     len(vocab),
	}
	cont := map[string]int32{}
	for k, id := range vocab {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("model.vocab: id %d of %q out of range", id, k)
		}
		wp.vocab[k] = int32(id)
		wp.maxLen = max(wp.maxLen, len(k))
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			c := k[len(prefix):]
			cont[c] = int32(id)
			wp.maxContLen = max(wp.maxContLen, len(c))
		}
	}
	if prefix == "" {
		cont, wp.maxContLen = wp.vocab, wp.maxLen
	}
	wp.first, wp.cont = newVocabTable(wp.vocab), newVocabTable(cont)
	wp.byID = reverseVocab(wp.vocab)
	wp.unk, wp.unkName = -1, unk
	if id, ok := vocab[unk]; ok {
		wp.unk = int32(id)
	}
	return wp, nil
}

// tokenizeHashed is tokenize for a word whose FNV state h the caller
// computed while scanning it: a word in the vocabulary costs one probe.
func (wp *wordPiece) tokenizeHashed(b []byte, s, e int32, h uint32, as, ae []int32, enc *seqEnc) error {
	if int(e-s) <= wp.maxLen {
		if id, ok := wp.first.getHashed(b[s:e], hashFinish(h)); ok {
			enc.push(id, as[s], ae[e-1])
			return nil
		}
	}
	return wp.tokenizeWord(b, s, e, as, ae, enc)
}

// tokenizeWord appends the pieces of word b[s:e] to enc, offsets through the
// alignment (as, ae).
func (wp *wordPiece) tokenizeWord(b []byte, s, e int32, as, ae []int32, enc *seqEnc) error {
	word := b[s:e]
	if len(word) > wp.maxChars && utf8.RuneCount(word) > wp.maxChars {
		return wp.pushUnk(s, e, as, ae, enc)
	}
	n0 := len(enc.toks)
	start := 0
	for start < len(word) {
		m, maxLen := wp.first, wp.maxLen
		if start > 0 {
			m, maxLen = wp.cont, wp.maxContLen
		}
		end := len(word)
		if end-start > maxLen {
			end = start + maxLen
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		found := false
		for end > start {
			if id, ok := m.get(word[start:end]); ok {
				enc.push(id, as[s+int32(start)], ae[s+int32(end)-1])
				found = true
				break
			}
			end--
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		if !found {
			enc.toks = enc.toks[:n0]
			return wp.pushUnk(s, e, as, ae, enc)
		}
		start = end
	}
	return nil
}

func (wp *wordPiece) pushUnk(s, e int32, as, ae []int32, enc *seqEnc) error {
	if wp.unk < 0 {
		return fmt.Errorf("tokenizer: WordPiece: unk_token %q is missing from the vocabulary", wp.unkName)
	}
	enc.push(wp.unk, as[s], ae[e-1])
	return nil
}
