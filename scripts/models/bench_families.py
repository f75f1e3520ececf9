"""Bench-size family twins for `make bench-families` (issue 13 item 4).

For each family this builds, with transformers on PyTorch CPU from a fixed
seed (transformers' own initialisation, std 0.02), a random-weight sequence
classifier with the real width and depth of a named reranker of the README
table, exports it with the official exporter (optimum's ONNX exporter, as
`optimum-cli export onnx --task text-classification`) and converts its
model.safetensors with `crossrank model convert`, into

  OUT/<family>/official/{config.json,onnx/model.onnx}
  OUT/<family>/converted/{config.json,crossrank.json,onnx/model.onnx}

and checks that the two graphs give the same logits. The safetensors are
deleted once both graphs are written (they are only the converter's input;
keeping them would add ~1.5 GB). The vocabulary is cut to VOCAB pieces (the
real ones: 30522, 250002, 50368, 128100): a token's embedding is a row
gather, whatever the table's size, so speed does not change, and the four
families take ~3 GB instead of ~5.7 GB. No tokenizer is written: the
benchmark feeds token ids. Each family is written beside OUT/<family> and renamed into place.

  make bench-families   # .cache/venv-convert/bin/python scripts/models/bench_families.py OUT -- go run ./cmd/crossrank
  .../python scripts/models/bench_families.py OUT --check-only -- x   # only compare the graphs
"""
import argparse
import os
import shutil
import subprocess
import sys

import torch
from transformers import (DebertaV2Config, DebertaV2ForSequenceClassification, ElectraConfig,
                          ElectraForSequenceClassification, ModernBertConfig, ModernBertForSequenceClassification,
                          XLMRobertaConfig, XLMRobertaForSequenceClassification)

SEED = 1234
VOCAB = 8192
BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, num_labels=1)


def families():
    """The shape of each family's named reranker (README "Rerankers known
    to work"), vocabulary cut to VOCAB."""
    return {
        # cross-encoder/ms-marco-electra-base (electra-base-discriminator): 768 wide, 12 layers, embedding 768.
        "electra": (ElectraForSequenceClassification,
                    ElectraConfig(vocab_size=VOCAB, embedding_size=768, max_position_embeddings=512, type_vocab_size=2, **BASE)),
        # BAAI/bge-reranker-base (XLM-RoBERTa base): 768 wide, 12 layers, positions from padding_idx + 1.
        "xlm-roberta": (XLMRobertaForSequenceClassification,
                        XLMRobertaConfig(vocab_size=VOCAB, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                                         bos_token_id=0, eos_token_id=2, **BASE)),
        # Alibaba-NLP/gte-reranker-modernbert-base (ModernBERT-base): 768 wide, 22 layers, GeGLU 1152,
        # a global layer every 3, local window 128, rotary positions, max length 8192.
        "modernbert": (ModernBertForSequenceClassification,
                       ModernBertConfig(vocab_size=VOCAB, hidden_size=768, num_hidden_layers=22, num_attention_heads=12,
                                        intermediate_size=1152, max_position_embeddings=8192, global_attn_every_n_layers=3,
                                        local_attention=128, global_rope_theta=160000.0, local_rope_theta=10000.0,
                                        pad_token_id=3, cls_token_id=1, sep_token_id=2, bos_token_id=1, eos_token_id=2,
                                        classifier_pooling="mean", reference_compile=False, num_labels=1)),
        # mixedbread-ai/mxbai-rerank-base-v1 (DeBERTa-v3-base): 768 wide, 12 layers, 256 relative position
        # buckets over 512 positions, shared attention keys, no absolute positions, no token types.
        "deberta-v2": (DebertaV2ForSequenceClassification,
                       DebertaV2Config(vocab_size=VOCAB, max_position_embeddings=512, type_vocab_size=0, pad_token_id=0,
                                       relative_attention=True, position_buckets=256, max_relative_positions=-1,
                                       pos_att_type="p2c|c2p", share_att_key=True, norm_rel_ebd="layer_norm",
                                       position_biased_input=False, pooler_hidden_size=768, pooler_hidden_act="gelu",
                                       layer_norm_eps=1e-7, **BASE)),
    }


def build(name, cls, cfg, out, crossrank):
    tmp = out + ".tmp-make"
    shutil.rmtree(tmp, ignore_errors=True)
    hf, official, converted = (os.path.join(tmp, d) for d in ("hf", "official", "converted"))
    torch.manual_seed(SEED)
    cls(cfg).eval().save_pretrained(hf, safe_serialization=True)
    from optimum.exporters.onnx import main_export
    exp = os.path.join(tmp, "export")
    main_export(hf, exp, task="text-classification", local_files_only=True, library_name="transformers")
    os.makedirs(os.path.join(official, "onnx"))
    shutil.copy(os.path.join(hf, "config.json"), official)
    os.rename(os.path.join(exp, "model.onnx"), os.path.join(official, "onnx", "model.onnx"))
    shutil.rmtree(exp)
    subprocess.run(crossrank + ["model", "convert", "--in", hf, "--out", converted], check=True)
    shutil.rmtree(hf)
    check(name, tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)


def check(name, folder):
    """The two graphs must compute the same function, or comparing their
    speed means nothing: ONNX Runtime on both, two rows of 40 tokens (one
    padded), logits within 1e-4."""
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    ids = np.random.default_rng(SEED).integers(5, VOCAB, size=(2, 40))
    mask = np.ones_like(ids)
    mask[1, 30:] = 0
    types = np.zeros_like(ids)
    types[:, 20:] = 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    logits = []
    for g in ("official", "converted"):
        s = ort.InferenceSession(os.path.join(folder, g, "onnx", "model.onnx"), so)
        logits.append(s.run(None, {i.name: feed[i.name] for i in s.get_inputs()})[0])
    diff = float(np.abs(logits[0] - logits[1]).max())
    if diff > 1e-4:
        sys.exit(f"bench_families: {name}: official and converted logits differ by {diff} ({logits[0]} vs {logits[1]})")
    print(f"bench-families: {name}: official and converted logits within {diff:.1e}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--families", default=",".join(families()), help="comma-separated subset")
    ap.add_argument("--check-only", action="store_true", help="only compare the graphs already in OUT")
    ap.add_argument("crossrank", nargs="+", help="the crossrank command, after --")
    args = ap.parse_args()
    torch.set_num_threads(2)
    fams = families()
    for name in args.families.split(","):
        if name not in fams:
            sys.exit(f"bench_families: unknown family {name!r} (have {', '.join(fams)})")
        cls, cfg = fams[name]
        out = os.path.join(args.out, name)
        if args.check_only:
            check(name, out)
            continue
        build(name, cls, cfg, out, args.crossrank)
        print(f"bench-families: {name}: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
