package tokenizer

// wordCache remembers the tokens of recently seen words for the Unigram
// and BPE models (the reference caches them too). One lives in each
// scratch, so lookups take no lock; it is cleared when full.
type wordCache struct {
	m     map[string]cacheEnt
	arena []token
}

type cacheEnt struct{ off, n int32 }

const (
	cacheMaxWords  = 8192
	cacheMaxTokens = 1 << 16
	cacheMaxWord   = 64 // longer words are not cached
)

func (c *wordCache) get(w []byte) ([]token, bool) {
	if len(w) > cacheMaxWord {
		return nil, false
	}
	e, ok := c.m[string(w)]
	if !ok {
		return nil, false
	}
	return c.arena[e.off : e.off+e.n], true
}

func (c *wordCache) put(w []byte, toks []token) {
	if len(w) > cacheMaxWord {
		return
	}
	if len(c.m) >= cacheMaxWords || len(c.arena)+len(toks) > cacheMaxTokens {
		clear(c.m)
		c.arena = c.arena[:0]
	}
	c.m[string(w)] = cacheEnt{int32(len(c.arena)), int32(len(toks))}
	c.arena = append(c.arena, toks...)
}

// cache returns the scratch's word cache, made on first use.
func (s *scratch) cache() *wordCache {
	if s.wc == nil {
		s.wc = &wordCache{m: make(map[string]cacheEnt, 256)}
	}
	return s.wc
}
