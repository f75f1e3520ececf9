// Command html is the standard crossrank plugin that turns HTML into plain
// text: tags removed (block-level tags become a space), script, style and
// comment contents dropped, character entities decoded, white space
// collapsed. It runs on the passage stage; JSON documents pass through.
// Config: none ({}).
package main

import (
	"bytes"
	"html"
	"unicode/utf8"

	"github.com/crossrank/crossrank/plugins/std/internal/swar"
)

func main() {}

// plainText appends the text of the HTML src to dst, using scratch (returned
// for reuse).
func plainText(dst, src, scratch []byte) (out, scratch2 []byte) {
	scratch = stripHTML(scratch[:0], src)
	return collapse(dst, scratch), scratch
}

// blockTags break the text flow (each becomes a space).
var blockTags = []string{"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
	"figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
	"header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
	"td", "th", "title", "tr", "ul", "option"}

// A tagKey is a lower-cased tag name of at most 16 bytes as two words, zero
// padded: comparing tags this way costs no string conversion or runtime call
// in a WASM guest.
type tagKey struct{ lo, hi uint64 }

func keyOf(name string) tagKey {
	var b [16]byte
	copy(b[:], name)
	return tagKey{swar.Load64(b[:], 0), swar.Load64(b[:], 8)}
}

var (
	keyScript = keyOf("script")
	keyStyle  = keyOf("style")
	// blockTable is an open-addressing hash set of the block tags' keys.
	blockTable = func() (t [128]tagKey) {
		for _, name := range blockTags {
			k := keyOf(name)
			h := hashKey(k)
			for t[h].lo != 0 {
				h = (h + 1) % uint64(len(t))
			}
			t[h] = k
		}
		return t
	}()
)

func hashKey(k tagKey) uint64 { return ((k.lo ^ k.hi*31) * 0x9E3779B97F4A7C15) >> 57 }

// isBlock reports whether a tag breaks the text flow (it becomes a space).
func isBlock(k tagKey) bool {
	for h := hashKey(k); ; h = (h + 1) % uint64(len(blockTable)) {
		e := blockTable[h]
		if e.lo == 0 {
			return false
		}
		if e == k {
			return true
		}
	}
}

// stripHTML appends the text of src to dst.
func stripHTML(dst, src []byte) []byte {
	var name [16]byte
	i := 0
	textStart := 0
	flush := func(end int) {
		dst = appendUnescaped(dst, src[textStart:end])
	}
	for i < len(src) {
		if src[i] != '<' {
			k := bytes.IndexByte(src[i:], '<') // assembly in Go's wasm port
			if k < 0 {
				break
			}
			i += k
		}
		// A tag starts only with a letter, '/', '!' or '?'.
		if i+1 >= len(src) || !(isLetter(src[i+1]) || src[i+1] == '/' || src[i+1] == '!' || src[i+1] == '?') {
			i++
			continue
		}
		flush(i)
		if i+4 <= len(src) && src[i+1] == '!' && src[i+2] == '-' && src[i+3] == '-' {
			end := bytes.Index(src[i+4:], []byte("-->"))
			if end < 0 {
				i = len(src)
			} else {
				i += 4 + end + 3
			}
			textStart = i
			continue
		}
		j := i + 1
		closing := j < len(src) && src[j] == '/'
		if closing {
			j++
		}
		n := 0
		name = [16]byte{}
		for j < len(src) && (isLetter(src[j]) || (src[j] >= '0' && src[j] <= '9')) {
			if n < len(name) {
				name[n] = src[j] | 0x20
				n++
			}
			j++
		}
		tag := tagKey{swar.Load64(name[:], 0), swar.Load64(name[:], 8)} // the first 16 bytes of the name
		// Skip to the end of the tag, honouring quoted attribute values.
		var quote byte
		for j < len(src) {
			c := src[j]
			if quote != 0 {
				if c == quote {
					quote = 0
				}
			} else if c == '"' || c == '\'' {
				quote = c
			} else if c == '>' {
				break
			}
			j++
		}
		i = j + 1
		if !closing && (tag == keyScript || tag == keyStyle) {
			end := indexFold(src[i:], "</"+string(name[:n]))
			if end < 0 {
				i = len(src)
			} else {
				k := bytes.IndexByte(src[i+end:], '>')
				if k < 0 {
					i = len(src)
				} else {
					i += end + k + 1
				}
			}
			dst = append(dst, ' ')
		} else if isBlock(tag) {
			dst = append(dst, ' ')
		}
		if i > len(src) {
			i = len(src)
		}
		textStart = i
	}
	flush(len(src))
	return dst
}

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// indexFold finds an ASCII needle in s, ignoring case.
func indexFold(s []byte, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if s[i] == '<' && bytes.EqualFold(s[i:i+len(needle)], []byte(needle)) {
			return i
		}
	}
	return -1
}

