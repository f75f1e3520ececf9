"""Family twins for `crossrank model convert` and `crossrank score` parity (issue 13 item 2).

For each family (bert, electra, xlm-roberta, modernbert, deberta-v2) this builds a small
sequence classifier of the real architecture with transformers on PyTorch
CPU from a fixed config and seed, writes it in Hugging Face layout
(config.json with "crossrank_twin": true, model.safetensors, tokenizer
files) to OUT/<family>, exports it to OUT/<family>/onnx/model.onnx with the
official exporter (optimum's, as `optimum-cli export onnx --task
text-classification`), and with --goldens records the PyTorch logits of
held-out (query, passage) pairs, including pairs longer than the maximum
length (truncated, longest_first), with the token ids the family's HF
tokenizer produced, so the converted-graph parity test does not depend on
crossrank's tokenizer (the `crossrank score` parity test does: it starts
from the text). Every folder is written beside OUT/<family> and renamed
into place.

Weights: transformers' init, then every parameter redrawn from a fixed
torch.Generator (normal: std 0.4 for attention query/key, 0.5 for
ModernBERT's Wqkv and head.dense, 1.0 for the classification head, 0.1 elsewhere; LayerNorm weights 1 + N(0, 0.1)) so
that LayerNorm scales and biases are not trivial and logits spread.

  make setup-twins-hf     # .cache/venv-convert/bin/python scripts/models/twins_hf.py .cache/models/twins-hf
  make goldens-twins-hf   # ... --goldens internal/convert/testdata/twins_goldens.json
"""
import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import sys
import unicodedata
from importlib.metadata import version
from collections import Counter

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (BertConfig, BertForSequenceClassification, BertTokenizerFast, DebertaV2Config,
                          DebertaV2ForSequenceClassification, ElectraConfig,
                          ElectraForSequenceClassification, ModernBertConfig, ModernBertForSequenceClassification,
                          PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaForSequenceClassification,
                          XLMRobertaTokenizerFast)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 1234
# VERSION is written into OUT/.crossrank-stamp by make setup-twins-hf: a
# folder built by another version is rebuilt whatever its timestamps say.
# 2: deterministic Unigram tokenizers, official ONNX export in onnx/model.onnx.
# 3: tokenizer.json saved without the truncation/padding state a previous
#    call left (ELECTRA's, which shares BERT's tokenizer, differed between a
#    goldens run and a plain build).
VERSION = 3
# Unigram pieces of the XLM-R and DeBERTa twins, specials included (171, as
# the earlier trained vocabularies, keeps their weights' shapes and bytes).
UNIGRAM_SIZE = 171

QUERIES = ["what is a cross-encoder", "how do bananas ripen", "capital of Australia", "vitamin D deficiency symptoms"]
PASSAGES = [
    "A cross-encoder reads the query and the passage together and outputs one relevance score.",
    "Bananas are yellow.",
    "Ethylene released by the fruit turns starch into sugar as bananas ripen.",
    "Canberra became the capital of Australia as a compromise between Sydney and Melbourne.",
    "Zu wenig Vitamin D führt zu Knochenschmerzen und Müdigkeit.",
    # Longer than every twin's maximum length: truncated.
    " ".join(["Rerankers score every candidate passage against the query and keep the best ones."] * 12),
]
CORPUS = QUERIES + PASSAGES + [
    "The quick brown fox jumps over the lazy dog.", "Search engines rank documents by relevance.",
    "Les moteurs de recherche classent les documents.", "Die Suchmaschine sortiert die Treffer nach Relevanz.",
    "El motor de búsqueda ordena los resultados.", "Transformers encode text into vectors.",
]


def bert_tokenizer():
    return BertTokenizerFast(tokenizer_file=os.path.join(ROOT, "internal/assets/bert-base-uncased.json"),
                             do_lower_case=True, model_max_length=64)


