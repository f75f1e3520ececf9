//go:build wasip1

// Command html is the standard crossrank plugin that turns HTML into plain
// text: tags removed (block-level tags become a space), script, style and
// comment contents dropped, character entities decoded, white space
// collapsed. It runs on the passage stage; JSON documents pass through.
// Config: none ({}).
package main

import (
	"bytes"
	"fmt"
	"html"

	plugin "github.com/crossrank/crossrank/sdk/go"
)

func main() {}

func init() {
	var scratch []byte
	plugin.Register(plugin.Plugin{
		Configure: func(c []byte) error {
			if len(bytes.TrimSpace(c)) > 2 {
				return fmt.Errorf("html: takes no config, got %s", c)
			}
			return nil
		},
		Passage: func(dst, _ []byte, doc plugin.Doc) ([]byte, error) {
			scratch = stripHTML(scratch[:0], doc.Data)
			return collapse(dst, scratch), nil
		},
	})
}

// isBlock reports whether a tag breaks the text flow (it becomes a space).
func isBlock(tag string) bool {
	switch tag {
	case "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
		"figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
		"header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
		"td", "th", "title", "tr", "ul", "option":
		return true
	}
	return false
}

// stripHTML appends the text of src to dst.
func stripHTML(dst, src []byte) []byte {
	var name [16]byte
	i := 0
	textStart := 0
	flush := func(end int) {
		run := src[textStart:end]
		if bytes.IndexByte(run, '&') >= 0 {
			dst = append(dst, html.UnescapeString(string(run))...)
		} else {
			dst = append(dst, run...)
		}
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
		if bytes.HasPrefix(src[i:], []byte("<!--")) {
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
		for j < len(src) && (isLetter(src[j]) || (src[j] >= '0' && src[j] <= '9')) {
			if n < len(name) {
				name[n] = src[j] | 0x20
				n++
			}
			j++
		}
		tag := string(name[:n]) // small; the compiler avoids allocating for map look-ups
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
		if !closing && (tag == "script" || tag == "style") {
			end := indexFold(src[i:], "</"+tag)
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
func collapse(dst, src []byte) []byte {
	space := false
	wrote := false
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
		space = false
		wrote = true
		dst = append(dst, c)
		i++
	}
	return dst
}
