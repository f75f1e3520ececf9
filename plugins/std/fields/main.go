//go:build wasip1

// Command fields is the standard crossrank plugin that makes a passage from
// fields of a JSON document (an Elasticsearch _source) with a template.
//
// Config: {"template": "{title}. {body}"} or {"fields": ["title", "body"],
// "separator": ". "}; "array_separator" (default ", ") joins array values.
// A placeholder is a dotted path ({author.name}); a path through an array
// maps over its elements. "{{" and "}}" are literal braces. Missing fields
// render empty. Text documents pass through unchanged.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	plugin "github.com/crossrank/crossrank/sdk/go"
)

type segment struct {
	lit  []byte
	path []string // nil for a literal
}

type fieldsPlugin struct {
	segs     []segment
	arraySep []byte

	scratch []byte // reused between calls
	em      emitter
}

func main() {}

func init() {
	p := &fieldsPlugin{}
	plugin.Register(plugin.Plugin{
		Configure:  p.configure,
		Passage:    p.passage,
		AcceptJSON: true,
	})
}

type config struct {
	Template       string   `json:"template"`
	Fields         []string `json:"fields"`
	Separator      *string  `json:"separator"`
	ArraySeparator *string  `json:"array_separator"`
}

func (p *fieldsPlugin) configure(raw []byte) error {
	var c config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("fields: %w", err)
	}
	p.arraySep = []byte(", ")
	if c.ArraySeparator != nil {
		p.arraySep = []byte(*c.ArraySeparator)
	}
	tmpl := c.Template
	switch {
	case tmpl != "" && len(c.Fields) > 0:
		return fmt.Errorf("fields: set template or fields, not both")
	case len(c.Fields) > 0:
		sep := ". "
		if c.Separator != nil {
			sep = *c.Separator
		}
		parts := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			parts[i] = "{" + f + "}"
		}
		tmpl = strings.Join(parts, sep)
	case tmpl == "":
		return fmt.Errorf("fields: config needs a template (\"{title}. {body}\") or a list of fields")
	}
	segs, err := parseTemplate(tmpl)
	if err != nil {
		return err
	}
	p.segs = segs
	return nil
}

func parseTemplate(t string) ([]segment, error) {
	var segs []segment
	var lit strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '{' && i+1 < len(t) && t[i+1] == '{', c == '}' && i+1 < len(t) && t[i+1] == '}':
			lit.WriteByte(c)
			i++
		case c == '{':
			end := strings.IndexByte(t[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("fields: template %q: unclosed {", t)
			}
			name := strings.TrimSpace(t[i+1 : i+end])
			if name == "" {
				return nil, fmt.Errorf("fields: template %q: empty placeholder", t)
			}
			if lit.Len() > 0 {
				segs = append(segs, segment{lit: []byte(lit.String())})
				lit.Reset()
			}
			segs = append(segs, segment{path: strings.Split(name, ".")})
			i += end
		case c == '}':
			return nil, fmt.Errorf("fields: template %q: unmatched }", t)
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		segs = append(segs, segment{lit: []byte(lit.String())})
	}
	return segs, nil
}

func (p *fieldsPlugin) passage(dst, _ []byte, doc plugin.Doc) ([]byte, error) {
	if !doc.JSON {
		return append(dst, doc.Data...), nil
	}
	start := len(dst)
	// Everything rendered goes through the emitter's tidier, which collapses
	// white space as it appends (one pass, no copy).
	e := &p.em
	*e = emitter{dst: dst, sep: p.arraySep}
	for _, s := range p.segs {
		if s.path == nil {
			e.text(s.lit)
			continue
		}
		e.first = true
		if _, err := visit(doc.Data, 0, s.path, &p.scratch, e); err != nil {
			return dst, fmt.Errorf("fields: document: %w", err)
		}
	}
	dst = e.dst
	// Drop separators left by empty fields.
	out := bytes.TrimLeft(dst[start:], " .,;:|-")
	out = bytes.TrimRight(out, " ,;:|-")
	n := copy(dst[start:], out)
	return dst[:start+n], nil
}

// tidier collapses white space (space, tab, CR, LF) in a stream of pieces:
// each run becomes one space, and the ends are trimmed.
type tidier struct {
	space bool // white space seen since the last byte written
	wrote bool // something was written
}

// collapse appends src to dst, tidied, continuing the stream.
//
// Byte loops are slow in a Go WASM guest, so collapse looks at 8 bytes at a
// time: a block without control bytes or two spaces in a row (most of
// running text) is copied whole; any other block goes byte by byte.
func (t *tidier) collapse(dst, src []byte) []byte {
	// The output is at most src and one pending space: reserve it once and
	// store into it.
	dst = slices.Grow(dst, len(src)+1)
	w := len(dst)
	out := dst[:cap(dst)]
	space, wrote := t.space, t.wrote
	i := 0
	for i < len(src) {
		if i+8 <= len(src) {
			x := load64(src, i)
			sp := eqMask(x, 0x2020202020202020)
			if ctlMask(x) == 0 && sp&(sp>>8) == 0 && (sp&0x80 == 0 || wrote && !space) {
				if space && wrote {
					out[w] = ' '
					w++
				}
				// Each output byte stands for at least one input byte
				// (the pending space for one before src), so out has room
				// for 8 bytes at w.
				store64(out, w, x)
				if sp>>63 != 0 { // ends in a space: keep it pending
					w += 7
					space = true
				} else {
					w += 8
					space = false
				}
				wrote = true
				i += 8
				continue
			}
		}
		c := src[i]
		i++
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			space = true
			continue
		}
		if space && wrote {
			out[w] = ' '
			w++
		}
		space = false
		wrote = true
		out[w] = c
		w++
	}
	t.space, t.wrote = space, wrote
	return out[:w]
}

const lo7s = 0x7F7F7F7F7F7F7F7F

// load64 reads 8 bytes of b at i (i+8 <= len(b)) as one little-endian
// word: a single i64.load in WASM.
func load64(b []byte, i int) uint64 {
	_ = b[i+7]
	return *(*uint64)(unsafe.Pointer(&b[i]))
}

// store64 writes x as 8 little-endian bytes of b at i (i+8 <= len(b)).
func store64(b []byte, i int, x uint64) {
	_ = b[i+7]
	*(*uint64)(unsafe.Pointer(&b[i])) = x
}

// eqMask has 0x80 in each byte of x that equals the byte repeated in rep,
// and 0 elsewhere.
func eqMask(x, rep uint64) uint64 {
	t := x ^ rep
	return ^((t&lo7s + lo7s) | t | lo7s)
}

// ctlMask has 0x80 in each byte of x below 0x20, and 0 elsewhere.
func ctlMask(x uint64) uint64 {
	return ^((x&lo7s + 0x6060606060606060) | x | lo7s)
}
