"""Tokenizer families' parity data: tiny tokenizers trained with the
reference libraries, and goldens encoded with the Hugging Face tokenizers
library (Rust, PyPI `tokenizers`).

    python families.py train   OUT_DIR        # OUT_DIR/FAMILY/tokenizer.json (+ tokenizer_config.json)
    python families.py goldens FAM_DIR OUT_DIR [SEED [SCALE]]  # goldens-FAMILY.jsonl.gz
    python families.py bench   ROUNDS FILE... # time encode_batch on testdata/bench_pairs.jsonl
    python families.py corpus  SEED           # print the training corpus (debug)

`make tokenizer-families` runs both with the versions pinned in
requirements.txt (venv .cache/venv-tokenizers); every random choice comes
from random.Random with the seeds below, SentencePiece trains with one
thread on an unshuffled corpus, so reruns give the same files.

Families (the models and components of the rerankers listed in issue 12):

  xlmr       SentencePiece Unigram (nmt_nfkc), no byte fallback, converted
             by transformers' XLMRobertaConverter (bge-reranker-*, jina v2,
             mmarco-mMiniLMv2).
  deberta    SentencePiece Unigram (nmt_nfkc) with byte fallback, converted
             by transformers' DebertaV2Converter with its
             handle_byte_fallback switch on (mxbai-rerank-*).
  roberta    byte-level BPE trained by `tokenizers`, RobertaProcessing
             (trim_offsets, add_prefix_space) (cross-encoder/*-roberta-*).
  modernbert byte-level BPE, ByteLevel without prefix space, NFC,
             TemplateProcessing [CLS] A [SEP] B [SEP] (gte-reranker-modernbert).

Variants (configs/*.json: a family's file with blocks replaced) cover the
options the families do not use: Metaspace prepend schemes and split,
Split behaviours and invert, BPE prefixes/suffixes/byte fallback/
ignore_merges/fuse_unk, WordLevel, ByteLevel post-processing in a Sequence.
"""

import gzip
import json
import os
import random
import sys
import tempfile

TRAIN_SEED = 20261202
GOLDEN_SEED = 12

WORDS = (
    "the of and to in is was for that on with as by at from his her it an were are which this be or has had not but "
    "also its first new after who their one two they been have more other into all than when during over time city "
    "world between only about most team school university game music film season war state county river house search "
    "engine ranking passage query relevance model token score document index shard cluster latency throughput "
    "unaffable tokenization reranker embeddings Elasticsearch OpenSearch Kubernetes Hello World Paris London Tokyo "
    "Berlin NASA iPhone McDonald O'Brien don't can't it's we'll I'm they're you've e.g. i.e. etc. U.S.A."
).split()
LATIN = ("café naïve résumé Ångström façade Øresund straße ŒUVRE coöperate São Paulo Zürich Dvořák Łódź Ærø "
         "İstanbul ışık ΣΊΣΥΦΟΣ Ελληνικά ĳssel ﬁnance ﬂuffy Ⅻ ½ ² ﬀ Ǆ ǅ ŉ ǰ ẞ Ĳ ℌ ℡ ㎏ ㍿ ﬃ").split()
FOREIGN = [
    "東京都は日本の首都です", "北京大学", "中华人民共和国", "漢字仮名交じり文", "ひらがな", "カタカナ", "ｶﾀｶﾅ",
    "한국어 문장입니다", "서울특별시", "العربية لغة جميلة", "مرحبا بالعالم", "السلام عليكم",
    "हिन्दी भाषा", "नमस्ते दुनिया", "संस्कृतम्", "ภาษาไทย", "Русский язык", "Україна", "עברית",
    "Ελληνικά γράμματα", "ქართული", "Հայերեն", "বাংলা", "தமிழ்",
]
EMOJI = ["👨‍👩‍👧‍👦", "👩🏽‍💻", "👍🏽", "👍🏿", "🇫🇷", "🇯🇵", "🏳️‍🌈", "1️⃣", "❤️", "😀", "🥰", "🫠", "🧑‍🚀", "🤷‍♀️", "✈︎", "©", "™", "🧑🏻‍🤝‍🧑🏿"]
FULLWIDTH = ["ＡＢＣ", "ｈｅｌｌｏ", "１２３", "！？", "（テスト）", "＄１００", "　", "ｗｏｒｌｄ"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\t", "\n", "\r", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x90",
            "\xad", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\ufffd", "\ue000",
            "\U000f0000", "\u061c", "\u202e", "\u2028", "\u3000", "\xa0"]
