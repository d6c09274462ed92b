"""The stance model alone (no CRF) with one sentence embedding or another: development-set and
grouped cross-validated macro-F1 (5 folds by document), to choose the vectors the package ships.

    python benchmarks/stance_by_embedding.py                          # the bundled static vectors
    python benchmarks/stance_by_embedding.py --vectors DIR [DIR ...]  # other model2vec folders
    python benchmarks/stance_by_embedding.py --teacher DIR            # a sentence transformer itself

``--teacher`` embeds every labelled sentence with a sentence-transformers model on torch (not a
project dependency: ``pip install torch==2.13.0 sentence-transformers``; all-mpnet-base-v2 takes
some 20 minutes for the 25,000 sentences here, cached in ``--work``), to see what the static
vectors fitted to it could at best reach. Run by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def teacher_lookup(teacher: Path, texts: list[str], work: Path):
    """A stand-in for ``sentence_embeddings`` that reads the teacher's embeddings of ``texts``."""
    work.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    cache = work / f"{teacher.name}-{digest}.npy"
    if not cache.exists():
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(2)
        np.save(cache, SentenceTransformer(str(teacher), device="cpu").encode(
            texts, batch_size=64, show_progress_bar=False, normalize_embeddings=True))
    vectors = np.load(cache).astype(np.float64)
    row = {t: i for i, t in enumerate(texts)}
    return lambda batch, folder=None: vectors[[row[str(t)] for t in batch]] if len(batch) else np.zeros((0, vectors.shape[1]))


def texts_to_embed(X, Xd) -> list[str]:
    """The labelled sentences to embed, training and development, once each and sorted (the
    teacher's cache is named by their digest; ``distil_student.py`` writes it for the same list)."""
    return sorted(set(X["text"]) | set(Xd["text"]))


def main() -> None:
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    import pipeline.embeddings as embeddings
    from pipeline.labels import load_labels
    from pipeline.model import model_inputs, training_data
    from pipeline.registry import estimator_for
    from pipeline.taxonomy import load_taxonomy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=Path, nargs="*", default=[])
    parser.add_argument("--teacher", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/stance-by-embedding"))
    args = parser.parse_args()
    labels = ROOT / "labels"
    taxonomy = load_taxonomy(labels)
    X, y, documents = training_data(load_labels(labels, taxonomy))
    Xd, yd, _ = training_data(load_labels(labels, taxonomy, split="dev"))
    inputs, stances, documents = model_inputs(X).reset_index(drop=True), y["stance"].reset_index(drop=True), documents.reset_index(drop=True)
    if args.teacher:
        embeddings.sentence_embeddings = teacher_lookup(args.teacher, texts_to_embed(X, Xd), args.work)
    for name, folder in ([(args.teacher.name, None)] if args.teacher else
                         [(str(v), str(v)) for v in args.vectors] or [("bundled vectors", None)]):
        started = time.perf_counter()
        model = estimator_for(taxonomy).set_params(embedding_model=folder)._stance_pipeline()
        dev = f1_score(yd["stance"], model.fit(inputs, stances).predict(model_inputs(Xd)), average="macro")
        held_out = cross_val_predict(model, inputs, stances, groups=documents, cv=GroupKFold(5))
        print(f"{name}: stance alone, development set {dev:.4f}, grouped cross-validation "
              f"{f1_score(stances, held_out, average='macro'):.4f} ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
