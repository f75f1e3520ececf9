// bench.mjs: the tokenizer benchmark's corpus and the Rust library's side
// of the comparison.
//
//   node bench.mjs write          writes ../bench_pairs.jsonl (seeded)
//   node bench.mjs time [ROUNDS] [TOKENIZER.json...]
//                                 times encodeBatch on that corpus inside Node
//                                 (default: bert-base-uncased; one line each)
//
// Run `time` with RAYON_NUM_THREADS=1 for a one-core figure (the library
// parallelises encodeBatch over all cores otherwise); `make tokenizer-bench`
// does both sides.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '../../../..');
const corpusPath = path.join(here, '../bench_pairs.jsonl');

function rng(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function write() {
  const r = rng(2024);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const words = ('the of and to in is was for that on with as by at from his her it an were are which this be or has had not but ' +
    'also its first new after who their one two they been have more other into all than when during over time city world between ' +
    'only about most team school university game music film season war state county river house search engine ranking passage ' +
    'query relevance model document index cluster latency throughput population capital president government company history ' +
    'located national american largest average temperature symptoms treatment definition cost salary calories protein vitamin ' +
    'Paris London Tokyo Berlin NASA Kubernetes Elasticsearch résumé café 2019 1,500 $20 3.5% don\'t it\'s U.S.').split(' ');
  const sentence = (n) => {
    let s = '';
    for (let i = 0; i < n; i++) {
      let w = pick(words);
      if (i === 0) w = w[0].toUpperCase() + w.slice(1);
      s += (i ? ' ' : '') + w;
      if (i < n - 1 && r() < 0.06) s += ',';
    }
    return s;
  };
  const lines = [];
  for (let i = 0; i < 256; i++) {
    const query = sentence(8).toLowerCase() + (r() < 0.5 ? '?' : '');
    let passage = '';
    let left = 60;
    while (left > 0) {
      const n = Math.min(left, 8 + Math.floor(r() * 12));
      passage += (passage ? ' ' : '') + sentence(n) + '.';
      left -= n;
    }
    lines.push(JSON.stringify({ query, passage }));
  }
  writeFileSync(corpusPath, lines.join('\n') + '\n');
}

async function time(rounds, file) {
  const require = createRequire(path.join(root, 'tools/node/package.json'));
  const { Tokenizer } = require('@anush008/tokenizers');
  const tk = Tokenizer.fromFile(file);
  tk.disablePadding();
  tk.setTruncation(512, { strategy: 'LongestFirst', direction: 'right' });
  const pairs = readFileSync(corpusPath, 'utf8').trim().split('\n').map((l) => {
    const o = JSON.parse(l);
    return [o.query, o.passage];
  });
  // This binding's encodeBatch takes single texts only (Vec<String>), so the
  // batch timing encodes each pair's query and passage as two texts: the
  // same normalization, pre-tokenization and WordPiece work, minus the pair
  // template. encode(query, passage) one pair at a time is timed as well.
  const flat = pairs.flat();
  let tokens = 0;
  for (const [q, p] of pairs) tokens += (await tk.encode(q, p)).getLength();
  for (let i = 0; i < 20; i++) await tk.encodeBatch(flat); // warm-up
  const median = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const batch = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    await tk.encodeBatch(flat);
    batch.push(Number(process.hrtime.bigint() - t0) / 1000 / pairs.length);
  }
  const cpu = process.cpuUsage(cpu0); // whole process, all threads: the one-core cost on a shared machine
  const cpuPerPair = (cpu.user + cpu.system) / (rounds * pairs.length);
  const single = [];
  for (let i = 0; i < Math.max(3, rounds / 10); i++) {
    const t0 = process.hrtime.bigint();
    for (const [q, p] of pairs) await tk.encode(q, p);
    single.push(Number(process.hrtime.bigint() - t0) / 1000 / pairs.length);
  }
  const mb = median(batch);
  console.log(JSON.stringify({
    library: 'tokenizers 0.22 (Rust) via @anush008/tokenizers',
    tokenizer: path.relative(root, file),
    rayon_threads: process.env.RAYON_NUM_THREADS || 'default',
    pairs: pairs.length, rounds, tokens_per_pair: tokens / pairs.length,
    encodeBatch_us_per_pair_median: +mb.toFixed(3),
    encodeBatch_cpu_us_per_pair: +cpuPerPair.toFixed(3),
    encodeBatch_tokens_per_s_median: Math.round((tokens / pairs.length) / mb * 1e6),
    encode_pair_us_per_pair_median: +median(single).toFixed(3),
  }));
}

const [cmd, n, ...files] = process.argv.slice(2);
if (cmd === 'write') write();
else if (cmd === 'time') {
  for (const f of files.length ? files : [path.join(root, 'internal/assets/bert-base-uncased.json')]) {
    await time(Number(n || 200), path.resolve(f));
  }
}
else {
  console.error('usage: node bench.mjs write | time [ROUNDS]');
  process.exit(2);
}
