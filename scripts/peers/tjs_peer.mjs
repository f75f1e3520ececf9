// tjs_peer.mjs scores bench requests with transformers.js (its bundled
// onnxruntime-node, CPU), one request = one padded batch, and reports each
// request's latency (tokenize + inference), for `make bench-peers`.
//
// usage: node tjs_peer.mjs --model DIR --requests REQ.jsonl --out OUT.json
//        [--threads 2] [--warmup 2] [--max-length 512]
import fs from 'node:fs';
import path from 'node:path';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
for (const k of ['model', 'requests', 'out']) {
  if (!args[k]) {
    console.error(`tjs_peer.mjs: --${k} is required`);
    process.exit(2);
  }
}
const here = path.dirname(new URL(import.meta.url).pathname);
const nodeModules = args['node-modules'] ?? path.resolve(here, '../../tools/node/node_modules');
const { env, AutoModelForSequenceClassification, BertTokenizer } = await import(
  path.join(nodeModules, '@huggingface/transformers/dist/transformers.node.mjs')
);

const dir = path.resolve(args.model);
const threads = Number(args.threads ?? 2);
const warmup = Number(args.warmup ?? 2);
const maxLength = Number(args['max-length'] ?? 512);

const tokJSON = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
const cfgPath = path.join(dir, 'tokenizer_config.json');
// The twin ships no tokenizer_config.json: give transformers.js BERT's
// special tokens (it pads with pad_token_id) and the model's maximum length.
const tokCfg = {
  pad_token: '[PAD]', cls_token: '[CLS]', sep_token: '[SEP]', unk_token: '[UNK]', mask_token: '[MASK]',
  model_max_length: maxLength,
  ...(fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {}),
};
const tok = new BertTokenizer(tokJSON, tokCfg);

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(dir) + path.sep;
const model = await AutoModelForSequenceClassification.from_pretrained(path.basename(dir), {
  local_files_only: true,
  dtype: 'fp32',
  session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
});

const reqs = fs
  .readFileSync(args.requests, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l));

async function score(r) {
  const docs = r.documents.map((d) => (typeof d === 'string' ? d : d.text));
  const inputs = tok(Array(docs.length).fill(r.query), {
    text_pair: docs,
    padding: true,
    truncation: true,
    max_length: maxLength,
  });
  const out = await model(inputs);
  return Array.from(out.logits.data);
}

for (let i = 0; i < Math.min(warmup, reqs.length); i++) await score(reqs[i]);
const latencies = [];
let firstLogits = null;
const t0 = process.hrtime.bigint();
for (const r of reqs) {
  const s = process.hrtime.bigint();
  const logits = await score(r);
  latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
  if (firstLogits === null) firstLogits = logits;
}
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
fs.writeFileSync(
  args.out,
  JSON.stringify({ peer: 'transformers.js', threads, wall_s: wall, pairs: reqs.reduce((a, r) => a + r.documents.length, 0), latencies_ms: latencies, first_logits: firstLogits }),
);
await model.dispose?.();