def unigram_vocab(specials, size):
    """A SentencePiece-style Unigram vocabulary of `size` pieces (specials
    first, score 0) built deterministically from CORPUS: every character
    (NFKC) and the substrings (2 to 6 characters) of its Metaspace words
    ("\u2581" + word) seen at least twice, ranked by count × length, then
    scored as SentencePiece does (hard EM): three rounds of Viterbi
    segmentation of the corpus words, each piece scored log(uses / total),
    less a small rank term so that no two pieces tie. tokenizers'
    UnigramTrainer is not deterministic (equal-score pieces come out in
    hash-map order), so two runs gave different ids and the goldens' ids
    stopped matching the saved tokenizer.json."""
    words = Counter()
    for text in CORPUS:
        for w in unicodedata.normalize("NFKC", text).split():
            words["\u2581" + w] += 1
    counts = Counter()
    for w, c in words.items():
        for i in range(len(w)):
            for j in range(i + 1, min(len(w), i + 6) + 1):
                counts[w[i:j]] += c
    chars = sorted(p for p in counts if len(p) == 1)
    multi = sorted((p for p in counts if len(p) > 1 and counts[p] > 1), key=lambda p: (-counts[p] * len(p), p))
    pieces = chars + multi[:size - len(specials) - len(chars)]
    z = sum(counts[p] * len(p) for p in pieces)
    score = {p: math.log(counts[p] * len(p) / z) for p in pieces}
    for _ in range(3):
        uses = Counter({p: 0.5 for p in pieces})
        for w, c in sorted(words.items()):
            best = [(0.0, 0)] + [(-math.inf, 0)] * len(w)  # (score, start of the last piece) per prefix length
            for j in range(1, len(w) + 1):
                for i in range(max(0, j - 6), j):
                    if w[i:j] in score and best[i][0] + score[w[i:j]] > best[j][0]:
                        best[j] = (best[i][0] + score[w[i:j]], i)
            j = len(w)
            while j > 0:
                i = best[j][1]
                uses[w[i:j]] += c
                j = i
        total = sum(uses.values())
        score = {p: math.log(uses[p] / total) for p in pieces}
    ranked = sorted(pieces, key=lambda p: (-score[p], p))
    return [(s, 0.0) for s in specials] + [(p, round(score[p] - 1e-4 * r, 6)) for r, p in enumerate(ranked)]


def unigram_tokenizer(specials, unk):
    tok = Tokenizer(models.Unigram(unigram_vocab(specials, UNIGRAM_SIZE), unk_id=specials.index(unk), byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    return tok


def xlmr_tokenizer():
    # A small Unigram model with XLM-R's special tokens and template.
    tok = unigram_tokenizer(["<s>", "<pad>", "</s>", "<unk>"], "<unk>")
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return XLMRobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                                   model_max_length=64)


def modernbert_tokenizer():
    # A small byte-level BPE with ModernBERT's special tokens and [CLS] A [SEP] B [SEP] template.
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 4, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]", mask_token="[MASK]", model_max_length=64,
                                   model_input_names=["input_ids", "attention_mask"])


def deberta_tokenizer():
    # A small Unigram model with DeBERTa-v3's special tokens ([PAD] 0, [CLS] 1, [SEP] 2, [UNK] 3).
    tok = unigram_tokenizer(["[PAD]", "[CLS]", "[SEP]", "[UNK]"], "[UNK]")
    tok.add_special_tokens(["[MASK]"])
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]", mask_token="[MASK]", model_max_length=64,
                                   model_input_names=["input_ids", "attention_mask"])


def families():
    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, crossrank_twin=True)
    bt = bert_tokenizer()
    xt = xlmr_tokenizer()
    mt = modernbert_tokenizer()
    dt = deberta_tokenizer()
    modern = {k: v for k, v in common.items() if k not in ("hidden_dropout_prob", "attention_probs_dropout_prob")}
    return {
        # cross-encoder/ms-marco-MiniLM-L-6-v2 layer types: gelu, absolute positions, 2 token types, 1 label.
        "bert": (BertForSequenceClassification, bt,
                 BertConfig(vocab_size=bt.vocab_size, max_position_embeddings=64, type_vocab_size=2, num_labels=1, **common)),
        # ELECTRA (e.g. cross-encoder/ms-marco-electra-base): embeddings_project when embedding_size != hidden_size; 2 labels.
        "electra": (ElectraForSequenceClassification, bt,
                    ElectraConfig(vocab_size=bt.vocab_size, embedding_size=24, max_position_embeddings=64, type_vocab_size=2,
                                  num_labels=2, **common)),
        # XLM-RoBERTa (BAAI/bge-reranker-v2-m3): 1 token type, positions from padding_idx + 1, max length 64.
        "xlm-roberta": (XLMRobertaForSequenceClassification, xt,
                        XLMRobertaConfig(vocab_size=len(xt), max_position_embeddings=66, type_vocab_size=1, pad_token_id=1,
                                         bos_token_id=0, eos_token_id=2, num_labels=1, **common)),
        # ModernBERT (Alibaba-NLP/gte-reranker-modernbert-base): rotary positions, a global layer then local
        # (sliding-window) layers, GeGLU, no biases, mean pooling head; 3 layers, window 16, max length 64.
        "modernbert": (ModernBertForSequenceClassification, mt,
                       ModernBertConfig(vocab_size=len(mt), max_position_embeddings=64, pad_token_id=mt.pad_token_id,
                                        cls_token_id=mt.cls_token_id, sep_token_id=mt.sep_token_id,
                                        bos_token_id=mt.cls_token_id, eos_token_id=mt.sep_token_id,
                                        num_labels=1, local_attention=16, global_attn_every_n_layers=3,
                                        classifier_pooling="mean", reference_compile=False,
                                        **{**modern, "num_hidden_layers": 3})),
        # DeBERTa-v3 (mixedbread-ai/mxbai-rerank-base-v1): relative attention (c2p|p2c) over log buckets,
        # shared attention keys, LayerNorm-ed relative embeddings, no absolute positions, no token types.
        # 8 buckets over 64 positions so that distances beyond ±4 fall in log buckets.
        "deberta-v2": (DebertaV2ForSequenceClassification, dt,
                       DebertaV2Config(vocab_size=len(dt), max_position_embeddings=64, type_vocab_size=0, pad_token_id=0,
                                       relative_attention=True, position_buckets=8, max_relative_positions=-1,
                                       pos_att_type="p2c|c2p", share_att_key=True, norm_rel_ebd="layer_norm",
                                       position_biased_input=False, pooler_hidden_size=32, pooler_hidden_act="gelu",
                                       layer_norm_eps=1e-7, num_labels=1, **common)),
    }


