package tokenizer

import "unicode/utf8"

// span is a byte range [0]..[1] of the normalized text.
type span = [2]int32

// preSplitter is an elementary pre-tokenizer that cuts each input span of
// the normalized text b into words, appending them to out.
type preSplitter interface {
	split(b []byte, in []span, out []span) []span
}

// preStep is a preSplitter or a preTransform.
type preStep any

// decode returns the rune at b[i] (text built by the normalizer is valid UTF-8).
func decode(b []byte, i int32) (rune, int32) {
	if c := b[i]; c < 0x80 {
		return rune(c), 1
	}
	r, n := utf8.DecodeRune(b[i:])
	return r, int32(n)
}

// bertPre is BertPreTokenizer: split on whitespace (removed) and on
// punctuation (each punctuation character its own word).
type bertPre struct{}

func (bertPre) split(b []byte, in, out []span) []span {
	for _, sp := range in {
		w := int32(-1)
		for i := sp[0]; i < sp[1]; {
			var cls uint8
			n := int32(1)
			if c := b[i]; c < 0x80 {
				cls = asciiClass[c]
			} else {
				var r rune
				r, n = decode(b, i)
				if isSpace(r) {
					cls = clsSpace
				} else if isPunct(r) {
					cls = clsPunct
				}
			}
			switch {
			case cls&clsSpace != 0:
				if w >= 0 {
					out = append(out, span{w, i})
					w = -1
				}
			case cls&clsPunct != 0:
				if w >= 0 {
					out = append(out, span{w, i})
					w = -1
				}
				out = append(out, span{i, i + n})
			default:
				if w < 0 {
					w = i
				}
			}
			i += n
		}
		if w >= 0 {
			out = append(out, span{w, sp[1]})
		}
	}
	return out
}

// whitespacePre is the Whitespace pre-tokenizer: the matches of
// \w+|[^\w\s]+, everything else dropped.
type whitespacePre struct{}

func (whitespacePre) split(b []byte, in, out []span) []span {
	const none, word, other = 0, 1, 2
	for _, sp := range in {
		kind, w := none, int32(0)
		for i := sp[0]; i < sp[1]; {
			r, n := decode(b, i)
			k := other
			if isWord(r) {
				k = word
			} else if isSpace(r) {
				k = none
			}
			if k != kind {
				if kind != none {
					out = append(out, span{w, i})
				}
				kind, w = k, i
			}
			i += n
		}
		if kind != none {
			out = append(out, span{w, sp[1]})
		}
	}
	return out
}

// Behavior is how a splitting pre-tokenizer treats the characters it splits on.
type behavior int

const (
	removed behavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

// charSplit splits on every character for which match is true, with the
// reference's SplitDelimiterBehavior semantics.
type charSplit struct {
	match    func(rune) bool
	behavior behavior
}

func (c charSplit) split(b []byte, in, out []span) []span {
	var pieces []splitPiece
	for _, sp := range in {
		pieces = pieces[:0]
		last := sp[0]
		for i := sp[0]; i < sp[1]; {
			r, n := decode(b, i)
			if c.match(r) {
				if last < i {
					pieces = append(pieces, splitPiece{span{last, i}, false})
				}
				pieces = append(pieces, splitPiece{span{i, i + n}, true})
				last = i + n
			}
			i += n
		}
		if last < sp[1] {
			pieces = append(pieces, splitPiece{span{last, sp[1]}, false})
		}
		// The pieces are never empty, so foldPieces drops nothing here.
		out = foldPieces(pieces, c.behavior, out)
	}
	return out
}
