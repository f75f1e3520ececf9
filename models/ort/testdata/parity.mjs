// parity.mjs scores (query, passage) pairs with two independent
// implementations, for models/ort's parity test:
//
//   - token ids from the Hugging Face tokenizers library (Rust, through
//     @anush008/tokenizers), truncated longest-first to --max-length, and
//     cross-checked against transformers.js's own tokenizer for pairs that
//     need no truncation (transformers.js truncates by cutting the tail,
//     which is not what HF does for pairs, so long pairs use the Rust ids);
//   - logits from transformers.js (AutoModelForSequenceClassification on the
//     model folder, fp32 or q8, its bundled onnxruntime-node), one pair per
//     run with no padding.
//
// usage: node parity.mjs --model DIR --pairs IN.jsonl --out OUT.jsonl
//        [--max-length 512] [--dtype fp32|q8] [--threads 1]
// Output: one line per input line: {"ids":[...],"type_ids":[...],
// "tjs_agree":true|false|null,"logit":x}.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
for (const k of ['model', 'pairs', 'out']) {
  if (!args[k]) {
    console.error(`parity.mjs: --${k} is required`);
    process.exit(2);
  }
}
const nodeModules = args['node-modules'] ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../tools/node/node_modules');
const { Tokenizer } = require(path.join(nodeModules, '@anush008/tokenizers'));
const transformers = await import(path.join(nodeModules, '@huggingface/transformers/dist/transformers.node.mjs'));
const { env, AutoModelForSequenceClassification, BertTokenizer, Tensor } = transformers;

const dir = path.resolve(args.model);
const maxLength = Number(args['max-length'] ?? 512);
const dtype = args.dtype ?? 'fp32';
const threads = Number(args.threads ?? 1);

const rust = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
rust.setTruncation(maxLength, { strategy: 'LongestFirst' });

const tokJSON = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
const cfgPath = path.join(dir, 'tokenizer_config.json');
const tokCfg = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {};
const tjsTok = new BertTokenizer(tokJSON, tokCfg);

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(dir) + path.sep;
const model = await AutoModelForSequenceClassification.from_pretrained(path.basename(dir), {
  local_files_only: true,
  dtype,
  session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
});

const lines = fs.readFileSync(args.pairs, 'utf8').split('\n').filter((l) => l.trim() !== '');
const out = [];
const big = (a) => BigInt64Array.from(a.map(BigInt));
for (const line of lines) {
  const { query, passage } = JSON.parse(line);
  const enc = await rust.encode(query, passage);
  const ids = enc.getIds();
  const typeIds = enc.getTypeIds();
  const t = tjsTok(query, { text_pair: passage, return_tensor: false });
  const tjsAgree = t.input_ids.length > maxLength ? null : JSON.stringify(t.input_ids) === JSON.stringify(ids) && JSON.stringify(t.token_type_ids) === JSON.stringify(typeIds);
  const n = ids.length;
  const res = await model({
    input_ids: new Tensor('int64', big(ids), [1, n]),
    attention_mask: new Tensor('int64', big(ids.map(() => 1)), [1, n]),
    token_type_ids: new Tensor('int64', big(typeIds), [1, n]),
  });
  out.push(JSON.stringify({ ids, type_ids: typeIds, tjs_agree: tjsAgree, logit: res.logits.data[0] }));
}
fs.writeFileSync(args.out, out.join('\n') + '\n');
await model.dispose?.();
