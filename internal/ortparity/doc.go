// Package parity holds the end-to-end parity tests of crossrank's scoring
// path (models/tokenizer + models/ort) against independent implementations:
// the Hugging Face tokenizers library (Rust, via node) for token ids and
// transformers.js for logits, driven by ../testdata/parity.mjs. It has no
// non-test code; it is a separate package so the backend's own tests and
// benchmarks do not depend on the tokenizer.
package parity
