"""Sentence embeddings for the stance and target models: static token vectors fitted to the
sentence transformer all-mpnet-base-v2 (``benchmarks/fit_static_vectors.py``), read with
``model2vec`` and shipped inside this package (``pipeline/data/mpnet-static``).

A sentence's vector is the mean of its tokens' vectors: no neural network runs, so embedding
keeps pace with the rest of the classifier (tens of thousands of sentences a second) and needs
neither torch nor a download. The embedder holds no weights in a saved model and keeps no
state between calls beyond the loaded, read-only vectors.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

#: the vectors shipped with the package
BUNDLED = Path(__file__).parent / "data" / "mpnet-static"


@lru_cache(maxsize=4)
def _static_model(folder: str):
    """The vectors of ``folder``, read once per process (they never change while it runs)."""
    from model2vec import StaticModel

    path = Path(folder)
    if not (path / "model.safetensors").is_file():
        # model2vec would take a missing folder for a model hub name: never look it up
        raise ValueError(f"{path}: no static embedding model here (model.safetensors missing)")
    return StaticModel.from_pretrained(path)


def sentence_embeddings(texts: list[str], folder: Path | str | None = None) -> np.ndarray:
    """One unit-length vector per text (``len(texts)`` × 256)."""
    model = _static_model(str(folder or BUNDLED))
    if not texts:
        return np.zeros((0, model.dim), dtype=np.float64)
    vectors = model.encode(list(texts), show_progress_bar=False).astype(np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


@lru_cache(maxsize=8)
def vectors_digest(folder: Path | str | None = None) -> str:
    """The sha256 of a folder's vectors (read once per process: they never change while it runs)."""
    path = Path(folder or BUNDLED) / "model.safetensors"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def vectors_teacher(folder: Path | str | None = None) -> str:
    """The sentence transformer the vectors of ``folder`` were fitted to, as their config names
    it ("all-mpnet-base-v2"), for the model card."""
    import json

    config = Path(folder or BUNDLED) / "config.json"
    name = json.loads(config.read_text(encoding="utf-8")).get("tokenizer_name", "") if config.is_file() else ""
    return str(name).rsplit("/", 1)[-1] or "unknown"


class SentenceEmbedder(TransformerMixin, BaseEstimator):
    """A scikit-learn transformer from texts to their static sentence embeddings.

    ``model_folder`` names a model2vec folder; ``None`` is the one bundled with the package. The
    vectors are read from there, not saved with a model: ``vectors_sha256_`` records which
    vectors it was fitted with, so a model is never used with others (``StatementModel.load``)."""

    def __init__(self, model_folder: str | None = None):
        self.model_folder = model_folder

    def fit(self, X, y=None):
        self.n_features_out_ = int(_static_model(str(self.model_folder or BUNDLED)).dim)
        self.vectors_sha256_ = vectors_digest(self.model_folder)
        return self

    def transform(self, X):
        return sentence_embeddings([str(x) for x in X], self.model_folder)
