// gen.mjs writes the tokenizer's parity goldens: it builds a seeded,
// deterministic corpus of texts and pairs, encodes them with the Hugging
// Face tokenizers library (Rust, via @anush008/tokenizers) under every
// configuration in ../configs and several truncation settings, and writes
// one JSON object per line (gzip) with the ids, type ids and character
// offsets, or the error the library reported.
//
//   node gen.mjs [--out FILE] [--seed N] [--scale F] [--all-offsets]
//
// Defaults: --out ../goldens.jsonl.gz --seed 1 --scale 1. The Go parity
// test reruns it (into a temporary file) whenever node is available.
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '../../../..');
const require = createRequire(path.join(root, 'tools/node/package.json'));
const { Tokenizer } = require('@anush008/tokenizers');

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const out = arg('--out', path.join(here, '../goldens.jsonl.gz'));
const seed = Number(arg('--seed', '1'));
const scale = Number(arg('--scale', '1'));
const allOffsets = args.includes('--all-offsets'); // offsets for every configuration

// mulberry32: a small seeded PRNG so the corpus is the same on every run.
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

export function corpus(seed) {
  const r = rng(seed);
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const pick = (a) => a[Math.floor(r() * a.length)];
  const range = (lo, hi) => String.fromCodePoint(int(lo, hi));
  const words = ('the of and to in is was for that on with as by at from his her it an were are which this be or has had ' +
    'not but also its first new after who their one two they been have more other into all than when during over time ' +
    'city world between only about most team school university game music film season war state county river house ' +
    'search engine ranking passage query relevance model token score document index shard cluster latency throughput ' +
    'unaffable antidisestablishmentarianism tokenization reranker embeddings Elasticsearch OpenSearch Kubernetes ' +
    'Hello World Paris London Tokyo Berlin NASA iPhone McDonald O\'Brien don\'t can\'t it\'s we\'ll e.g. i.e. etc. U.S.A.').split(' ');
  const accented = 'café naïve résumé Ångström façade Øresund straße ŒUVRE coöperate São Paulo Zürich Dvořák Łódź Ærø İstanbul ışık ΣΊΣΥΦΟΣ Ελληνικά ĳssel ﬁnance Ⅻ ½ ² ﬀ Ǆ ǅ'.split(' ');
  const scripts = [
    () => range(0x4e00, 0x9fff), // CJK
    () => range(0x3400, 0x4dbf),
    () => range(0x3040, 0x30ff), // kana
    () => range(0xff61, 0xff9f), // half-width kana
    () => range(0xac00, 0xd7a3), // Hangul syllables
    () => range(0x1100, 0x11ff), // Hangul jamo
    () => range(0x0600, 0x06ff), // Arabic
    () => range(0x0590, 0x05ff), // Hebrew
    () => range(0x0900, 0x097f), // Devanagari
    () => range(0x0e00, 0x0e7f), // Thai
    () => range(0x0400, 0x04ff), // Cyrillic
    () => range(0x0370, 0x03ff), // Greek
    () => range(0x00c0, 0x024f), // Latin-1 / Extended
    () => range(0x1e00, 0x1eff), // Latin Extended Additional
  ];
  const emoji = ['👨‍👩‍👧‍👦', '👩🏽‍💻', '👍🏽', '👍🏿', '🇫🇷', '🇯🇵', '🏳️‍🌈', '1️⃣', '❤️', '😀', '🥰', '🫠', '🧑‍🚀', '🤷‍♀️', '✈︎', '©', '™'];
  const marks = () => range(0x0300, 0x036f);
  const controls = ['\u0000', '\u0001', '\u0007', '\u0008', '\t', '\n', '\r', '\u000b', '\u000c', '\u001b', '\u001f', '\u007f', '\u0085', '\u0090', '\u00ad', '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2060', '\ufeff', '\ufffd', '\ue000', '\u{f0000}', '\u061c'];
  const spaces = [' ', '  ', '\u00a0', '\u1680', '\u2000', '\u2003', '\u2007', '\u2009', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\t\t', '\n\n', '\r\n'];
  const specials = ['[CLS]', '[SEP]', '[PAD]', '[MASK]', '[UNK]', '[cls]', '[ SEP]', '[[SEP]]', 'x[SEP]y', '[SEP][SEP]', '<ent>', ' <ent> ', 'New York', 'new yorker', 'ⅲ', 'Ⅲ', "''", '[MASK ]'];
  const urls = () => pick(['https://example.com/path?q=a+b&x=1#frag', 'http://www.Example.org/~user/index.html', 'ftp://files.example.net/a_b-c.tar.gz', 'mailto:someone@example.com', 'https://ja.wikipedia.org/wiki/東京都', 'www.test.co.uk:8080/x']) ;
  const code = () => pick(['func main() { fmt.Println("hi") }', 'if (a[i] >= b->c && x != 0) return -1;', 'SELECT * FROM t WHERE id = 42;', '<div class="x">&amp;</div>', 'x += y ** 2 // comment', '#include <stdio.h>', '$HOME/.config/{a,b}', 'a_b_c __init__ self.__dict__', '{"key": [1, 2.5, -3e10, null]}']);
  const number = () => pick([() => String(int(0, 1e9)), () => (r() * 1e6).toFixed(int(0, 6)), () => '-' + int(1, 999), () => int(1, 99) + '%', () => '1,234,567.89', () => '٣٤٥', () => '१२३', () => '１２３', () => '3.14e-10', () => '0x1F'])();
  const longWord = () => {
    let s = '';
    const n = int(90, 140);
    for (let i = 0; i < n; i++) s += pick(['a', 'b', 'c', 'é', 'z', 'q', '日']);
    return s;
  };
  const anyChar = () => {
    for (;;) {
      const cp = int(0, 0x10ffff);
      if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp);
    }
  };
  const bmpChar = () => {
    for (;;) {
      const cp = int(0, 0xffff);
      if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp);
    }
  };
  const token = () => {
    const k = r();
    if (k < 0.45) return pick(words);
    if (k < 0.52) return pick(accented);
    if (k < 0.62) {
      const f = pick(scripts);
      let s = '';
      for (let i = int(1, 6); i > 0; i--) s += f();
      return s;
    }
    if (k < 0.66) return pick(emoji);
    if (k < 0.69) return pick(words) + marks() + (r() < 0.3 ? marks() : '');
    if (k < 0.72) return pick(controls);
    if (k < 0.74) return pick(specials);
    if (k < 0.76) return urls();
    if (k < 0.78) return code();
    if (k < 0.82) return number();
    if (k < 0.83) return longWord();
    if (k < 0.87) return pick(['.', ',', '!', '?', ';', ':', '"', "'", '(', ')', '-', '—', '…', '«', '»', '„', '“', '”', '¿', '¡', '$', '€', '+', '=', '^', '`', '|', '~', '<', '>', '@', '#', '%', '&', '*', '_', '/', '\\', '、', '。', '「', '」']);
    if (k < 0.9) return bmpChar();
    if (k < 0.92) return anyChar();
    return pick(words).toUpperCase();
  };
  const text = (nmin, nmax) => {
    const n = int(nmin, nmax);
    let s = '';
    for (let i = 0; i < n; i++) {
      if (i > 0) s += r() < 0.9 ? ' ' : pick(spaces);
      s += token();
      if (r() < 0.08) s += pick(['.', ',', '!', '?']);
    }
    return s;
  };
  const fixed = ['', ' ', '   ', '\t\n', '\u00a0\u3000', '\u200b', '[CLS]', '[SEP] [SEP]', 'a', '.', 'Hello, World!', '東京', 'ß', 'İ', 'ﬁ', longWord(), '👨‍👩‍👧‍👦', 'e\u0301', '\u0301', '한국어', 'ไทย', 'हिन्दी', 'العربية', 'עברית'];
  const single = (i) => {
    if (i < fixed.length) return fixed[i];
    const k = r();
    if (k < 0.1) return text(0, 3);
    if (k < 0.65) return text(4, 40);
    if (k < 0.95) return text(40, 150);
    return text(150, 500);
  };
  const pair = () => {
    const k = r();
    if (k < 0.1) return [text(0, 2), text(0, 5)];
    if (k < 0.8) return [text(3, 15), text(20, 100)];
    if (k < 0.92) return [text(3, 15), text(100, 450)];
    return [text(30, 300), text(5, 200)]; // long query
  };
  return { single, pair };
}

