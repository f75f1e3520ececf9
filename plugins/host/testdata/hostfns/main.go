//go:build wasip1

// Command hostfns is a test plugin on the Go SDK that exercises the host
// functions: its query stage answers "count=N words=W ids=I,J,..." for the
// query and logs the query at warn level.
package main

import (
	"strconv"

	"github.com/crossrank/crossrank/plugins/abi"
	plugin "github.com/crossrank/crossrank/sdk/go"
)

func main() {}

func init() {
	plugin.Register(plugin.Plugin{
		Query: func(dst, q []byte) ([]byte, error) {
			plugin.Log(abi.LogWarn, "query: "+string(q))
			dst = append(dst, "count="...)
			dst = strconv.AppendInt(dst, int64(plugin.CountTokens(q)), 10)
			dst = append(dst, " words="...)
			dst = strconv.AppendInt(dst, int64(len(plugin.WordTokens(q, 0))), 10)
			dst = append(dst, " ids="...)
			ids, ok := plugin.Tokenize(q)
			if !ok {
				return append(dst, "none"...), nil
			}
			for i, id := range ids {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendInt(dst, int64(id), 10)
			}
			return dst, nil
		},
	})
}
