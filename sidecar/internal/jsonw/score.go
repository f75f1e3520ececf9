package jsonw

import "strconv"

// MaxScoreLen is the longest number OpenSearch ML Commons reads back as a
// double. Its JSON reader (json-smart) turns a decimal longer than 18
// characters into a BigDecimal, and the connector.post_process.cohere.rerank
// function then fails casting relevance_score to Double (checked against
// OpenSearch 2.19.6; see examples/opensearch).
const MaxScoreLen = 18

// AppendScore is AppendFloat for numbers that OpenSearch's ML connectors
// read (relevance_score): at most MaxScoreLen characters, always with a
// fraction or an exponent. It keeps AppendFloat's shortest round-trip form
// when that fits, and otherwise the most significant digits that fit
// (15 or more for scores in (0, 1)), in exponent form where that is shorter.
func AppendScore(dst []byte, f float64) []byte {
	start := len(dst)
	dst = AppendFloat(dst, f)
	if len(dst)-start <= MaxScoreLen {
		return dst
	}
	for prec := 16; prec > 0; prec-- {
		dst = strconv.AppendFloat(dst[:start], f, 'g', prec, 64)
		frac := false
		for _, c := range dst[start:] {
			if c == '.' || c == 'e' {
				frac = true
			}
		}
		if !frac {
			dst = append(dst, ".0"...)
		}
		if len(dst)-start <= MaxScoreLen {
			return dst
		}
	}
	return dst
}
