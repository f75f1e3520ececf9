package tokenizer

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// pattern finds the matches of a Replace or Split pattern (a literal
// string or a regular expression) in a text, left to right, without
// overlaps.
type pattern struct {
	lit string
	re  *regexp.Regexp
	// run, when > 0, says the regex is a literal character repeated at
	// least run times (" {2,}", as SentencePiece conversions write it),
	// matched without the regex engine.
	run   int
	runCh byte
}

func newPattern(str, re *string, where string) (*pattern, error) {
	switch {
	case str != nil && re == nil:
		return &pattern{lit: *str}, nil // an empty string matches nothing, as in the reference
	case re != nil && str == nil:
		// the reference uses Oniguruma; Go's RE2 syntax agrees on the
		// patterns tokenizer files use (no look-around, no back-references)
		r, err := regexp.Compile(*re)
		if err != nil {
			return nil, fmt.Errorf("%s.Regex: %w", where, err)
		}
		p := &pattern{re: r}
		if tree, err := syntax.Parse(*re, syntax.Perl); err == nil && tree.Op == syntax.OpRepeat && tree.Max == -1 && tree.Min >= 1 &&
			len(tree.Sub) == 1 && tree.Sub[0].Op == syntax.OpLiteral && len(tree.Sub[0].Rune) == 1 && tree.Sub[0].Rune[0] < 0x80 &&
			tree.Sub[0].Flags&syntax.FoldCase == 0 {
			p.run, p.runCh = tree.Min, byte(tree.Sub[0].Rune[0])
		}
		return p, nil
	}
	return nil, fmt.Errorf("%s: want exactly one of String and Regex", where)
}

// find appends the byte ranges of the matches in s to out.
func (p *pattern) find(s []byte, out [][2]int) [][2]int {
	switch {
	case p.re == nil:
		n := len(p.lit)
		if n == 0 {
			return out
		}
		for i := 0; i+n <= len(s); {
			if string(s[i:i+n]) == p.lit {
				out = append(out, [2]int{i, i + n})
				i += n
				continue
			}
			i++
		}
	case p.run > 0:
		for i := 0; i < len(s); {
			if s[i] != p.runCh {
				i++
				continue
			}
			j := i
			for j < len(s) && s[j] == p.runCh {
				j++
			}
			if j-i >= p.run {
				out = append(out, [2]int{i, j})
			}
			i = j
		}
	default:
		for _, m := range p.re.FindAllIndex(s, -1) {
			out = append(out, [2]int{m[0], m[1]})
		}
	}
	return out
}

// regexReplaceStep is the Replace normalizer with any pattern: each match
// becomes content, whose characters take the alignment of the match's last
// character (an empty match, the character before it).
type regexReplaceStep struct {
	p       *pattern
	content []rune
}

func (regexReplaceStep) perChar() bool { return false }

func (r regexReplaceStep) apply(dst, src []nchar, sc *stepScratch) []nchar {
	buf := sc.buf[:0]
	for _, c := range src {
		buf = utf8.AppendRune(buf, c.r)
	}
	sc.buf = buf
	ms := r.p.find(buf, sc.ranges[:0])
	sc.ranges = ms
	dst = dst[:0]
	if len(ms) == 0 {
		return append(dst, src...)
	}
	ci, bi := 0, 0 // character and byte position in src
	for _, m := range ms {
		for bi < m[0] {
			dst = append(dst, src[ci])
			bi += utf8.RuneLen(src[ci].r)
			ci++
		}
		var s, e int32
		for bi < m[1] {
			s, e = src[ci].s, src[ci].e
			bi += utf8.RuneLen(src[ci].r)
			ci++
		}
		if m[0] == m[1] && ci > 0 {
			s, e = src[ci-1].s, src[ci-1].e
		}
		for _, c := range r.content {
			dst = append(dst, nchar{c, s, e})
		}
	}
	return append(dst, src[ci:]...)
}
