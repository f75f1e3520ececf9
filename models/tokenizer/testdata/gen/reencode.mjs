// reencode.mjs re-encodes the inputs of the tokenizer families' goldens
// (written by py/families.py with PyPI tokenizers) with the Node binding of
// the same Rust library, so `make test` checks the committed goldens against
// a live reference without a Python environment.
//
//   node reencode.mjs [--every N] OUT.jsonl.gz GOLDENS.jsonl.gz...
//
// --every N keeps one record in N (the first of each N), for a quicker check.
// Each record keeps cfg, trunc, text and pair; ids, type_ids and offsets
// (characters, flattened) or error are the Node binding's.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '../../../..');
const famDir = path.join(here, '../families');
const require = createRequire(path.join(root, 'tools/node/package.json'));
const { Tokenizer } = require('@anush008/tokenizers');

let argv = process.argv.slice(2);
let every = 1;
if (argv[0] === '--every') {
  every = Number(argv[1]);
  argv = argv.slice(2);
}
const [out, ...inputs] = argv;
if (!out || inputs.length === 0) {
  console.error('usage: node reencode.mjs OUT.jsonl.gz GOLDENS.jsonl.gz...');
  process.exit(2);
}

function configJSON(name) {
  const c = JSON.parse(readFileSync(path.join(famDir, 'configs', name + '.json'), 'utf8'));
  const base = JSON.parse(readFileSync(path.join(famDir, c.base, 'tokenizer.json'), 'utf8'));
  Object.assign(base, c.override || {});
  Object.assign(base.model, c.model_patch || {});
  return JSON.stringify(base);
}

const strategies = { longest_first: 'LongestFirst', only_first: 'OnlyFirst', only_second: 'OnlySecond' };
const toks = new Map();
const lines = [];
for (const file of inputs) {
  const recs = gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n')
    .filter((_, i) => i % every === 0).map((l) => JSON.parse(l));
  // consecutive records with the same configuration and truncation go in one batch
  for (let i = 0; i < recs.length;) {
    let j = i;
    const key = (r) => r.cfg + JSON.stringify(r.trunc);
    while (j < recs.length && key(recs[j]) === key(recs[i])) j++;
    const group = recs.slice(i, j);
    i = j;
    const { cfg, trunc } = group[0];
    if (!toks.has(cfg)) {
      const tk = Tokenizer.fromString(configJSON(cfg));
      tk.disablePadding();
      toks.set(cfg, tk);
    }
    const tk = toks.get(cfg);
    if (trunc) tk.setTruncation(trunc[0], { strategy: strategies[trunc[1]], direction: trunc[2] });
    else tk.disableTruncation();
    const inputsOf = group.map((r) => (r.pair === undefined ? r.text : [r.text, r.pair]));
    let encs = null;
    try {
      encs = await tk.encodeBatch(inputsOf);
    } catch {
      encs = null; // one input fails: encode one by one to record which
    }
    for (let k = 0; k < group.length; k++) {
      const r = group[k];
      const rec = { cfg, trunc, text: r.text };
      if (r.pair !== undefined) rec.pair = r.pair;
      try {
        const e = encs ? encs[k] : await tk.encode(r.text, r.pair === undefined ? null : r.pair);
        rec.ids = e.getIds();
        rec.type_ids = e.getTypeIds();
        rec.offsets = e.getOffsets().flat();
      } catch (err) {
        rec.error = String(err.message || err);
      }
      lines.push(JSON.stringify(rec));
    }
  }
}
writeFileSync(out, gzipSync(lines.join('\n') + '\n', { level: 1 }));
console.error(`re-encoded ${lines.length} records into ${out}`);