SPACES = [" ", "  ", "   ", "\xa0", "\u2003", "\u3000", "\t", "\n", "\r\n", " \t "]
SPECIALS = ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "<0x41>", "<0xE2>",
            "▁", "▁▁", "Ġ", "##ing", "</w>", "<s >", " <mask> ", "x<mask>y", "<|endoftext|>", "`` quoted ''", "``", "''"]
PUNCT = list(".,!?;:\"'()-—…«»„“”¿¡$€+=^`|~<>@#%&*_/\\、。「」")
NUMBERS = ["0", "7", "42", "2019", "1,500", "3.14159", "-273.15", "1e10", "0x1F", "99%", "٣٤٥", "१२३", "１２３", "½", "Ⅻ",
           "12:30", "+1-555-0100"]


def make_corpus(seed):
    """Returns single(i) and pair() drawing texts from random.Random(seed)."""
    r = random.Random(seed)

    def long_word():
        return "".join(r.choice("abcdefghijklmnopqrstuvwxyzé日") for _ in range(r.randint(60, 160)))

    def any_char():
        while True:
            cp = r.randint(0, 0x10FFFF)
            if not 0xD800 <= cp <= 0xDFFF:
                return chr(cp)

    def bmp_char():
        while True:
            cp = r.randint(0, 0xFFFF)
            if not 0xD800 <= cp <= 0xDFFF:
                return chr(cp)

    def token():
        k = r.random()
        if k < 0.40:
            return r.choice(WORDS)
        if k < 0.48:
            return r.choice(LATIN)
        if k < 0.58:
            return r.choice(FOREIGN)
        if k < 0.62:
            return r.choice(EMOJI)
        if k < 0.64:
            return r.choice(FULLWIDTH)
        if k < 0.67:
            return r.choice(WORDS) + chr(r.randint(0x300, 0x36F))
        if k < 0.70:
            return r.choice(CONTROLS)
        if k < 0.73:
            return r.choice(SPECIALS)
        if k < 0.77:
            return r.choice(NUMBERS) if r.random() < 0.6 else str(r.randint(0, 10**9))
        if k < 0.78:
            return long_word()
        if k < 0.83:
            return r.choice(PUNCT)
        if k < 0.86:
            return bmp_char()
        if k < 0.88:
            return any_char()
        if k < 0.92:
            return r.choice(WORDS).upper()
        return r.choice(WORDS).capitalize()

    def text(lo, hi):
        out = []
        for i in range(r.randint(lo, hi)):
            if i:
                out.append(" " if r.random() < 0.85 else r.choice(SPACES))
            out.append(token())
            if r.random() < 0.08:
                out.append(r.choice(".,!?"))
        s = "".join(out)
        k = r.random()
        if k < 0.05:
            s = " " + s
        elif k < 0.10:
            s = s + "  "
        elif k < 0.12:
            s = "\u3000" + s
        return s

    fixed = ["", " ", "   ", "\t\n", "\xa0\u3000", "\u200b", "a", ".", "Hello, World!", "Hello  World", " Hello",
             "Hello ", "it's I'm we'll", "東京", "ß", "İ", "ﬁ", "👨‍👩‍👧‍👦", "e\u0301", "\u0301", "한국어", "हिन्दी",
             "العربية", "ＡＢＣ", "<s>", "</s>", "<mask>", " <mask> ", "a<mask>b", "[CLS] x [SEP]", "[MASK]", " [MASK] ",
             "<0x41>", "▁", "▁hello", "``a''", "a\u00a0b", "\x00\x01", long_word(), "9" * 80, "a" * 300,
             "   leading", "trailing   ", "x  \n  y"]

    def single(i):
        if i < len(fixed):
            return fixed[i]
        k = r.random()
        if k < 0.10:
            return text(0, 3)
        if k < 0.70:
            return text(4, 30)
        if k < 0.97:
            return text(30, 100)
        return text(100, 300)

    def pair():
        k = r.random()
        if k < 0.1:
            return text(0, 2), text(0, 5)
        if k < 0.85:
            return text(3, 12), text(15, 70)
        return text(20, 120), text(5, 120)

    return single, pair


