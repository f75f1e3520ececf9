// Package assets embeds the data files the project ships with its source:
// the bert-base-uncased tokenizer.json (from the Hugging Face
// bert-base-uncased repository, Apache-2.0) used by the shape twin and the
// tokenizer tests.
package assets

import _ "embed"

//go:embed bert-base-uncased.json
var bertBaseUncased []byte

// BertBaseUncasedTokenizer returns a copy of the bert-base-uncased
// tokenizer.json, byte for byte as shipped (its truncation is null).
func BertBaseUncasedTokenizer() []byte {
	return append([]byte(nil), bertBaseUncased...)
}