// collapse appends src to dst with runs of white space (including no-break
// space) turned into one space and the ends trimmed.
func collapse(dst, src []byte) []byte { return swar.Collapse(dst, src, swar.HTMLSpace) }

// appendUnescaped appends s to dst with HTML character references decoded
// as html.UnescapeString decodes them. The common ones (&amp; &lt; &gt;
// &quot; &apos; &nbsp; and numeric references) are decoded here without
// allocating; any other named reference goes through html.UnescapeString.
func appendUnescaped(dst, s []byte) []byte {
	for {
		k := bytes.IndexByte(s, '&')
		if k < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:k]...)
		s = s[k:]
		n := 0
		dst, n = appendEntity(dst, s)
		s = s[n:]
	}
}

// appendEntity decodes the character reference at s[0] == '&' the way the
// standard library's html package does, appends it to dst and returns the
// number of bytes of s it consumed.
func appendEntity(dst, s []byte) ([]byte, int) {
	if len(s) <= 1 {
		return append(dst, '&'), 1
	}
	i := 1
	if s[1] == '#' {
		if len(s) <= 3 { // We need at least "&#.".
			return append(dst, '&'), 1
		}
		i++
		hex := false
		if c := s[i]; c == 'x' || c == 'X' {
			hex = true
			i++
		}
		x := rune(0)
		for i < len(s) {
			c := s[i]
			i++
			if hex {
				if '0' <= c && c <= '9' {
					x = 16*x + rune(c) - '0'
					continue
				} else if 'a' <= c && c <= 'f' {
					x = 16*x + rune(c) - 'a' + 10
					continue
				} else if 'A' <= c && c <= 'F' {
					x = 16*x + rune(c) - 'A' + 10
					continue
				}
			} else if '0' <= c && c <= '9' {
				x = 10*x + rune(c) - '0'
				continue
			}
			if c != ';' {
				i--
			}
			break
		}
		if i <= 3 { // No characters matched.
			return append(dst, '&'), 1
		}
		if 0x80 <= x && x <= 0x9F {
			// Windows-1252 characters, as html.UnescapeString maps them.
			return append(dst, html.UnescapeString(string(s[:i]))...), i
		} else if x == 0 || (0xD800 <= x && x <= 0xDFFF) || x > 0x10FFFF {
			x = utf8.RuneError
		}
		return utf8.AppendRune(dst, x), i
	}
	for i < len(s) {
		c := s[i]
		i++
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if c != ';' {
			i--
		}
		break
	}
	switch string(s[1:i]) {
	case "":
		return append(dst, '&'), 1
	case "amp;":
		return append(dst, '&'), i
	case "lt;":
		return append(dst, '<'), i
	case "gt;":
		return append(dst, '>'), i
	case "quot;":
		return append(dst, '"'), i
	case "apos;":
		return append(dst, '\''), i
	case "nbsp;":
		return append(dst, 0xC2, 0xA0), i
	}
	// Any other name (and names without ';', which may match a prefix): the
	// standard library's full table. It only looks at s[:i].
	return append(dst, html.UnescapeString(string(s[:i]))...), i
}
