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
	"strings"

	"github.com/crossrank/crossrank/plugins/std/internal/swar"
	"github.com/crossrank/crossrank/sdk/go/crossrankplugin"
)

type segment struct {
	lit  string
	path []string // nil for a literal
}

type fieldsPlugin struct {
	segs     []segment
	arraySep string

	scratch, tidy []byte // reused between calls
	spans         []span
	paths         bool // some segment is a placeholder
	em            emitter
}

func main() {}

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
	p.arraySep = ", "
	if c.ArraySeparator != nil {
		p.arraySep = *c.ArraySeparator
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
	p.paths = false
	for _, s := range segs {
		p.paths = p.paths || s.path != nil
	}
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
				segs = append(segs, segment{lit: lit.String()})
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
		segs = append(segs, segment{lit: lit.String()})
	}
	return segs, nil
}

func (p *fieldsPlugin) passage(dst, _ []byte, doc crossrankplugin.Doc) ([]byte, error) {
	if !doc.JSON {
		return append(dst, doc.Data...), nil
	}
	start := len(dst)
	b := doc.Data
	if top := skipWS(b, 0); p.paths && top < len(b) && b[top] == '{' {
		// An object (the usual _source): walk its fields once for all the
		// segments instead of once per segment.
		var err error
		if p.spans, err = topLevel(b, top, p.segs, &p.scratch, p.spans[:0]); err != nil {
			return dst, fmt.Errorf("fields: document: %w", err)
		}
		for si, s := range p.segs {
			if s.path == nil {
				dst = append(dst, s.lit...)
				continue
			}
			p.em = emitter{dst: dst, sep: p.arraySep, first: true}
			for _, sp := range p.spans {
				if sp.seg != si {
					continue
				}
				if len(s.path) == 1 && b[sp.start] == '"' {
					p.em.emit(b[sp.start+1:sp.end-1], true) // a string: as visit emits it
					continue
				}
				if _, err := visit(b, sp.start, s.path[1:], &p.scratch, &p.em); err != nil {
					return dst, fmt.Errorf("fields: document: %w", err)
				}
			}
			dst = p.em.dst
		}
	} else {
		for _, s := range p.segs {
			if s.path == nil {
				dst = append(dst, s.lit...)
				continue
			}
			p.em = emitter{dst: dst, sep: p.arraySep, first: true}
			if _, err := visit(b, 0, s.path, &p.scratch, &p.em); err != nil {
				return dst, fmt.Errorf("fields: document: %w", err)
			}
			dst = p.em.dst
		}
	}
	// Tidy: collapse white space, drop separators left by empty fields.
	p.tidy = append(p.tidy[:0], dst[start:]...)
	dst = collapse(dst[:start], p.tidy)
	out := bytes.TrimLeft(dst[start:], " .,;:|-")
	out = bytes.TrimRight(out, " ,;:|-")
	n := copy(dst[start:], out)
	return dst[:start+n], nil
}

// collapse appends src to dst with runs of white space (space, tab, CR, LF)
// turned into one space and the ends trimmed.
func collapse(dst, src []byte) []byte { return swar.Collapse(dst, src, swar.ASCIISpace) }