def std(pname):
    """Sharp attention (query/key) and a strong head make the [CLS] state
    and the logits depend on the pair, so parity is tested on a spread of
    logits, not on a constant."""
    if ".query." in pname or ".key." in pname or ".query_proj." in pname or ".key_proj." in pname:
        return 0.4
    if ".Wqkv." in pname or pname.startswith("head.dense"):
        return 0.5
    if pname.startswith("classifier"):
        return 1.0
    return 0.1


def build(name, cls, tok, cfg, out):
    torch.manual_seed(SEED)
    model = cls(cfg).eval()
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for pname, p in sorted(model.named_parameters()):
            r = torch.randn(p.shape, generator=g, dtype=torch.float32) * std(pname)
            p.copy_(1 + r if "LayerNorm.weight" in pname else r)
    tmp = out + ".tmp-make"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    # A call with truncation=True/padding=True (goldens, or an earlier
    # family sharing this tokenizer: BERT and ELECTRA) leaves that state in
    # the fast tokenizer, and save_pretrained would write it into
    # tokenizer.json; save the tokenizer as made, whatever ran before.
    tok.backend_tokenizer.no_truncation()
    tok.backend_tokenizer.no_padding()
    tok.save_pretrained(tmp)
    export_onnx(tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    return model


def export_onnx(folder):
    """The official export: optimum's ONNX exporter (what `optimum-cli export
    onnx --task text-classification` runs, with its validation against
    PyTorch) on the saved folder, its model.onnx moved to onnx/model.onnx,
    where Hugging Face repositories keep it and crossrank looks first."""
    from optimum.exporters.onnx import main_export
    exp = os.path.join(folder, "onnx-export")
    main_export(folder, exp, task="text-classification", local_files_only=True, library_name="transformers")
    os.makedirs(os.path.join(folder, "onnx"))
    for name in ("model.onnx", "model.onnx_data"):  # the second only for graphs over 2 GB
        if os.path.exists(os.path.join(exp, name)):
            os.rename(os.path.join(exp, name), os.path.join(folder, "onnx", name))
    shutil.rmtree(exp)


def goldens(name, model, tok):
    enc = tok(QUERIES * len(PASSAGES), [p for p in PASSAGES for _ in QUERIES], truncation=True,
              max_length=tok.model_max_length, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    pairs = []
    for i in range(logits.shape[0]):
        n = int(enc["attention_mask"][i].sum())
        row = {"query": QUERIES[i % len(QUERIES)], "passage_index": i // len(QUERIES), "passage": PASSAGES[i // len(QUERIES)],
               "input_ids": enc["input_ids"][i][:n].tolist(), "logits": [float(f"{v:.9g}") for v in logits[i].tolist()]}
        if "token_type_ids" in enc:
            row["token_type_ids"] = enc["token_type_ids"][i][:n].tolist()
        pairs.append(row)
    return pairs


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--goldens")
    args = ap.parse_args()
    torch.set_num_threads(2)
    result = {"command": "make goldens-twins-hf", "seed": SEED,
              "versions": {"python": platform.python_version(), "torch": torch.__version__,
                           "transformers": transformers.__version__, "optimum": version("optimum"),
                           "optimum-onnx": version("optimum-onnx")},
              "families": {}}
    for name, (cls, tok, cfg) in families().items():
        out = os.path.join(args.out, name)
        model = build(name, cls, tok, cfg, out)
        sha, tok_sha = sha256(os.path.join(out, "model.safetensors")), sha256(os.path.join(out, "tokenizer.json"))
        fam = {"architecture": cls.__name__, "max_length": tok.model_max_length, "pad_token_id": tok.pad_token_id,
               "num_labels": cfg.num_labels, "safetensors_sha256": sha, "tokenizer_sha256": tok_sha}
        if args.goldens:
            fam["pairs"] = goldens(name, model, tok)
        result["families"][name] = fam
        print(f"twins-hf: {name}: {out} (safetensors sha256 {sha[:12]})", file=sys.stderr)
    if args.goldens:
        with open(args.goldens, "w") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
