"""The classifier: two scikit-learn pipelines (issue, stance) over a sentence and its context.

Features are word n-grams of the sentence, of its context (the codebook's "context carries"),
and the presence of the taxonomy's indicative terms in each, so an analyst can steer the
model by editing ``labels/taxonomy.json``. Stance also reads character n-grams and, unless
turned off, the sentence's embedding (all-MiniLM-L6-v2), which knows that "deplorable" and
"unacceptable" say the same thing when the labels have only shown one of them. Models are
saved with ``skops``, never pickle.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from pipeline.taxonomy import Taxonomy


TEXT_MIN_DF = 2


def terms_by_issue(taxonomy: Taxonomy) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each issue that has indicative terms, with its terms lower-cased."""
    return tuple((issue.id, tuple(" ".join(t.lower().split()) for t in issue.terms if t.strip()))
                 for issue in taxonomy.issues if any(t.strip() for t in issue.terms))


#: bump when features or estimators change: models are then retrained even on the same labels
MODEL_REVISION = "7"
#: weight of the sentence embedding beside the n-gram features of the stance model
EMBEDDING_WEIGHT = 0.5

# words, hyphenated compounds kept whole ("kim jong-un", "russia-us"); an apostrophe ends a word,
# so "DPRK's" finds "dprk"
_TOKEN = re.compile(r"\w+(?:-\w+)*")


class TermMatcher(TransformerMixin, BaseEstimator):
    """Marks which of the taxonomy's terms ("North Korea", "New START") occur in a text. Words
    are looked up by their first word, so a sentence is scanned once whatever the term count."""

    def __init__(self, terms: tuple[str, ...] = ()):
        self.terms = terms

    def fit(self, X, y=None):
        self.terms_ = list(self.terms)
        return self

    def transform(self, X):
        by_first: dict[str, list[tuple[int, list[str]]]] = {}
        for i, term in enumerate(self.terms_):
            words = _TOKEN.findall(term.lower())
            if words:
                by_first.setdefault(words[0], []).append((i, words))
        rows, cols = [], []
        for row, text in enumerate(X):
            words = _TOKEN.findall(text.lower())
            found = set()
            for at, word in enumerate(words):
                for i, term in by_first.get(word, ()):
                    if words[at : at + len(term)] == term:
                        found.add(i)
            rows.extend([row] * len(found))
            cols.extend(found)
        data = np.ones(len(rows), dtype=np.float64)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(X), len(self.terms_)))

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.terms_, dtype=object)


class TaxonomyTerms(TransformerMixin, BaseEstimator):
    """Marks which of the taxonomy's terms occur in a text and, per issue, whether any of its
    terms does. A column per term learns its weight only from labelled sentences that use the
    term; the per-issue column lets a term an analyst adds to ``labels/taxonomy.json`` count for
    its issue at the next training, examples or not. One scan of the text gives both."""

    def __init__(self, groups: tuple[tuple[str, tuple[str, ...]], ...] = ()):
        self.groups = groups

    def fit(self, X, y=None):
        self.terms_ = sorted({t for _, terms in self.groups for t in terms})
        self.matcher_ = TermMatcher(tuple(self.terms_)).fit(X)
        column = {t: i for i, t in enumerate(self.terms_)}
        self.issue_columns_ = [(issue, [column[t] for t in terms]) for issue, terms in self.groups]
        return self

    def transform(self, X):
        found = self.matcher_.transform(X).tocsc()
        issues = [(found[:, columns].sum(axis=1) > 0).astype(np.float64) for _, columns in self.issue_columns_]
        return sparse.hstack([found, sparse.csr_matrix(np.hstack(issues))] if issues else [found]).tocsr()

    def get_feature_names_out(self, input_features=None):
        return np.asarray([*self.terms_, *(f"any {issue} term" for issue, _ in self.issue_columns_)], dtype=object)


