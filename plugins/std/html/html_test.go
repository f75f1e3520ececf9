package main

import (
	"html"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestPlainText(t *testing.T) {
	cases := []struct{ in, want string }{
		{`<p>Hello <b>world</b></p><p>Bye</p>`, "Hello world Bye"},
		{`<script>var x = "<p>";</script>Text<style>p{}</style> more`, "Text more"},
		{`<SCRIPT>x</Script >after`, "after"},
		{`Fish &amp; chips &lt;3 &eacute;t&eacute; &#8364;5`, "Fish & chips <3 été €5"},
		{`&quot;q&quot; &apos;a&apos; &#x41;&#X42;&#67; &#128; &#0; &#xD800; &#99999999;`, "\"q\" 'a' ABC € \uFFFD \uFFFD \uFFFD"},
		{`&amp &ampx &notit; &nGt; &; & &# &#x; &#;`, "& &x ¬it; &nGt; &; & &# \uFFFD &#;"},
		{"a&nbsp;&nbsp;b\u00a0\u00a0c\xc2d", "a b c\xc2d"},
		{`a<!-- hidden -->b<br>c`, "ab c"},
		{`<!-- unclosed`, ""},
		{`1 < 2 and 3>2`, "1 < 2 and 3>2"},
		{`<a title="x>y" href="#">link</a>`, "link"},
		{"  lead \t\n\r\f\v and   trail \n", "lead and trail"},
		{"a long run of words with single spaces between them all", "a long run of words with single spaces between them all"},
		{"", ""},
	}
	for _, tag := range blockTags {
		cases = append(cases, struct{ in, want string }{"a<" + strings.ToUpper(tag) + " x='>'>b</" + tag + ">c", "a b c"})
	}
	for _, tag := range []string{"span", "b", "scripts", "h7", "figcaptions", "blockquotexxxxxxxxxxx", "p1"} {
		cases = append(cases, struct{ in, want string }{"a<" + tag + ">b</" + tag + ">c", "abc"})
	}
	for _, c := range cases {
		got, _ := plainText([]byte("pre|"), []byte(c.in), nil)
		if string(got) != "pre|"+c.want {
			t.Errorf("%q: got %q, want %q", c.in, got[4:], c.want)
		}
	}
}

// refCollapse is collapse one byte at a time, as it was first written.
func refCollapse(dst, src []byte) []byte {
	space, wrote := false, false
	for i := 0; i < len(src); {
		c := src[i]
		w := 0
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			w = 1
		case c == 0xC2 && i+1 < len(src) && src[i+1] == 0xA0:
			w = 2
		}
		if w > 0 {
			space = true
			i += w
			continue
		}
		if space && wrote {
			dst = append(dst, ' ')
		}
		space, wrote = false, true
		dst = append(dst, c)
		i++
	}
	return dst
}

// TestDecodeAndCollapse checks entity decoding against html.UnescapeString
// and the 8-bytes-at-a-time collapse against refCollapse on random text.
func TestDecodeAndCollapse(t *testing.T) {
	pieces := []string{" ", "  ", "\t", "\n", "\r", "\f", "\v", "\u00a0", "\xc2", "\xa0", "\x01", "a", "bc", "déf", "word ", "longer words ",
		"&", "&amp;", "&lt;", "&gt", "&amp", "&#", "&#x", "&#32;", "&#x41;", "&#128;", "&#0;", "&#xD800;", "&nbsp;", "&nbsp", "&eacute;", "&notit;", "&nGt;", "&;", "#", ";", "1"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		var s []byte
		for n := r.IntN(40); n > 0; n-- {
			s = append(s, pieces[r.IntN(len(pieces))]...)
		}
		if got, want := string(appendUnescaped([]byte("p"), s)), "p"+html.UnescapeString(string(s)); got != want {
			t.Fatalf("unescape %q: got %q, want %q", s, got, want)
		}
		if got, want := string(collapse([]byte("p"), s)), string(refCollapse([]byte("p"), s)); got != want {
			t.Fatalf("collapse %q: got %q, want %q", s, got, want)
		}
	}
}