def train_corpus(seed):
    r = random.Random(seed)
    lines = []
    for _ in range(6000):
        parts = []
        for _ in range(r.randint(5, 25)):
            k = r.random()
            if k < 0.55:
                w = r.choice(WORDS)
            elif k < 0.68:
                w = r.choice(LATIN)
            elif k < 0.85:
                w = r.choice(FOREIGN)
            elif k < 0.88:
                w = r.choice(EMOJI)
            elif k < 0.90:
                w = r.choice(FULLWIDTH)
            elif k < 0.96:
                w = r.choice(NUMBERS) if r.random() < 0.5 else str(r.randint(0, 10**6))
            else:
                w = r.choice(PUNCT)
            parts.append(w)
        lines.append(" ".join(parts))
    return lines


def train_spm(lines, prefix, **kw):
    import sentencepiece as spm
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=prefix, model_type="unigram",
        normalization_rule_name="nmt_nfkc", num_threads=1, shuffle_input_sentence=False,
        input_sentence_size=0, character_coverage=0.995, minloglevel=2, **kw)
    return prefix + ".model"


def write_family(out_dir, name, tok_json, config):
    """Writes OUT_DIR/NAME/tokenizer.json (and tokenizer_config.json)."""
    os.makedirs(os.path.join(out_dir, name), exist_ok=True)
    with open(os.path.join(out_dir, name, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tok_json)
    if config is not None:
        with open(os.path.join(out_dir, name, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=1, sort_keys=True)
            f.write("\n")


def canonical(tok):
    """tokenizer.json as the library writes it, compact and stable."""
    return json.dumps(json.loads(tok.to_str()), ensure_ascii=False, separators=(",", ":")) + "\n"


def train(out_dir):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers, AddedToken
    from transformers.convert_slow_tokenizer import DebertaV2Converter, XLMRobertaConverter
    from transformers import DebertaV2Tokenizer, XLMRobertaTokenizer

    os.makedirs(out_dir, exist_ok=True)
    lines = train_corpus(TRAIN_SEED)
    tmp = tempfile.mkdtemp()

    # xlmr: spm ids 0..2 = <unk> <s> </s> (the converter puts its own four specials first)
    model = train_spm(lines, os.path.join(tmp, "xlmr"), vocab_size=3000)
    slow = XLMRobertaTokenizer(vocab_file=model, model_max_length=512)
    tok = XLMRobertaConverter(slow).converted()
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    write_family(out_dir, "xlmr", canonical(tok), {"model_max_length": 512, "tokenizer_class": "XLMRobertaTokenizer"})

    # deberta: DeBERTa-v3's spm layout, byte fallback on
    model = train_spm(lines, os.path.join(tmp, "deberta"), vocab_size=2500, byte_fallback=True,
                      pad_id=0, pad_piece="[PAD]", bos_id=1, bos_piece="[CLS]", eos_id=2, eos_piece="[SEP]",
                      unk_id=3, unk_piece="[UNK]")
    slow = DebertaV2Tokenizer(vocab_file=model, do_lower_case=False, split_by_punct=False)

    class ByteFallbackDebertaV2Converter(DebertaV2Converter):
        handle_byte_fallback = True

    tok = ByteFallbackDebertaV2Converter(slow).converted()
    tok.add_special_tokens([AddedToken("[MASK]", normalized=False, special=True)])
    write_family(out_dir, "deberta", canonical(tok), {"model_max_length": 384, "tokenizer_class": "DebertaV2Tokenizer"})

    # roberta: byte-level BPE, RobertaProcessing
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(lines, trainers.BpeTrainer(
        vocab_size=3000, min_frequency=2, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=True)
    write_family(out_dir, "roberta", canonical(tok), {"model_max_length": 512, "tokenizer_class": "RobertaTokenizer"})

    # modernbert: byte-level BPE without prefix space, TemplateProcessing
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    specials = ["<|endoftext|>", "[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    tok.train_from_iterator(lines, trainers.BpeTrainer(
        vocab_size=3500, min_frequency=2, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, normalized=False, special=True)])
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    write_family(out_dir, "modernbert", canonical(tok), {"model_max_length": 8192, "tokenizer_class": "PreTrainedTokenizerFast"})

    # bpe_opts: BPE with continuing_subword_prefix and end_of_word_suffix on a small alphabet
    tok = Tokenizer(models.BPE(unk_token="<unk>", continuing_subword_prefix="##", end_of_word_suffix="</w>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(lines, trainers.BpeTrainer(
        vocab_size=1500, min_frequency=2, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
        limit_alphabet=120, continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    write_family(out_dir, "bpe_opts", canonical(tok), None)

    # bpe_bytes: Llama-style BPE with byte fallback (Metaspace, no ByteLevel), small alphabet
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.train_from_iterator(lines, trainers.BpeTrainer(
        vocab_size=1200, min_frequency=2, special_tokens=["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)],
        show_progress=False, limit_alphabet=100))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1",
        special_tokens=[("<s>", tok.token_to_id("<s>"))])
    j = json.loads(tok.to_str())
    # byte pieces belong to the model, not to the added vocabulary (as in converted Llama files)
    j["added_tokens"] = [a for a in j["added_tokens"] if not a["content"].startswith("<0x")]
    write_family(out_dir, "bpe_bytes", json.dumps(j, ensure_ascii=False, separators=(",", ":")) + "\n", None)

    # wordlevel: WordLevel with a regex Split
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=__import__("tokenizers").Regex(r"\s+"), behavior="removed"),
        pre_tokenizers.Punctuation(behavior="isolated")])
    tok.train_from_iterator(lines, trainers.WordLevelTrainer(vocab_size=2000, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                                                              show_progress=False))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    write_family(out_dir, "wordlevel", canonical(tok), None)


