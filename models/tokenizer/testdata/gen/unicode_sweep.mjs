// unicode_sweep.mjs asks the Hugging Face tokenizers library (Rust, via
// @anush008/tokenizers) how each of its character-level components treats
// every Unicode scalar value, and writes the answers as JSON to the file named
// by argv[2]. tables/main.go turns them into ../../unicode_tables.go, so the
// Go tokenizer uses the exact Unicode data the reference library was built
// with (its crates pin older Unicode versions than Go's unicode package).
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../../../tools/node/package.json'));
const t = require('@anush008/tokenizers');

const clean = t.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
const bstrip = t.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
const lower = t.lowercase();
const strip = t.stripAccentsNormalizer();
const punct = t.punctuationPreTokenizer();
const wsSplit = t.whitespaceSplitPreTokenizer();
const wordRe = t.whitespacePreTokenizer();
const digits = t.digitsPreTokenizer(true);
const forms = { nfd: t.nfdNormalizer(), nfkd: t.nfkdNormalizer(), nfc: t.nfcNormalizer(), nfkc: t.nfkcNormalizer() };

const out = { cleanRemove: [], space: [], punct: [], word: [], numeric: [], stripMark: [], bertMn: [], lower: [], nfd: [], nfkd: [], nfc: [], nfkc: [] };
const cps = (s) => [...s].map((c) => c.codePointAt(0));
for (let cp = 0; cp <= 0x10ffff; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const s = String.fromCodePoint(cp);
  if (clean.normalizeString(s) === '') out.cleanRemove.push(cp);
  const x = 'a' + s + 'a';
  if (wsSplit.preTokenizeString(x).length === 2) out.space.push(cp);
  if (punct.preTokenizeString(x).length === 3) out.punct.push(cp);
  if (wordRe.preTokenizeString(x).length === 1) out.word.push(cp);
  if (digits.preTokenizeString(x).length === 3) out.numeric.push(cp);
  if (strip.normalizeString(s) === '') out.stripMark.push(cp);
  const l = lower.normalizeString(s);
  if (l !== s) out.lower.push([cp, cps(l)]);
  let nfdSame = true;
  for (const [k, n] of Object.entries(forms)) {
    const o = n.normalizeString(s);
    if (o !== s) {
      out[k].push([cp, cps(o)]);
      if (k === 'nfd') nfdSame = false;
    }
  }
  if (nfdSame && bstrip.normalizeString(s) === '') out.bertMn.push(cp);
}
writeFileSync(process.argv[2], JSON.stringify(out));
