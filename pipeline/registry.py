"""Model versions: every trained model is kept under ``models/<version>/``; ``models/current``
names the one reports use; ``models/history.json`` lists the versions made current, for
rollback. A version is the first 12 hex digits of the hash of the labels it learned from."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from sklearn.base import clone

from pipeline.embeddings import vectors_teacher
from pipeline.files import atomic_write, folder_lock, make_temporary_folder, remove_stale_temporaries
from pipeline.evaluate import comparison, grouped_cv, headline, held_out_scores, telling_features
from pipeline.labels import labels_hash, load_labels
from pipeline.model import training_data
from pipeline.model import TAXONOMY_PARAMS, StatementClassifier, StatementModel, classifier_for, model_revision
from pipeline.taxonomy import Taxonomy

CURRENT, HISTORY, CARD = "current", "history.json", "card.json"
#: a new model counts as worse when its mean macro-F1 (issue, stance) is lower by more than this
TOLERANCE = 0.01


def estimator_for(taxonomy: Taxonomy, embeddings: bool = True, params: dict | None = None) -> StatementClassifier:
    """The classifier to train: label sets and terms from the taxonomy, parameters from the
    configuration (``Config.model_params()``)."""
    return classifier_for(taxonomy, **{**(params or {}), "embeddings": embeddings})


def version_for(hash_: str, embeddings: bool = True, params: dict | None = None) -> str:
    """The model version for labels of this hash (labels and taxonomy): changes with them and
    with what defines the model (its parameters and code, ``model_revision``), so any retrains."""
    import hashlib

    estimator = StatementClassifier(**{**(params or {}), "embeddings": embeddings})
    return hashlib.sha256(f"{hash_}:{model_revision(estimator)}".encode()).hexdigest()[:12]


def current_version(model_dir: Path) -> str | None:
    pointer = Path(model_dir) / CURRENT
    return pointer.read_text(encoding="utf-8").strip() or None if pointer.exists() else None


def history(model_dir: Path) -> list[str]:
    path = Path(model_dir) / HISTORY
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def make_current(model_dir: Path, version: str) -> None:
    past = history(model_dir)
    if not past or past[-1] != version:
        past.append(version)
    atomic_write(Path(model_dir) / HISTORY, json.dumps(past, indent=1) + "\n")
    atomic_write(Path(model_dir) / CURRENT, version + "\n")


def rollback(model_dir: Path) -> str:
    """Make the previously current model current again; returns its version."""
    past = history(model_dir)
    if len(past) < 2:
        raise ValueError(f"{model_dir}: no earlier model to roll back to")
    past.pop()
    atomic_write(Path(model_dir) / HISTORY, json.dumps(past, indent=1) + "\n")
    atomic_write(Path(model_dir) / CURRENT, past[-1] + "\n")
    return past[-1]


def load_version(model_dir: Path, version: str) -> StatementModel:
    folder = Path(model_dir) / version
    if not (folder / "model.skops").exists():
        raise ValueError(f"{folder}: no such model")
    return StatementModel.load(folder)


def load_card(model_dir: Path, version: str) -> dict | None:
    path = Path(model_dir) / version / CARD
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def versions(model_dir: Path) -> list[str]:
    return sorted(p.name for p in Path(model_dir).glob("*") if (p / "model.skops").exists())


@dataclass
class Retrained:
    model: StatementModel
    card: dict
    made_current: bool
    message: str


def _label_counts(labels: pd.DataFrame) -> dict:
    targets = labels[labels["target"].fillna("") != ""] if "target" in labels.columns else labels.iloc[:0]
    return {
        "total": int(len(labels)), "documents": int(labels["file"].nunique()),
        "issue": {k: int(v) for k, v in labels["issue"].value_counts().sort_index().items()},
        "stance": {k: int(v) for k, v in labels["stance"].value_counts().sort_index().items()},
        "target": {k: int(v) for k, v in (targets["issue"] + ":" + targets["target"]).value_counts().sort_index().items()},
    }


def _plain_params(estimator: StatementClassifier) -> dict:
    """The estimator's parameters that are not taken from the taxonomy (those are in its file)."""
    return {k: v for k, v in estimator.get_params(deep=False).items() if k not in TAXONOMY_PARAMS}