TRUNCS = [[n, s, d] for n in (12, 40, 128) for s in ("longest_first", "only_first", "only_second")
          for d in ("right", "left")]


def goldens(fam_dir, out_dir, seed=GOLDEN_SEED, scale=1.0):
    from tokenizers import Tokenizer
    cfg_dir = os.path.join(fam_dir, "configs")
    names = sorted(n[:-5] for n in os.listdir(cfg_dir) if n.endswith(".json"))
    out = []
    base_of = {}
    for ci, name in enumerate(names):
        with open(os.path.join(cfg_dir, name + ".json"), encoding="utf-8") as f:
            c = json.load(f)
        base_of[name] = c["base"]
        with open(os.path.join(fam_dir, c["base"], "tokenizer.json"), encoding="utf-8") as f:
            base = json.load(f)
        for k, v in c.get("override", {}).items():
            base[k] = v
        for k, v in c.get("model_patch", {}).items():
            base["model"][k] = v
        tok = Tokenizer.from_str(json.dumps(base))
        tok.no_padding()
        single, pair = make_corpus(seed * 1000 + ci)
        ns, np_ = round(c["singles"] * scale), round(c["pairs"] * scale)
        jobs = []
        # half the records without truncation, the others cycling through
        # every (max_length, strategy, direction); only_second on a single
        # text (an error) one time in ten
        for i in range(ns):
            t = None if i % 2 == 0 else TRUNCS[(i // 2 * 7) % len(TRUNCS)]
            if t and t[1] == "only_second" and i % 20 != 1:
                t = [t[0], "longest_first", t[2]]
            jobs.append((t, single(i), None))
        for i in range(np_):
            q, p = pair()
            jobs.append((None if i % 2 == 0 else TRUNCS[(i // 2 * 7 + 3) % len(TRUNCS)], q, p))
        for tr, a, b in jobs:
            if tr is None:
                tok.no_truncation()
            else:
                tok.enable_truncation(tr[0], strategy=tr[1], direction=tr[2])
            rec = {"cfg": name, "trunc": tr, "text": a}
            if b is not None:
                rec["pair"] = b
            try:
                e = tok.encode(a, b) if b is not None else tok.encode(a)
                rec["ids"] = e.ids
                rec["type_ids"] = e.type_ids
                rec["offsets"] = [x for o in e.offsets for x in o]
            except Exception as err:  # noqa: BLE001 -- the library's error is the golden
                rec["error"] = str(err) or type(err).__name__
            out.append(rec)
    # one file per family (the config's base), each well under 4 MB
    parts = {}
    for rec in out:
        parts.setdefault(base_of[rec["cfg"]], []).append(rec)
    os.makedirs(out_dir, exist_ok=True)
    for fam, recs in sorted(parts.items()):
        with gzip.GzipFile(os.path.join(out_dir, "goldens-%s.jsonl.gz" % fam), "wb", mtime=0, compresslevel=9) as f:
            for rec in recs:
                f.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))


def bench(rounds, files):
    """Times PyPI tokenizers' encode_batch on testdata/bench_pairs.jsonl, one
    (query, passage) pair per input; run with RAYON_NUM_THREADS=1 for one
    core. Prints one JSON line per file: median wall and CPU µs per pair."""
    import statistics
    import time
    from tokenizers import Tokenizer
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "bench_pairs.jsonl"), encoding="utf-8") as f:
        pairs = [(o["query"], o["passage"]) for o in map(json.loads, f)]
    for path in files:
        tok = Tokenizer.from_file(path)
        tok.no_padding()
        tok.enable_truncation(512)
        for _ in range(5):
            tok.encode_batch(pairs)
        walls, cpus = [], []
        for _ in range(rounds):
            w0, c0 = time.perf_counter(), time.process_time()
            tok.encode_batch(pairs)
            walls.append((time.perf_counter() - w0) * 1e6 / len(pairs))
            cpus.append((time.process_time() - c0) * 1e6 / len(pairs))
        print(json.dumps({"library": "tokenizers %s (Rust) via PyPI encode_batch" % __import__("tokenizers").__version__,
                          "tokenizer": path, "rayon_threads": os.environ.get("RAYON_NUM_THREADS", "default"),
                          "pairs": len(pairs), "rounds": rounds,
                          "us_per_pair_median": round(statistics.median(walls), 3),
                          "cpu_us_per_pair_median": round(statistics.median(cpus), 3)}))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "train":
        train(sys.argv[2])
    elif cmd == "goldens":
        seed = int(sys.argv[4]) if len(sys.argv) > 4 else GOLDEN_SEED
        scale = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
        goldens(sys.argv[2], sys.argv[3], seed, scale)
    elif cmd == "bench":
        bench(int(sys.argv[2]), sys.argv[3:])
    elif cmd == "corpus":
        print("\n".join(train_corpus(int(sys.argv[2]))))
    else:
        sys.exit(__doc__)
