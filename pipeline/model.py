"""The classifier: two scikit-learn pipelines (issue, stance) over a sentence and its context.

Features are word n-grams of the sentence, of its context (the codebook's "context carries"),
and the presence of the taxonomy's indicative terms in each, so an analyst can steer the
model by editing ``labels/taxonomy.json``. Models are saved with ``skops``, never pickle.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from pipeline.taxonomy import Taxonomy


TEXT_MIN_DF = 2


def term_vocabulary(taxonomy: Taxonomy) -> list[str]:
    """The taxonomy's indicative terms, tokenised as the vectoriser tokenises text."""
    analyse = CountVectorizer().build_analyzer()
    vocabulary = {" ".join(analyse(term)) for issue in taxonomy.issues for term in issue.terms}
    return sorted(v for v in vocabulary if v)


def _text_features(terms: list[str], context_weight: float, use_terms: bool, char_weight: float = 0.0) -> ColumnTransformer:
    longest = max((len(t.split()) for t in terms), default=1)
    transformers = [
        ("text", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=TEXT_MIN_DF, strip_accents="unicode"), "text"),
        ("context", TfidfVectorizer(ngram_range=(1, 1), sublinear_tf=True, min_df=2, strip_accents="unicode"), "context"),
    ]
    weights = {"text": 1.0, "context": context_weight}
    if char_weight:
        # character n-grams catch evaluative morphology ("un-acceptable", "destabiliz-ing")
        # hashed, so the saved model holds no vocabulary of a hundred thousand n-grams
        chars = Pipeline([
            ("count", HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), n_features=2**18, alternate_sign=False, norm=None)),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ])
        transformers.append(("chars", chars, "text"))
        weights["chars"] = char_weight
    if use_terms and terms:
        for column, weight in (("text", 1.0), ("context", 0.5 * context_weight)):
            name = f"terms_{column}"
            transformers.append(
                (name, CountVectorizer(vocabulary=terms, ngram_range=(1, longest), binary=True, strip_accents="unicode"), column)
            )
            weights[name] = weight
    return ColumnTransformer(transformers, transformer_weights=weights)


def build_issue_model(taxonomy: Taxonomy, C: float = 4.0, context_weight: float = 0.6) -> Pipeline:
    return Pipeline([
        ("features", _text_features(term_vocabulary(taxonomy), context_weight, use_terms=True)),
        ("classify", LogisticRegression(C=C, class_weight="balanced", max_iter=3000)),
    ])


def build_stance_model(taxonomy: Taxonomy, C: float = 1.0, context_weight: float = 0.3) -> Pipeline:
    return Pipeline([
        ("features", _text_features([], context_weight, use_terms=False, char_weight=1.0)),
        ("classify", LogisticRegression(C=C, class_weight="balanced", max_iter=3000)),
    ])


def model_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The two text columns the models read."""
    context = frame["context"] if "context" in frame.columns else pd.Series("", index=frame.index)
    return pd.DataFrame({"text": frame["text"].astype(str), "context": context.fillna("").astype(str)})


def _drop_pruned_terms(pipeline: Pipeline) -> None:
    """Vectorisers keep every term they pruned (``stop_words_``), only for introspection:
    dropping it makes the saved model a hundred times smaller and changes no prediction."""
    for _, transformer, _ in pipeline.named_steps["features"].transformers_:
        if hasattr(transformer, "stop_words_"):
            del transformer.stop_words_


@dataclass
class StatementModel:
    """The fitted issue and stance pipelines, with the hash of the labels they learned from."""

    issue: Pipeline
    stance: Pipeline
    labels_hash: str
    version: str

    @classmethod
    def fit(cls, labels: pd.DataFrame, taxonomy: Taxonomy, labels_hash: str, version: str) -> "StatementModel":
        inputs = model_inputs(labels)
        issue = build_issue_model(taxonomy).fit(inputs, labels["issue"])
        stance = build_stance_model(taxonomy).fit(inputs, labels["stance"])
        for pipeline in (issue, stance):
            _drop_pruned_terms(pipeline)
        return cls(issue, stance, labels_hash, version)

    def probabilities(self, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """For issue and stance, each class's probability per row."""
        inputs = model_inputs(frame)
        out = {}
        for name, pipeline in (("issue", self.issue), ("stance", self.stance)):
            proba = pipeline.predict_proba(inputs) if len(inputs) else np.zeros((0, len(pipeline.classes_)))
            out[name] = pd.DataFrame(proba, index=frame.index, columns=[str(c) for c in pipeline.classes_])
        return out

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """issue, stance and their confidences (the model's probability of its choice)."""
        out = pd.DataFrame(index=frame.index)
        for name, proba in self.probabilities(frame).items():
            out[name] = proba.idxmax(axis=1).astype(str) if len(proba) else pd.Series(dtype=str)
            out[f"{name}_confidence"] = proba.max(axis=1).round(4) if len(proba) else pd.Series(dtype=float)
        return out

    # -------------------------------------------------------------- persistence (skops)

    def save(self, folder: Path) -> None:
        import skops.io as sio

        folder.mkdir(parents=True, exist_ok=True)
        sio.dump({"issue": self.issue, "stance": self.stance}, folder / "model.skops", compression=zipfile.ZIP_DEFLATED)
        (folder / "model.json").write_text(
            json.dumps({"labels_hash": self.labels_hash, "version": self.version}, indent=2) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> "StatementModel":
        import skops.io as sio

        path = folder / "model.skops"
        untrusted = sio.get_untrusted_types(file=path)
        unexpected = [t for t in untrusted if t not in TRUSTED_TYPES]
        if unexpected:
            raise ValueError(f"{path}: refused, it holds types this project never saves: {', '.join(unexpected)}")
        parts = sio.load(path, trusted=untrusted)
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        return cls(parts["issue"], parts["stance"], meta["labels_hash"], meta["version"])


#: Types beyond skops' defaults that our saved models hold, and nothing else is loaded.
TRUSTED_TYPES: frozenset[str] = frozenset()
