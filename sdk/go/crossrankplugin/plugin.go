// Package crossrankplugin is the Go SDK for crossrank plugins: WASM modules built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o NAME.wasm .
//
// A plugin's main package calls Register from an init function with the
// handlers of the stages it implements and has an empty main. The SDK
// provides the exports of the crossrank plugin ABI (sdk/ABI.md) with
// reused buffers, so a steady stream of calls allocates little in the guest,
// and wraps the host functions (CountTokens, WordTokens, Tokenize, Log).
//
// Handlers append their result to dst and return it, the way strconv's
// Append functions do; query, doc and passage alias the host's request and
// are valid only during the call.
package crossrankplugin

import (
	"encoding/binary"
	"fmt"

	"github.com/crossrank/crossrank/plugins/abi"
)

// Doc is one document as the passage stage sees it: UTF-8 text, or the JSON
// value (usually an object) the client sent.
type Doc struct {
	JSON bool
	Data []byte
}

// Plugin holds a plugin's handlers. A nil handler means the plugin does not
// implement that stage.
type Plugin struct {
	// Configure receives the pipeline step's config as JSON ("{}" when none)
	// once per instance, before any other call. An error fails the load.
	Configure func(config []byte) error
	// Query rewrites the query.
	Query func(dst, query []byte) ([]byte, error)
	// Passage turns one document into passage text. JSON documents reach it
	// only if AcceptJSON is set; otherwise they pass through unchanged.
	Passage    func(dst, query []byte, doc Doc) ([]byte, error)
	AcceptJSON bool
	// Truncate cuts one passage to maxTokens tokens of the serving model
	// (0: the request set no budget).
	Truncate func(dst, query, passage []byte, maxTokens int) ([]byte, error)
}

// Stages returns the ABI stage bit set of the handlers that are set.
func (p *Plugin) Stages() uint32 {
	var s abi.Stage
	if p.Query != nil {
		s |= abi.StageQuery
	}
	if p.Passage != nil {
		s |= abi.StagePassage
	}
	if p.Truncate != nil {
		s |= abi.StageTruncate
	}
	return uint32(s)
}

// Runner decodes requests and encodes responses for a Plugin, reusing its
// buffers between calls. The wasm exports use one Runner; it is exported so
// that a plugin's logic can be exercised natively too.
type Runner struct {
	P   *Plugin
	req abi.Request
	out []byte
}

// Configure runs the Configure handler and returns the encoded response.
func (r *Runner) Configure(config []byte) []byte {
	r.out = r.out[:0]
	if r.P == nil {
		r.out = abi.AppendError(r.out, "plugin: Register was not called")
		return r.out
	}
	if r.P.Configure != nil {
		if err := r.P.Configure(config); err != nil {
			r.out = abi.AppendError(r.out, "config: "+err.Error())
			return r.out
		}
	}
	r.out = append(r.out, abi.StatusOK)
	return r.out
}

// Run handles one stage call on an encoded request and returns the encoded
// response, which stays valid until the next call.
func (r *Runner) Run(stage uint32, in []byte) []byte {
	out, err := r.run(abi.Stage(stage), in, r.out[:0])
	if err != nil {
		out = abi.AppendError(r.out[:0], err.Error())
	}
	r.out = out
	return out
}

func (r *Runner) run(stage abi.Stage, in, out []byte) ([]byte, error) {
	if r.P == nil {
		return out, fmt.Errorf("plugin: Register was not called")
	}
	if err := abi.DecodeRequest(in, &r.req); err != nil {
		return out, fmt.Errorf("plugin: %w", err)
	}
	q := r.req.Query
	out = append(out, abi.StatusOK)
	if stage == abi.StageQuery {
		if r.P.Query == nil {
			return out, fmt.Errorf("plugin: no query stage")
		}
		lenAt := len(out)
		out = append(out, 0, 0, 0, 0)
		var err error
		out, err = r.P.Query(out, q)
		if err != nil {
			return out, err
		}
		binary.LittleEndian.PutUint32(out[lenAt:], uint32(len(out)-lenAt-4))
		return binary.LittleEndian.AppendUint32(out, 0), nil
	}
	out = binary.LittleEndian.AppendUint32(out, 0) // query unchanged
	out = binary.LittleEndian.AppendUint32(out, uint32(len(r.req.Items)))
	for i, it := range r.req.Items {
		pass := false
		switch stage {
		case abi.StagePassage:
			if r.P.Passage == nil {
				return out, fmt.Errorf("plugin: no passage stage")
			}
			pass = it.Kind == abi.KindJSON && !r.P.AcceptJSON
		case abi.StageTruncate:
			if r.P.Truncate == nil {
				return out, fmt.Errorf("plugin: no truncate stage")
			}
			pass = it.Kind == abi.KindJSON
		default:
			return out, fmt.Errorf("plugin: unknown stage %d", stage)
		}
		if pass {
			out = append(out, byte(it.Kind))
			out = binary.LittleEndian.AppendUint32(out, uint32(len(it.Data)))
			out = append(out, it.Data...)
			continue
		}
		out = append(out, byte(abi.KindText), 0, 0, 0, 0)
		start := len(out)
		var err error
		if stage == abi.StagePassage {
			out, err = r.P.Passage(out, q, Doc{JSON: it.Kind == abi.KindJSON, Data: it.Data})
		} else {
			out, err = r.P.Truncate(out, q, it.Data, r.req.MaxTokens)
		}
		if err != nil {
			return out, fmt.Errorf("document %d: %w", i, err)
		}
		binary.LittleEndian.PutUint32(out[start-4:], uint32(len(out)-start))
	}
	return out, nil
}

// Word is one whitespace-separated word of a text with its token count, as
// WordTokens returns it: text[Start:End] has Tokens word pieces.
type Word struct {
	Start, End, Tokens uint32
}
