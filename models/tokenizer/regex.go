package tokenizer

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
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
		r, err := regexp.Compile(onigClasses(*re))
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

// Oniguruma's \s, \d and \w are Unicode classes; Go's are ASCII-only.
const (
	uniSpace = `\t\n\v\f\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`
	uniWord  = `\p{L}\p{M}\p{Nd}\p{Pc}`
)

// onigClasses rewrites \s, \S, \d, \D, \w and \W to the Unicode classes
// the reference's regex engine gives them (inside brackets, only the
// positive ones; the negated ones stay ASCII there).
func onigClasses(re string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		if c == '\\' && i+1 < len(re) {
			n := re[i+1]
			i++
			switch {
			case n == 's' && inClass:
				b.WriteString(uniSpace)
			case n == 's':
				b.WriteString("[" + uniSpace + "]")
			case n == 'S' && !inClass:
				b.WriteString("[^" + uniSpace + "]")
			case n == 'd':
				b.WriteString(`\p{Nd}`)
			case n == 'D' && !inClass:
				b.WriteString(`\P{Nd}`)
			case n == 'w' && inClass:
				b.WriteString(uniWord)
			case n == 'w':
				b.WriteString("[" + uniWord + "]")
			case n == 'W' && !inClass:
				b.WriteString("[^" + uniWord + "]")
			default:
				b.WriteByte(c)
				b.WriteByte(n)
			}
			continue
		}
		switch {
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// a ] right after [ or [^ is a literal
			if i+1 < len(re) && re[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(re) && re[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
			continue
		case c == ']' && inClass:
			inClass = false
		}
		b.WriteByte(c)
	}
	return b.String()
}
