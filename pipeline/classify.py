"""Classify: issue and stance for every sentence, with confidences; and the model it uses.

The model is trained from ``labels/`` and cached under the labels' content hash: it is
retrained when the labels change and reused otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from pipeline.context import sentence_contexts
from pipeline.labels import labels_hash, load_labels
from pipeline.model import StatementModel
from pipeline.taxonomy import Taxonomy

CURRENT = "current"


def current_version(model_dir: Path) -> str | None:
    pointer = Path(model_dir) / CURRENT
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None


def set_current(model_dir: Path, version: str) -> None:
    _atomic_write(Path(model_dir) / CURRENT, version + "\n")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def version_for(hash_: str) -> str:
    return hash_[:12]


def train_model(labels_dir: Path, model_dir: Path, taxonomy: Taxonomy) -> StatementModel:
    """Fit on the labels and save under the labels' hash (written aside, then renamed into place)."""
    hash_ = labels_hash(labels_dir)
    labels = load_labels(labels_dir, taxonomy)
    model = StatementModel.fit(labels, taxonomy, hash_, version_for(hash_))
    final = Path(model_dir) / model.version
    Path(model_dir).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=model_dir, prefix=".staging-"))
    model.save(staging)
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    return model


def model_for_labels(labels_dir: Path, model_dir: Path, taxonomy: Taxonomy) -> tuple[StatementModel, bool]:
    """The model trained on the current labels: loaded when cached, else trained and made current.
    Returns (model, trained)."""
    hash_ = labels_hash(labels_dir)
    folder = Path(model_dir) / version_for(hash_)
    if (folder / "model.skops").exists():
        model, trained = StatementModel.load(folder), False
    else:
        model, trained = train_model(labels_dir, model_dir, taxonomy), True
    if current_version(model_dir) != model.version:
        set_current(model_dir, model.version)
    return model, trained


def classified_sentences(sentences: pd.DataFrame, model: StatementModel, taxonomy: Taxonomy, context_sentences: int) -> pd.DataFrame:
    """Sentences with issue, stance and confidences. Page furniture takes the taxonomy's
    furniture label; questions and narration are neutral by the codebook (stance rule 1)."""
    out = sentences.copy()
    out["context"] = sentence_contexts(sentences, context_sentences)
    content = ~out["is_furniture"]
    predicted = model.predict(out.loc[content])
    out["issue"] = taxonomy.furniture_issue
    out["stance"] = taxonomy.furniture_stance
    out["issue_confidence"] = 1.0
    out["stance_confidence"] = 1.0
    for column in predicted.columns:
        out.loc[content, column] = predicted[column]
    not_own_words = content & out["role"].isin(["question", "narration"])
    out.loc[not_own_words, "stance"] = taxonomy.furniture_stance
    out.loc[not_own_words, "stance_confidence"] = 1.0
    out["issue_confidence"] = out["issue_confidence"].astype(float)
    out["stance_confidence"] = out["stance_confidence"].astype(float)
    return out.drop(columns=["context"])