const truncations = [{ file: true }, { none: true }];
for (const max of [32, 128, 512]) {
  for (const strategy of ['LongestFirst', 'OnlyFirst', 'OnlySecond']) {
    for (const direction of ['Right', 'Left']) truncations.push({ max, strategy, direction });
  }
}

function loadConfig(name) {
  const c = JSON.parse(readFileSync(path.join(here, '../configs', name), 'utf8'));
  const basePath = c.base === 'labse' ? path.join(here, '../labse.json') : path.join(root, 'internal/assets/bert-base-uncased.json');
  const base = JSON.parse(readFileSync(basePath, 'utf8'));
  Object.assign(base, c.override || {});
  Object.assign(base.model, c.model_patch || {});
  return { c, json: JSON.stringify(base) };
}

async function main() {
  const lines = [];
  const names = readdirSync(path.join(here, '../configs')).filter((n) => n.endsWith('.json')).sort();
  let ci = 0;
  for (const name of names) {
    ci++;
    const { c, json } = loadConfig(name);
    const tk = Tokenizer.fromString(json);
    tk.disablePadding();
    const { single, pair } = corpus(seed * 1000 + ci);
    const cfg = name.replace(/\.json$/, '');
    const fileTrunc = JSON.parse(json).truncation;
    // Inputs grouped by truncation setting, encoded a group at a time.
    const groups = new Map();
    const add = (t, a, b) => {
      if (!groups.has(t)) groups.set(t, []);
      const rec = { cfg, trunc: null, text: a };
      if (b !== undefined) rec.pair = b;
      groups.get(t).push(rec);
    };
    const ns = Math.round(c.singles * scale);
    const np = Math.round(c.pairs * scale);
    for (let i = 0; i < ns; i++) {
      // singles: only_second needs a pair, so it gets one setting in ten
      let t = c.file_truncation ? 0 : (i * 7) % truncations.length;
      if (truncations[t].strategy === 'OnlySecond' && i % 10 !== 0) t = (t + 2) % truncations.length;
      add(t, single(i));
    }
    for (let i = 0; i < np; i++) {
      const [q, p] = pair();
      add(c.file_truncation ? 0 : (i * 7 + 3) % truncations.length, q, p);
    }
    for (const [t, recs] of [...groups.entries()].sort((x, y) => x[0] - y[0])) {
      const tr = truncations[t];
      if (tr.none) tk.disableTruncation();
      else if (tr.file) {
        if (fileTrunc) tk.setTruncation(fileTrunc.max_length, { strategy: fileTrunc.strategy, direction: fileTrunc.direction.toLowerCase() });
        else tk.disableTruncation();
      } else tk.setTruncation(tr.max, { strategy: tr.strategy, direction: tr.direction.toLowerCase() });
      const fill = (rec, e) => {
        rec.trunc = tr.file ? 'file' : tr.none ? null : [tr.max, tr.strategy, tr.direction];
        rec.ids = e.getIds();
        rec.type_ids = e.getTypeIds();
        // offsets (characters, flattened) for the BERT configurations only, to keep the file small
        if (c.offsets || allOffsets) rec.offsets = e.getOffsets().flat();
      };
      let encs = null;
      try {
        encs = await tk.encodeBatch(recs.map((x) => (x.pair === undefined ? x.text : [x.text, x.pair])));
      } catch {
        encs = null; // some input fails: encode one by one to record which
      }
      for (let i = 0; i < recs.length; i++) {
        const rec = recs[i];
        if (encs) {
          fill(rec, encs[i]);
        } else {
          try {
            fill(rec, await tk.encode(rec.text, rec.pair === undefined ? null : rec.pair));
          } catch (err) {
            rec.trunc = tr.file ? 'file' : tr.none ? null : [tr.max, tr.strategy, tr.direction];
            rec.error = String(err.message || err);
          }
        }
        lines.push(JSON.stringify(rec));
      }
    }
  }
  writeFileSync(out, gzipSync(lines.join('\n') + '\n', { level: 9 }));
  console.error(`wrote ${lines.length} records to ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await main();
}
