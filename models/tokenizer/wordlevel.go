package tokenizer

import (
	"fmt"
	"math"
)

// wordLevel is the WordLevel model: each word is one token, or the unk
// token.
type wordLevel struct {
	vocab   map[string]int32
	byID    []*string
	unk     int32 // -1: the unk token is not in the vocabulary
	unkName string
}

func newWordLevel(vocab map[string]int64, unk string) (*wordLevel, error) {
	m := &wordLevel{vocab: make(map[string]int32, len(vocab)), unk: -1, unkName: unk}
	for k, id := range vocab {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("model.vocab: id %d of %q out of range", id, k)
		}
		m.vocab[k] = int32(id)
	}
	if id, ok := m.vocab[unk]; ok {
		m.unk = id
	}
	m.byID = reverseVocab(m.vocab)
	return m, nil
}

func (m *wordLevel) tokenize(_ *scratch, b []byte, s, e int32, as, ae []int32, enc *seqEnc) error {
	if s >= e {
		return nil
	}
	id, ok := m.vocab[string(b[s:e])]
	if !ok {
		if m.unk < 0 {
			return fmt.Errorf("tokenizer: WordLevel: unk_token %q is missing from the vocabulary", m.unkName)
		}
		id = m.unk
	}
	enc.push(id, as[s], ae[e-1])
	return nil
}

func (m *wordLevel) tokenID(tok string) (int32, bool) {
	id, ok := m.vocab[tok]
	return id, ok
}

func (m *wordLevel) idToken(id int32) (string, bool) {
	if id < 0 || int(id) >= len(m.byID) || m.byID[id] == nil {
		return "", false
	}
	return *m.byID[id], true
}

func (m *wordLevel) vocabSize() int { return len(m.vocab) }
