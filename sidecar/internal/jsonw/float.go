package jsonw

import (
	"math"
	"strconv"
)

// AppendFloat appends f as a JSON number that always reads back as a float:
// the shortest decimal that round-trips, with ".0" added when it would
// otherwise look like an integer (1 → 1.0), and no exponent. Clients such as
// OpenSearch's cohere post-process function cast relevance_score to a double
// and fail on an integer. NaN and infinities are not JSON: they are written as
// null, and callers reject them before encoding.
func AppendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// AppendFloat32 is AppendFloat for a float32, using the shortest decimal that
// round-trips through float32 (so a logit 0.1f reads "0.1", not
// "0.10000000149011612").
func AppendFloat32(dst []byte, f float32) []byte {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return append(dst, "null"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, float64(f), 'f', -1, 32)
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}