def _text_features(context_weight: float, groups: tuple = (), char_weight: float = 0.0,
                   embedding_weight: float = 0.0) -> ColumnTransformer:
    transformers = [
        ("text", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=TEXT_MIN_DF, ), "text"),
        ("context", TfidfVectorizer(ngram_range=(1, 1), sublinear_tf=True, min_df=2, ), "context"),
    ]
    weights = {"text": 1.0, "context": context_weight}
    if char_weight:
        # character n-grams catch evaluative morphology ("un-acceptable", "destabiliz-ing")
        # hashed, so the saved model holds no vocabulary of a hundred thousand n-grams
        chars = Pipeline([
            ("count", HashingVectorizer(analyzer="char_wb", ngram_range=(4, 4), n_features=2**18, alternate_sign=False, norm=None)),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ])
        transformers.append(("chars", chars, "text"))
        weights["chars"] = char_weight
    if embedding_weight:
        from pipeline.embeddings import SentenceEmbedder

        transformers.append(("embedding", SentenceEmbedder(), "text"))
        weights["embedding"] = embedding_weight
    if groups:
        for column, weight in (("text", 1.0), ("context", 0.5 * context_weight)):
            name = f"terms_{column}"
            transformers.append((name, TaxonomyTerms(groups), column))
            weights[name] = weight
    return ColumnTransformer(transformers, transformer_weights=weights)


def build_issue_model(taxonomy: Taxonomy, C: float = 4.0, context_weight: float = 0.6) -> Pipeline:
    return Pipeline([
        ("features", _text_features(context_weight, groups=terms_by_issue(taxonomy))),
        ("classify", LogisticRegression(C=C, class_weight="balanced", max_iter=3000)),
    ])


def build_stance_model(taxonomy: Taxonomy, C: float = 1.0, context_weight: float = 0.3, embeddings: bool = True) -> Pipeline:
    """Stance: n-grams of the sentence and its context, character 4-grams and, with
    ``embeddings``, the sentence's embedding (which the issue model does without: it did worse
    with it on the development set)."""
    return Pipeline([
        ("features", _text_features(context_weight, char_weight=1.0, embedding_weight=EMBEDDING_WEIGHT if embeddings else 0.0)),
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
    def fit(cls, labels: pd.DataFrame, taxonomy: Taxonomy, labels_hash: str, version: str, embeddings: bool = True) -> "StatementModel":
        inputs = model_inputs(labels)
        issue = build_issue_model(taxonomy).fit(inputs, labels["issue"])
        stance = build_stance_model(taxonomy, embeddings=embeddings).fit(inputs, labels["stance"])
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
        path = folder / "model.skops"
        sio.dump({"issue": self.issue, "stance": self.stance}, path, compression=zipfile.ZIP_DEFLATED)
        meta = {"labels_hash": self.labels_hash, "version": self.version, "sha256": _sha256(path)}
        (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "StatementModel":
        """Load a model this project saved; anything else is refused before it is unpacked."""
        import skops.io as sio

        path = folder / "model.skops"
        try:
            meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"{folder}: refused, no readable model.json beside the model ({err})") from None
        if meta.get("sha256") != _sha256(path):
            raise ValueError(f"{path}: refused, the file was altered since it was saved (checksum mismatch)")
        try:
            untrusted = sio.get_untrusted_types(file=path)
        except Exception as err:  # not a skops archive at all
            raise ValueError(f"{path}: refused, not a model file this project saved ({err})") from None
        unexpected = [t for t in untrusted if t not in TRUSTED_TYPES]
        if unexpected:
            raise ValueError(f"{path}: refused, it holds types this project never saves: {', '.join(unexpected)}")
        parts = sio.load(path, trusted=untrusted)
        if set(parts) != {"issue", "stance"} or not all(isinstance(p, Pipeline) for p in parts.values()):
            raise ValueError(f"{path}: refused, not an issue and stance model")
        return cls(parts["issue"], parts["stance"], meta["labels_hash"], meta["version"])


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).exists() else ""


#: Types beyond skops' defaults that our saved models hold, and nothing else is loaded.
TRUSTED_TYPES: frozenset[str] = frozenset({"pipeline.model.TermMatcher", "pipeline.model.TaxonomyTerms", "pipeline.embeddings.SentenceEmbedder"})