def retrain(labels_dir: Path, model_dir: Path, taxonomy: Taxonomy, accept: bool = False, cv_folds: int = 5,
            embeddings: bool = True, params: dict | None = None, progress=None) -> Retrained:
    """Train on the labels, evaluate, keep the new version; make it current unless it is worse
    than the current model on the same evaluation (or ``accept`` says to anyway). ``cv_folds``
    folds of grouped cross-validation (0: none; the development set still scores the model).
    Bad labels raise before anything is written."""
    model_dir = Path(model_dir)
    with folder_lock(model_dir, "training", wait=True):
        remove_stale_temporaries(model_dir)
        return _retrain(labels_dir, model_dir, taxonomy, accept, cv_folds, embeddings, params, progress)


def _retrain(labels_dir: Path, model_dir: Path, taxonomy: Taxonomy, accept: bool, cv_folds: int, embeddings: bool,
             params: dict | None = None, progress=None) -> Retrained:
    # progress(n, total=None): a plain callable told of the training steps done (labels, fit, [cv], dev, save)
    step = progress or (lambda n=1, total=None: None)
    step(0, total=4 + bool(cv_folds))
    hash_ = labels_hash(labels_dir)
    if accept and (kept := _accept_saved(model_dir, version_for(hash_, embeddings, params))):
        step(4 + bool(cv_folds))
        return kept
    labels = load_labels(labels_dir, taxonomy)
    dev = load_labels(labels_dir, taxonomy, split="dev")
    estimator = estimator_for(taxonomy, embeddings, params)
    step(1)
    started = time.perf_counter()
    X, y, _ = training_data(labels)
    model = StatementModel(clone(estimator).fit(X, y), hash_, version_for(hash_, embeddings, params))
    seconds = time.perf_counter() - started
    step(1)
    card = {
        "version": model.version, "labels_hash": hash_, "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_seconds": round(seconds, 2), "label_counts": _label_counts(labels),
        "sentence_embeddings": embeddings, "parameters": _plain_params(estimator),
        "embedding_teacher": vectors_teacher(estimator.embedding_model) if embeddings else None,
        "reads_documents": model.estimator.passage_ is not None,
        "stance_reads_documents": getattr(model.estimator, "stance_passage_", None) is not None,
        "cv": grouped_cv(estimator, labels, taxonomy, cv_folds) if cv_folds else None,
        "dev": held_out_scores(model, dev, taxonomy), "features": telling_features(model),
    }
    previous_version = current_version(model_dir)
    previous = None
    if previous_version and previous_version != model.version and (model_dir / previous_version / "model.skops").exists():
        previous = load_card(model_dir, previous_version) or {"version": previous_version}
        try:
            previous["dev_on_current"] = held_out_scores(load_version(model_dir, previous_version), dev, taxonomy)
        except ValueError as err:  # saved by an older design of the model, or altered: compare on its card alone
            previous["dev_on_current"] = None
            previous["unloadable"] = str(err)
    step(1 + bool(cv_folds))
    card["comparison"] = comparison(card, previous)
    made_current, message = _decide(card, previous, accept)
    card["current"], card["decision"] = made_current, message
    _save(model, card, model_dir)
    if made_current:
        make_current(model_dir, model.version)
    step(1)
    return Retrained(model, card, made_current, message)


def _accept_saved(model_dir: Path, version: str) -> Retrained | None:
    """``retrain --accept`` after a retrain that was refused: that model, trained on these very
    labels and settings, is saved; make it current without training it again."""
    card = load_card(model_dir, version)
    if card is None:
        return None
    try:
        model = load_version(model_dir, version)
    except ValueError:  # altered or unreadable: train it again
        return None
    message = "accepted: it was trained on these labels before (its figures are on its card); made current without training again"
    card = {**card, "current": True, "decision": message}
    atomic_write(Path(model_dir) / version / CARD, json.dumps(card, indent=1) + "\n")
    make_current(model_dir, version)
    return Retrained(model, card, True, message)


