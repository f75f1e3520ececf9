//go:build wasip1

// Command hostfns is a test plugin on the Go SDK that exercises the host
// functions: its query stage answers "count=N words=W ids=I,J,..." for the
// query and logs the query at warn level.
package main

import (
	"strconv"

	"github.com/crossrank/crossrank/plugins/abi"
	"github.com/crossrank/crossrank/sdk/go/crossrankplugin"
)

func main() {}

func init() {
	crossrankplugin.Register(crossrankplugin.Plugin{
		Query: func(dst, q []byte) ([]byte, error) {
			crossrankplugin.Log(abi.LogWarn, "query: "+string(q))
			dst = append(dst, "count="...)
			dst = strconv.AppendInt(dst, int64(crossrankplugin.CountTokens(q)), 10)
			dst = append(dst, " words="...)
			dst = strconv.AppendInt(dst, int64(len(crossrankplugin.WordTokens(q, 0))), 10)
			dst = append(dst, " ids="...)
			ids, ok := crossrankplugin.Tokenize(q)
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
