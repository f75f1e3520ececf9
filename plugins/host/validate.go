package host

import "fmt"

// Structural bounds checked before wazero decodes a module.
//
// wazero's decoder sizes its slices from the counts a module declares
// (make([]T, count) before reading the entries), so a 40-byte module that
// declares 2^32 imports, element entries or locals makes the process
// allocate tens of GiB, and Go's runtime dies with a fatal "out of memory"
// that no recover catches. The host therefore walks every vector of the
// sections wazero decodes and refuses a count larger than the bytes left
// in its section (every entry takes at least one byte), and bounds the
// locals of a function (which take no bytes each) by maxLocals.

// maxLocals bounds the locals one function declares (V8's limit is the
// same; Go's wasm back end uses a few dozen).
const maxLocals = 50000

// checkVectors checks the vector counts of one section (see above).
func checkVectors(id byte, body []byte) error {
	if id == secStart || id == 12 || id > 13 { // a single index, the data count; or unknown (wazero refuses it)
		return nil
	}
	r := &reader{b: body}
	count := func(what string) (uint64, error) {
		n, err := r.uleb()
		if err != nil {
			return 0, err
		}
		if n > uint64(len(r.b)-r.i) {
			return 0, fmt.Errorf("%w: section %d declares %d %s in %d bytes", errInstrument, id, n, what, len(r.b)-r.i)
		}
		return n, nil
	}
	skipName := func() error {
		n, err := count("bytes of a name")
		if err != nil {
			return err
		}
		return r.skip(int(n))
	}
	skipExpr := func() error { // a constant expression, up to its end
		for {
			op, err := r.byte()
			if err != nil {
				return err
			}
			if op == 0x0b {
				return nil
			}
			if op == 0x02 || op == 0x03 || op == 0x04 {
				return fmt.Errorf("%w: a block in a constant expression", errInstrument)
			}
			if err := skipImmediates(r, op); err != nil {
				return err
			}
		}
	}
	n, err := count("entries")
	if err != nil {
		return err
	}
	switch id {
	case secType:
		for k := uint64(0); k < n; k++ {
			form, err := r.byte()
			if err != nil {
				return err
			}
			if form != 0x60 {
				return fmt.Errorf("%w: type %d has form %#x", errInstrument, k, form)
			}
			for j := 0; j < 2; j++ { // params, results
				m, err := count("value types")
				if err != nil {
					return err
				}
				for v := uint64(0); v < m; v++ {
					vt, err := r.byte()
					if err != nil {
						return err
					}
					if vt == 0x63 || vt == 0x64 {
						if err := r.sleb(); err != nil {
							return err
						}
					}
				}
			}
		}
	case secImport, secExport:
		// Names are bounded here; countImports and wazero read the rest.
		for k := uint64(0); k < n; k++ {
			if err := skipName(); err != nil {
				return err
			}
			if id == secImport {
				if err := skipName(); err != nil {
					return err
				}
				kind, err := r.byte()
				if err != nil {
					return err
				}
				switch kind {
				case 0x00:
					_, err = r.uleb()
				case 0x01:
					if _, err = r.byte(); err == nil {
						err = skipLimits(r)
					}
				case 0x02:
					err = skipLimits(r)
				case 0x03:
					if err = r.skip(1); err == nil {
						_, err = r.byte()
					}
				case 0x04:
					if _, err = r.byte(); err == nil {
						_, err = r.uleb()
					}
				default:
					return fmt.Errorf("%w: unknown import kind %#x", errInstrument, kind)
				}
				if err != nil {
					return err
				}
				continue
			}
			if _, err := r.byte(); err != nil {
				return err
			}
			if _, err := r.uleb(); err != nil {
				return err
			}
		}
	case secElem:
		for k := uint64(0); k < n; k++ {
			flags, err := r.uleb()
			if err != nil {
				return err
			}
			if flags > 7 {
				return fmt.Errorf("%w: element segment flags %d", errInstrument, flags)
			}
			if flags&2 != 0 && flags&1 == 0 { // 2, 6: explicit table index
				if _, err := r.uleb(); err != nil {
					return err
				}
			}
			if flags&1 == 0 { // active: an offset expression
				if err := skipExpr(); err != nil {
					return err
				}
			}
			if flags&3 != 0 { // 1, 2, 3, 5, 6, 7: element kind or reference type
				if _, err := r.byte(); err != nil {
					return err
				}
			}
			m, err := count("elements")
			if err != nil {
				return err
			}
			for e := uint64(0); e < m; e++ {
				if flags&4 != 0 {
					err = skipExpr()
				} else {
					_, err = r.uleb()
				}
				if err != nil {
					return err
				}
			}
		}
	case secData:
		for k := uint64(0); k < n; k++ {
			flags, err := r.uleb()
			if err != nil {
				return err
			}
			switch flags {
			case 0:
				err = skipExpr()
			case 1:
			case 2:
				if _, err = r.uleb(); err == nil {
					err = skipExpr()
				}
			default:
				return fmt.Errorf("%w: data segment flags %d", errInstrument, flags)
			}
			if err != nil {
				return err
			}
			m, err := count("data bytes")
			if err != nil {
				return err
			}
			if err := r.skip(int(m)); err != nil {
				return err
			}
		}
	}
	// Other sections: the count check above bounds their one vector
	// (functions, tables, memories, globals, code, tags).
	return nil
}

// validate checks every section of a module the host does not instrument
// (instrument checks them as it goes) and returns it without its name
// section.
func validate(wasm []byte) ([]byte, error) {
	if len(wasm) < 8 {
		return nil, fmt.Errorf("%w: not a valid WASM module", errInstrument)
	}
	out := append([]byte(nil), wasm[:8]...)
	r := &reader{b: wasm, i: 8}
	for r.i < len(wasm) {
		at := r.i
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		n, err := r.uleb()
		if err != nil {
			return nil, err
		}
		if n > uint64(len(wasm)-r.i) {
			return nil, fmt.Errorf("%w: section %d of %d bytes past the module's end", errInstrument, id, n)
		}
		body := wasm[r.i : r.i+int(n)]
		r.i += int(n)
		switch id {
		case secCustom:
			nr := &reader{b: body}
			if l, err := nr.uleb(); err == nil && l == 4 && string(body[nr.i:min(len(body), nr.i+4)]) == "name" {
				continue // see instrument
			}
		case secCode:
			if err := checkLocals(body); err != nil {
				return nil, err
			}
			fallthrough
		default:
			if err := checkVectors(id, body); err != nil {
				return nil, err
			}
		}
		out = append(out, wasm[at:r.i]...)
	}
	return out, nil
}

// checkLocals bounds the locals of every function of a code section.
func checkLocals(body []byte) error {
	r := &reader{b: body}
	n, err := r.uleb()
	if err != nil {
		return err
	}
	for k := uint64(0); k < n; k++ {
		size, err := r.uleb()
		if err != nil {
			return err
		}
		if size > uint64(len(body)-r.i) {
			return fmt.Errorf("%w: function %d of %d bytes", errInstrument, k, size)
		}
		end := r.i + int(size)
		groups, err := r.uleb()
		if err != nil {
			return err
		}
		locals := uint64(0)
		for g := uint64(0); g < groups && r.i < end; g++ {
			c, err := r.uleb()
			if err != nil {
				return err
			}
			if locals += c; locals > maxLocals {
				return fmt.Errorf("%w: function %d declares over %d locals", errInstrument, k, maxLocals)
			}
			if _, err := r.byte(); err != nil {
				return err
			}
		}
		r.i = end
	}
	return nil
}
