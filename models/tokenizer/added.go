package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json's added_tokens.
type addedToken struct {
	content                    string
	id                         int32
	singleWord, lstrip, rstrip bool
}

// matcher finds added tokens in a text, leftmost-longest and without
// overlaps (the reference uses an Aho-Corasick automaton with the same
// semantics; the handful of added tokens makes a first-byte index enough).
type matcher struct {
	byFirst [256][]addedToken
	any     bool
	// first is the one byte every pattern starts with, or -1 when they
	// start with different bytes; with one, candidates are found with
	// strings.IndexByte (BERT's specials all start with '[').
	first int
}

func (m *matcher) add(t addedToken) {
	m.byFirst[t.content[0]] = append(m.byFirst[t.content[0]], t)
	m.any = true
}

func (m *matcher) finish() {
	m.first = -1
	n := 0
	for i := range m.byFirst {
		sortPatterns(m.byFirst[i])
		if len(m.byFirst[i]) > 0 {
			m.first = i
			n++
		}
	}
	if n != 1 {
		m.first = -1
	}
}

// addedMatch is one added token found at bytes [s, e) of the text.
type addedMatch struct {
	s, e int32
	id   int32
}

func hasPrefixAt[T string | []byte](t T, i int, p string) bool {
	if len(t)-i < len(p) {
		return false
	}
	for k := 0; k < len(p); k++ {
		if t[i+k] != p[k] {
			return false
		}
	}
	return true
}

// isAlnum is the regex \w the reference's single_word test uses:
// Alphabetic, marks, decimal digits, connector punctuation, join controls.
func isAlnum(r rune) bool {
	if r < 0x80 {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Other_Alphabetic, r) || unicode.Is(unicode.Nl, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}

func lastRune[T string | []byte](t T) rune {
	r, _ := utf8.DecodeLastRuneInString(string(t))
	return r
}

func firstRune[T string | []byte](t T) rune {
	r, _ := utf8.DecodeRuneInString(string(t))
	return r
}

// find appends the matches in t to out.
func (m *matcher) find(t string, out []addedMatch) []addedMatch {
	if !m.any {
		return out
	}
	startOffset := 0
	for i := 0; i < len(t); {
		if m.first >= 0 && int(t[i]) != m.first {
			k := strings.IndexByte(t[i:], byte(m.first))
			if k < 0 {
				break
			}
			i += k
		}
		cands := m.byFirst[t[i]]
		if len(cands) == 0 {
			i++
			continue
		}
		var best *addedToken
		for k := range cands {
			if hasPrefixAt(t, i, cands[k].content) {
				best = &cands[k]
				break
			}
		}
		if best == nil {
			i++
			continue
		}
		s, e := i, i+len(best.content)
		i = e
		if best.singleWord {
			startSpace := s == 0 || !(isAlnum(lastRune(t[:s])) || t[s-1] == '_')
			stopSpace := e == len(t) || !(isAlnum(firstRune(t[e:])) || t[e] == '_')
			if !startSpace || !stopSpace {
				continue
			}
		}
		if best.lstrip {
			ns := s
			for ns > 0 {
				r, n := utf8.DecodeLastRuneInString(t[:ns])
				if !isSpace(r) {
					break
				}
				ns -= n
			}
			s = max(ns, startOffset)
		}
		if best.rstrip {
			for e < len(t) {
				r, n := utf8.DecodeRuneInString(t[e:])
				if !isSpace(r) {
					break
				}
				e += n
			}
		}
		out = append(out, addedMatch{int32(s), int32(e), best.id})
		startOffset = e
	}
	return out
}

// addedVocab holds the added tokens matched in the raw text and those
// matched in the normalized text.
type addedVocab struct {
	raw, normalized matcher
	byID            map[int32]string // every added token's content
}
