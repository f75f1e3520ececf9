package tokenizer

// model is the tokenization model (WordPiece, Unigram, BPE, WordLevel): it
// cuts one pre-tokenized word into tokens.
type model interface {
	// tokenize appends the tokens of word b[s:e] to enc, offsets through
	// the alignment (as, ae: the original byte range of each byte of b).
	tokenize(sc *scratch, b []byte, s, e int32, as, ae []int32, enc *seqEnc) error
	// tokenID returns the id of a vocabulary entry.
	tokenID(tok string) (int32, bool)
	// idToken returns the vocabulary entry of an id.
	idToken(id int32) (string, bool)
	// vocabSize returns the number of vocabulary entries.
	vocabSize() int
}

func (wp *wordPiece) tokenize(_ *scratch, b []byte, s, e int32, as, ae []int32, enc *seqEnc) error {
	return wp.tokenizeWord(b, s, e, as, ae, enc)
}

func (wp *wordPiece) tokenID(tok string) (int32, bool) {
	id, ok := wp.vocab[tok]
	return id, ok
}

func (wp *wordPiece) idToken(id int32) (string, bool) {
	if id < 0 || int(id) >= len(wp.byID) || wp.byID[id] == nil {
		return "", false
	}
	return *wp.byID[id], true
}

func (wp *wordPiece) vocabSize() int { return wp.size }

// reverseVocab indexes a string-to-id vocabulary by id.
func reverseVocab(v map[string]int32) []*string {
	n := 0
	for _, id := range v {
		n = max(n, int(id)+1)
	}
	out := make([]*string, n)
	for k, id := range v {
		k := k
		if out[id] == nil || k < *out[id] {
			out[id] = &k
		}
	}
	return out
}