def _decide(card: dict, previous: dict | None, accept: bool) -> tuple[bool, str]:
    if previous is None:
        return True, "no earlier model to compare with"
    new = headline(card)
    old = {"basis": "dev", **{t: (previous["dev_on_current"] or {}).get(t, {}).get("macro_f1") for t in ("issue", "stance")}} \
        if new["basis"] == "dev" and previous.get("dev_on_current") else headline(previous)
    if None in (new["issue"], new["stance"], old["issue"], old["stance"]):
        return True, "no comparable figures for the previous model"
    new_mean, old_mean = (new["issue"] + new["stance"]) / 2, (old["issue"] + old["stance"]) / 2
    basis = "development-set" if new["basis"] == "dev" else "cross-validated"
    figures = (f"{basis} macro-F1 issue {new['issue']:.3f} vs {old['issue']:.3f}, "
               f"stance {new['stance']:.3f} vs {old['stance']:.3f} (previous model {previous['version']})")
    if new_mean < old_mean - TOLERANCE:
        if accept:
            return True, f"WORSE than the current model ({figures}); made current because --accept was given"
        return False, f"WORSE than the current model ({figures}); saved but NOT made current: use --accept to use it anyway"
    return True, f"not worse than the previous model ({figures})"


def _save(model: StatementModel, card: dict, model_dir: Path) -> None:
    """Write the version aside and rename it into place; a version folder is whole or absent."""
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = make_temporary_folder(model_dir, "staging")  # 0777 less the umask: colleagues may read a shared folder
    try:
        model.save(staging)
        (staging / CARD).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
        final = model_dir / model.version
        if final.exists():
            old = make_temporary_folder(model_dir, "old")
            os.replace(final, old / model.version)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        remove_stale_temporaries(model_dir)


def is_trained(model_dir: Path, version: str) -> bool:
    """Whether ``model_dir`` holds model ``version``."""
    return (Path(model_dir) / version / "model.skops").exists()


def needs_training(labels_dir: Path, model_dir: Path, embeddings: bool = True, params: dict | None = None) -> bool:
    """Whether a run would train a model first: none was trained on these labels and this design."""
    return not is_trained(model_dir, version_for(labels_hash(labels_dir), embeddings, params))


def train_if_needed(labels_dir: Path, model_dir: Path, taxonomy: Taxonomy, embeddings: bool = True,
                    params: dict | None = None, progress=None) -> tuple[str, str]:
    """The training step of a run, and the only code besides ``retrain`` that writes a models
    folder: when no model was trained on these labels (and this model design) yet, train one
    (the accept rule applies). Returns the current version and what happened. Another run may be
    training the same model: after taking the lock, look again."""
    version = version_for(labels_hash(labels_dir), embeddings, params)
    note = f"reused model {version}"
    trained = lambda: is_trained(model_dir, version)  # noqa: E731
    if not trained():
        with folder_lock(model_dir, "training", wait=True):
            if trained():
                note = f"reused model {version}, trained meanwhile by another run"
            else:
                remove_stale_temporaries(model_dir)
                result = _retrain(labels_dir, Path(model_dir), taxonomy, False, 0, embeddings, params, progress)
                note = f"labels changed: trained model {version}; {result.message}"
    current = current_version(model_dir)
    if current is None:
        with folder_lock(model_dir, "training", wait=True):
            make_current(model_dir, version)
        current = version
    return current, note


class ModelMissing(ValueError):
    """No trained model where one was expected."""


def current_model(labels_dir: Path, model_dir: Path, embeddings: bool = True, params: dict | None = None) -> tuple[StatementModel, str]:
    """The current model, read only, and a warning ("" if none) when the labels or the model's
    design changed since it was trained; ``ModelMissing`` when there is none."""
    version = current_version(model_dir)
    if version is None or not (Path(model_dir) / version / "model.skops").exists():
        raise ModelMissing(f"no trained model in {model_dir}: train one with `python -m pipeline retrain` "
                           "(or `python -m pipeline run`, which trains when the labels changed)")
    model = load_version(model_dir, version)
    expected = version_for(labels_hash(labels_dir), embeddings, params)
    stale = "" if expected == version else (
        f"the current model {version} was not trained on the labels and settings now in {labels_dir} "
        f"(that model would be {expected}): run `python -m pipeline retrain` to bring it up to date")
    return model, stale


def model_for_run(labels_dir: Path, model_dir: Path, taxonomy: Taxonomy, embeddings: bool = True,
                  params: dict | None = None, progress=None) -> tuple[StatementModel, str]:
    """The training step, then the current model: what tests and the benchmark set up with."""
    version, note = train_if_needed(labels_dir, model_dir, taxonomy, embeddings, params, progress)
    return load_version(model_dir, version), note
