"""The classifier: one scikit-learn estimator that labels a sentence by issue, stance and
(for claims) target, reading the sentence, the text before it and the passage around it.

``StatementClassifier`` keeps scikit-learn's contract: its parameters are set in ``__init__``
and nothing else, ``fit(X, y)`` learns, ``predict(X)`` labels, so ``clone``, ``get_params`` and
``GridSearchCV`` work on it and evaluation cross-validates this very estimator. Features:

- issue: word n-grams of the sentence and of its context (the codebook's "context carries"), and
  the taxonomy's indicative terms in both, so an analyst can steer the model by editing
  ``labels/taxonomy.json``; then a CRF over each document's sentences reads what this says of
  the sentences around it (``pipeline.sequence``: passages run on, so their issue carries);
- stance: word n-grams of the sentence and its context and the sentence's static embedding
  (``pipeline.embeddings``); character 4-grams too, if ``char_weight`` is set; then a CRF over
  each document, as for issue;
- target: word n-grams of the sentence and context and the terms of each target, among the
  targets of the issue predicted.

The three read some of the same features: issue and stance learn the same word vocabularies
from the same sentences, stance and target the same embeddings. A fitted model keeps one
transformer for each (``share_equal_transformers``) and ``predict`` computes each once per call
(``pipeline_proba``): a third faster than three separate pipelines, predictions unchanged.

``StatementModel`` is a fitted classifier with the labels hash and version it was saved under;
models are saved with ``skops``, never pickle, and checked before they are loaded.
"""

from __future__ import annotations

import hashlib
import inspect
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
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from pipeline.sequence import PassageSequence
from pipeline.taxonomy import Taxonomy

#: the columns a classifier reads; ``doc_id`` (optional) groups rows into documents, in order
INPUT_COLUMNS = ("text", "context", "doc_id")

# words, hyphenated compounds kept whole ("kim jong-un", "russia-us"); an apostrophe ends a word,
# so "DPRK's" finds "dprk"
_TOKEN = re.compile(r"\w+(?:-\w+)*")


def terms_by_issue(taxonomy: Taxonomy) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each issue that has indicative terms, with its terms lower-cased."""
    return tuple((issue.id, _lowered(issue.terms)) for issue in taxonomy.issues if any(t.strip() for t in issue.terms))


def terms_by_target(taxonomy: Taxonomy) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each target (as ``issue:target``) that has indicative terms, with its terms lower-cased."""
    return tuple((f"{issue.id}:{t.id}", _lowered(t.terms)) for issue in taxonomy.issues for t in issue.targets
                 if any(x.strip() for x in t.terms))


def targets_by_issue(taxonomy: Taxonomy) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """For each issue with targets, the target ids a claim on it may take."""
    return tuple((i.id, tuple(taxonomy.target_ids(i.id))) for i in taxonomy.issues if taxonomy.target_ids(i.id))


def _lowered(terms) -> tuple[str, ...]:
    return tuple(" ".join(t.lower().split()) for t in terms if t.strip())


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
    """Marks which of the taxonomy's terms occur in a text and, per group (issue or target),
    whether any of its terms does. A column per term learns its weight only from labelled
    sentences that use the term; the per-group column lets a term an analyst adds to
    ``labels/taxonomy.json`` count for its group at the next training, examples or not."""

    def __init__(self, groups: tuple[tuple[str, tuple[str, ...]], ...] = ()):
        self.groups = groups

    def fit(self, X, y=None):
        self.terms_ = sorted({t for _, terms in self.groups for t in terms})
        self.matcher_ = TermMatcher(tuple(self.terms_)).fit(X)
        column = {t: i for i, t in enumerate(self.terms_)}
        self.group_columns_ = [(group, [column[t] for t in terms]) for group, terms in self.groups]
        return self

    def transform(self, X):
        found = self.matcher_.transform(X).tocsc()
        groups = [(found[:, columns].sum(axis=1) > 0).astype(np.float64) for _, columns in self.group_columns_]
        return sparse.hstack([found, sparse.csr_matrix(np.hstack(groups))] if groups else [found]).tocsr()

    def get_feature_names_out(self, input_features=None):
        return np.asarray([*self.terms_, *(f"any {group} term" for group, _ in self.group_columns_)], dtype=object)


def model_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns the models read: the sentence, its context and (to find its neighbours) its
    document."""
    # as Python strings, not pandas' Arrow strings: every transformer walks the texts one by one,
    # and walking an Arrow column converts each element again
    context = frame["context"] if "context" in frame.columns else pd.Series("", index=frame.index)
    inputs = pd.DataFrame({"text": frame["text"].astype(str).astype(object),
                           "context": context.fillna("").astype(str).astype(object)})
    if "doc_id" in frame.columns:
        inputs["doc_id"] = frame["doc_id"].fillna("").astype(str).astype(object)
    return inputs


def _tfidf(ngrams: tuple[int, int] = (1, 1), min_df: int = 2) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=ngrams, sublinear_tf=True, min_df=min_df)


def _chars() -> Pipeline:
    # character n-grams catch evaluative morphology ("un-acceptable", "destabiliz-ing"); hashed,
    # so the saved model holds no vocabulary of a hundred thousand n-grams
    return Pipeline([
        ("count", HashingVectorizer(analyzer="char_wb", ngram_range=(4, 4), n_features=2**18, alternate_sign=False, norm=None)),
        ("tfidf", TfidfTransformer(sublinear_tf=True)),
    ])


def _drop_pruned_terms(pipeline: Pipeline) -> None:
    """Vectorisers keep every term they pruned (``stop_words_``), only for introspection:
    dropping it makes the saved model a hundred times smaller and changes no prediction."""
    for _, transformer, _ in pipeline.named_steps["features"].transformers_:
        if hasattr(transformer, "stop_words_"):
            del transformer.stop_words_


class StatementClassifier(BaseEstimator):
    """Issue, stance and target of sentences, as one scikit-learn estimator.

    ``X``: a DataFrame with ``text`` and optionally ``context`` (the text before the sentence)
    and ``doc_id`` (rows of one document together, in document order: the passage around a row
    is read from its neighbours). ``y``: a DataFrame with ``issue``, ``stance`` and optionally
    ``target`` (empty where not labelled). ``predict`` returns a DataFrame with the three labels
    and their confidences."""

    def __init__(self, issue_terms: tuple = (), target_terms: tuple = (), issue_targets: tuple = (),
                 claim_stances: tuple = ("support", "oppose"), issue_C: float = 4.0, stance_C: float = 2.0,
                 target_C: float = 2.0, target_context_weight: float = 1.0, context_weight: float = 0.6, stance_context_weight: float = 0.3,
                 passages: bool = True, passage_c2: float = 0.3, passage_prior_weight: float = 0.3, passage_folds: int = 3,
                 stance_passage_prior_weight: float = 0.6,
                 char_weight: float = 0.0,
                 embedding_weight: float = 0.5, embeddings: bool = True, embedding_model: str | None = None,
                 target_passage: int = 3, target_passage_weight: float = 0.3):
        self.issue_terms = issue_terms
        self.target_terms = target_terms
        self.issue_targets = issue_targets
        self.claim_stances = claim_stances
        self.issue_C = issue_C
        self.stance_C = stance_C
        self.target_C = target_C
        self.target_context_weight = target_context_weight
        self.context_weight = context_weight
        self.stance_context_weight = stance_context_weight
        self.passages = passages
        self.passage_c2 = passage_c2
        self.passage_prior_weight = passage_prior_weight
        self.passage_folds = passage_folds
        self.stance_passage_prior_weight = stance_passage_prior_weight
        self.char_weight = char_weight
        self.embedding_weight = embedding_weight
        self.embeddings = embeddings
        self.embedding_model = embedding_model
        self.target_passage = target_passage
        self.target_passage_weight = target_passage_weight

    # ------------------------------------------------------------------ the three pipelines

    def _issue_pipeline(self) -> Pipeline:
        transformers = [("text", _tfidf((1, 2)), "text"), ("context", _tfidf(), "context")]
        weights = {"text": 1.0, "context": self.context_weight}
        if self.issue_terms:
            for column, weight in (("text", 1.0), ("context", 0.5 * self.context_weight)):
                transformers.append((f"terms_{column}", TaxonomyTerms(self.issue_terms), column))
                weights[f"terms_{column}"] = weight
        return Pipeline([
            ("features", ColumnTransformer(transformers, transformer_weights=weights)),
            ("classify", LogisticRegression(C=self.issue_C, class_weight="balanced", max_iter=3000)),
        ])

    def _stance_pipeline(self) -> Pipeline:
        transformers = [("text", _tfidf((1, 2)), "text"), ("context", _tfidf(), "context")]
        weights = {"text": 1.0, "context": self.stance_context_weight}
        if self.char_weight:
            transformers.append(("chars", _chars(), "text"))
            weights["chars"] = self.char_weight
        if self.embeddings and self.embedding_weight:
            from pipeline.embeddings import SentenceEmbedder

            transformers.append(("embedding", SentenceEmbedder(self.embedding_model), "text"))
            weights["embedding"] = self.embedding_weight
        return Pipeline([
            ("features", ColumnTransformer(transformers, transformer_weights=weights)),
            ("classify", LogisticRegression(C=self.stance_C, class_weight="balanced", max_iter=3000)),
        ])

    def _target_pipeline(self) -> Pipeline:
        # the target depends on the stance ("opposes sanctions" and "supports talks" read alike
        # otherwise) and, more than issue does, on the context: the passage names what a short
        # sentence ("This is unacceptable.") is about
        transformers = [("text", _tfidf((1, 2), min_df=1), "text"), ("context", _tfidf(), "context"),
                        ("stance", OneHotEncoder(handle_unknown="ignore"), ["stance"])]
        weights = {"text": 1.0, "context": self.target_context_weight, "stance": 1.0}
        if self.target_terms:
            for column, weight in (("text", 1.0), ("context", 0.5 * self.target_context_weight)):
                transformers.append((f"terms_{column}", TaxonomyTerms(self.target_terms), column))
                weights[f"terms_{column}"] = weight
        if self.embeddings and self.embedding_weight:
            from pipeline.embeddings import SentenceEmbedder

            transformers.append(("embedding", SentenceEmbedder(self.embedding_model), "text"))
            weights["embedding"] = 1.0
        return Pipeline([
            ("features", ColumnTransformer(transformers, transformer_weights=weights)),
            ("classify", LogisticRegression(C=self.target_C, class_weight="balanced", max_iter=3000)),
        ])

    # ------------------------------------------------------------------ estimator contract

    def fit(self, X: pd.DataFrame, y: pd.DataFrame) -> "StatementClassifier":
        inputs = model_inputs(X)
        y = pd.DataFrame(y).reset_index(drop=True)
        inputs = inputs.reset_index(drop=True)
        issues = y["issue"].astype(str)
        stances = y["stance"].astype(str)
        self.issue_ = self._issue_pipeline().fit(inputs, issues)
        self.passage_ = self._passage_sequence(self._issue_pipeline, inputs, issues, self.passage_prior_weight)
        self.stance_ = self._stance_pipeline().fit(inputs, stances)
        self.stance_passage_ = self._passage_sequence(self._stance_pipeline, inputs, stances, self.stance_passage_prior_weight)
        self._fit_target(inputs, y)
        for pipeline in (self.issue_, self.stance_, self.target_):
            if pipeline is not None:
                _drop_pruned_terms(pipeline)
        share_equal_transformers([p for p in (self.issue_, self.stance_, self.target_) if p is not None])
        self.classes_ = {"issue": [str(c) for c in self.issue_.classes_], "stance": [str(c) for c in self.stance_.classes_],
                         "target": [str(c) for c in self.target_.classes_] if self.target_ is not None else []}
        return self

    def _passage_sequence(self, pipeline, inputs: pd.DataFrame, labels: pd.Series, prior_weight: float) -> PassageSequence | None:
        """The CRF that re-reads the labels ``pipeline()`` gives a document's sentences, or None
        (``passages`` off, rows without a document, or a label in fewer documents than folds)."""
        docs = inputs["doc_id"] if "doc_id" in inputs.columns else pd.Series("", index=inputs.index)
        if not (self.passages and docs.ne("").all() and docs.groupby(labels).nunique().min() >= self.passage_folds):
            return None
        # the sequence model learns from what the sentence model says of sentences it did not
        # see in training (out of fold, by document), as it will at run time. A label found in
        # fewer documents than folds is never seen out of fold often enough to learn how far to
        # trust it: then every sentence is read alone
        held_out = cross_val_predict(pipeline(), inputs, labels, groups=docs,
                                     cv=GroupKFold(n_splits=self.passage_folds), method="predict_proba")
        return PassageSequence(c2=self.passage_c2, prior_weight=prior_weight).fit(held_out, labels, docs)

    def _fit_target(self, inputs: pd.DataFrame, y: pd.DataFrame) -> None:
        self.target_ = None
        if "target" in y.columns and self.issue_targets:
            target = y["target"].fillna("").astype(str)
            usable = (target != "") & y["stance"].isin(self.claim_stances)
            labels = y.loc[usable, "issue"].astype(str) + ":" + target[usable]
            if labels.nunique() >= 2:
                claims = inputs.loc[usable].assign(stance=y.loc[usable, "stance"].astype(str))
                self.target_ = self._target_pipeline().fit(claims, labels)

    def fit_targets(self, X: pd.DataFrame, y: pd.DataFrame) -> "StatementClassifier":
        """Fit the target step alone (to evaluate it apart from issue and stance)."""
        self._fit_target(model_inputs(X).reset_index(drop=True), pd.DataFrame(y).reset_index(drop=True))
        return self

    def probabilities(self, X: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """For issue and stance, each class's probability per row."""
        return self._probabilities(model_inputs(X), X.index, {})

    def _shared_keys(self) -> set:
        """The features more than one of the three models reads (``pipeline_proba``'s keys)."""
        seen = [set(feature_keys(p)) for p in (self.issue_, self.stance_, self.target_) if p is not None]
        return {key for at, keys in enumerate(seen) for key in keys if any(key in other for other in seen[at + 1:])}

    def _probabilities(self, inputs: pd.DataFrame, index: pd.Index, features: dict) -> dict[str, pd.DataFrame]:
        out = {}
        keep = self._shared_keys()
        docs = inputs["doc_id"].tolist() if "doc_id" in inputs.columns else [""] * len(inputs)
        # (getattr: a model saved before stance read passages reads each sentence's stance alone)
        for name, pipeline, sequence in (("issue", self.issue_, self.passage_), ("stance", self.stance_, getattr(self, "stance_passage_", None))):
            proba = pipeline_proba(pipeline, inputs, features, keep) if len(inputs) else np.zeros((0, len(pipeline.classes_)))
            classes = pipeline.classes_
            if sequence is not None and len(inputs):
                proba = sequence.predict_proba(proba, docs)
                classes = sequence.classes_
            out[name] = pd.DataFrame(proba, index=index, columns=[str(c) for c in classes])
        return out

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """issue, stance and target with their confidences (the model's probability of its
        choice). ``target`` is "" unless the row is a claim on an issue that has targets."""
        out = pd.DataFrame(index=X.index)
        # the three models read some of the same features (the sentence's words, its context's
        # words, its embedding): each is computed once per call, for all three
        features: dict = {}
        probabilities = self._probabilities(model_inputs(X), X.index, features)
        for name, proba in probabilities.items():
            out[name] = proba.idxmax(axis=1).astype(str) if len(proba) else pd.Series(dtype=str)
            out[f"{name}_confidence"] = proba.max(axis=1).round(4) if len(proba) else pd.Series(dtype=float)
        out["target"], out["target_confidence"] = self._targets(X, out["issue"], out["stance"], features)
        return out

    def _targets(self, X: pd.DataFrame, issues: pd.Series, stances: pd.Series, features: dict | None = None) -> tuple[pd.Series, pd.Series]:
        claims = stances.isin(self.claim_stances) & issues.isin([i for i, _ in self.issue_targets])
        target = pd.Series("", index=X.index, dtype=object)
        confidence = pd.Series(0.0, index=X.index, dtype=float)
        if claims.any():
            found, sure = self.predict_targets(X.loc[claims], issues[claims], stances[claims], positions=np.flatnonzero(claims.to_numpy()),
                                               _features=features)
            target[claims], confidence[claims] = found, sure
        return target.astype(str), confidence

    def predict_targets(self, X: pd.DataFrame, issues: pd.Series, stances: pd.Series,
                        positions: np.ndarray | None = None, _features: dict | None = None) -> tuple[pd.Series, pd.Series]:
        """The target of each row as a claim with the stance and on the issue given for it
        (among that issue's targets only), and its confidence; "" for an issue without targets.

        With ``doc_id``, a claim also reads the claims on its issue within ``target_passage``
        sentences of it in its document (their target probabilities, weighted by
        ``target_passage_weight``): a passage argues about one thing, and its short sentences
        ("This is unacceptable.") take their target from it. ``positions`` are the rows' places
        in their documents' sentences (default: the rows are consecutive)."""
        allowed = dict(self.issue_targets)
        target = pd.Series("", index=X.index, dtype=object)
        confidence = pd.Series(0.0, index=X.index, dtype=float)
        has_targets = issues.isin(list(allowed)).to_numpy()
        if self.target_ is None or not has_targets.any():
            target[has_targets] = [allowed[i][-1] for i in issues[has_targets]]
            return target.astype(str), confidence
        rows = model_inputs(X.loc[has_targets]).assign(stance=stances[has_targets].astype(str).to_numpy())
        classes = [str(c) for c in self.target_.classes_]
        claim_issues = issues[has_targets].astype(str).to_numpy()
        at = np.arange(len(X)) if positions is None else np.asarray(positions)
        # ``_features``: what ``predict`` computed for its whole frame, whose rows these are at
        # ``positions``; the target model reads its share of them (the embedding) for these rows
        shared = {key: _features[key][at[has_targets]] for key in feature_keys(self.target_) if key in (_features or {})}
        # each claim's probabilities among its own issue's targets only
        proba = pipeline_proba(self.target_, rows, shared, keep=set()) * (np.array([c.split(":", 1)[0] for c in classes]) == claim_issues[:, None])
        totals = proba.sum(axis=1, keepdims=True)
        proba = np.divide(proba, totals, out=np.zeros_like(proba), where=totals > 0)
        # (getattr: a model saved before these parameters existed reads claims alone, as it was made to)
        window, weight = getattr(self, "target_passage", 0), getattr(self, "target_passage_weight", 0.0)
        if window and weight and "doc_id" in rows.columns:
            proba = passage_targets(proba, rows["doc_id"].to_numpy(), claim_issues, at[has_targets],
                                    window, weight)
        best = proba.argmax(axis=1)
        known = proba.max(axis=1) > 0
        index = X.index[has_targets]
        target[index] = [classes[b].split(":", 1)[1] if k else allowed[i][-1] for b, k, i in zip(best, known, claim_issues)]
        confidence[index] = np.round(proba.max(axis=1), 4)
        return target.astype(str), confidence

    def score(self, X: pd.DataFrame, y: pd.DataFrame) -> float:
        """Mean of issue and stance macro-F1: what model selection compares."""
        predicted = self.predict(X)
        y = pd.DataFrame(y)
        return float(np.mean([f1_score(y[c].astype(str), predicted[c].to_numpy(), average="macro") for c in ("issue", "stance")]))


def _same_fit(a, b) -> bool:
    """Whether two fitted transformers transform alike: same kind, parameters and learned state
    (for a vectoriser: vocabulary and idf; the embedder learns nothing)."""
    if a is b:
        return True
    if type(a) is not type(b) or repr(a.get_params()) != repr(b.get_params()):
        return False
    if isinstance(a, TfidfVectorizer):
        return a.vocabulary_ == b.vocabulary_ and np.array_equal(a.idf_, b.idf_)
    from pipeline.embeddings import SentenceEmbedder

    return isinstance(a, SentenceEmbedder)


def share_equal_transformers(pipelines: list[Pipeline]) -> None:
    """Where a later pipeline fitted a transformer equal to an earlier one's on the same column
    (issue and stance learn the same word vocabulary from the same sentences), it keeps the
    earlier one's object: a saved model holds it once, and ``pipeline_proba`` computes its
    features once for all."""
    seen: list[tuple[object, object]] = []
    for pipeline in pipelines:
        ct = pipeline.named_steps["features"]
        for at, (name, transformer, columns) in enumerate(ct.transformers_):
            if isinstance(transformer, str):
                continue
            for column, earlier in seen:
                if column == repr(columns) and _same_fit(earlier, transformer):
                    ct.transformers_[at] = (name, earlier, columns)
                    break
            else:
                seen.append((repr(columns), transformer))


def feature_keys(pipeline: Pipeline) -> list[tuple[int, str]]:
    """A key for each of ``pipeline``'s fitted feature transformers: the transformer and its
    column (models that share a transformer on a column read the same features)."""
    return [(id(t), repr(c)) for _, t, c in pipeline.named_steps["features"].transformers_ if not isinstance(t, str)]


def pipeline_proba(pipeline: Pipeline, inputs: pd.DataFrame, features: dict, keep: set) -> np.ndarray:
    """``pipeline.predict_proba(inputs)``, reading each transformer's features from
    ``features`` (keyed by ``feature_keys``) where another model of the same call computed
    them, and adding there those it computes that are in ``keep`` (only those: a call's
    features are held until it ends)."""
    ct = pipeline.named_steps["features"]
    weights = ct.transformer_weights or {}
    blocks = []
    for (name, transformer, columns) in [e for e in ct.transformers_ if not isinstance(e[1], str)]:  # not the dropped remainder
        key = (id(transformer), repr(columns))
        block = features.get(key)
        if block is None:
            block = transformer.transform(inputs[columns])
            if key in keep:
                features[key] = block
        weight = weights.get(name, 1.0)
        blocks.append(sparse.csr_matrix(block) * weight if weight != 1.0 else sparse.csr_matrix(block))
    return pipeline.named_steps["classify"].predict_proba(sparse.hstack(blocks, format="csr"))


def passage_targets(proba: np.ndarray, docs: np.ndarray, issues: np.ndarray, positions: np.ndarray,
                    window: int, weight: float) -> np.ndarray:
    """Each claim's target probabilities plus ``weight`` times those of the claims on the same
    issue in the same document within ``window`` sentences of it, renormalised (measured on the
    development set: target macro-F1 0.664 without, 0.708 with 3 sentences at weight 0.3;
    grouped cross-validation 0.560 and 0.570)."""
    out = proba.copy()
    order = np.lexsort((positions, issues, docs))
    for a, i in enumerate(order):
        if docs[i] == "":  # a row of no document stands alone
            continue
        for step in (-1, 1):
            b = a + step
            while 0 <= b < len(order):
                j = order[b]
                if docs[j] != docs[i] or issues[j] != issues[i] or abs(positions[j] - positions[i]) > window:
                    break
                out[i] += weight * proba[j]
                b += step
    totals = out.sum(axis=1, keepdims=True)
    return np.divide(out, totals, out=np.zeros_like(out), where=totals > 0)


def training_data(labels: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Labels as the classifier's ``X`` (text, context, doc_id: each labelled document's rows
    together, in document order), ``y`` (issue, stance, target) and the document of each row."""
    order = labels.assign(_start=pd.to_numeric(labels.get("start"), errors="coerce") if "start" in labels else 0)
    order = order.sort_values(["file", "_start"], kind="stable").reset_index(drop=True)
    X = pd.DataFrame({"text": order["text"].astype(str), "context": order["context"].fillna("").astype(str),
                      "doc_id": order["file"].astype(str)})
    target = order["target"].fillna("").astype(str) if "target" in order.columns else pd.Series("", index=order.index)
    y = pd.DataFrame({"issue": order["issue"].astype(str), "stance": order["stance"].astype(str), "target": target})
    return X, y, order["file"].astype(str)


def classifier_for(taxonomy: Taxonomy, **params) -> StatementClassifier:
    """A classifier whose label sets and terms come from the taxonomy; ``params`` set the rest
    (``Config.model_params()``)."""
    return StatementClassifier(issue_terms=terms_by_issue(taxonomy), target_terms=terms_by_target(taxonomy),
                               issue_targets=targets_by_issue(taxonomy), claim_stances=tuple(taxonomy.claim_stances), **params)


#: the parameters ``classifier_for`` takes from the taxonomy
TAXONOMY_PARAMS = ("issue_terms", "target_terms", "issue_targets", "claim_stances")


def model_revision(estimator: StatementClassifier) -> str:
    """A hash of what defines a model besides its labels: the estimator's parameters and the
    code of this module, of the embedder and of the CRF. Changing either gives a new model version."""
    from pipeline import embeddings, sequence

    digest = hashlib.sha256()
    # label sets and terms come from the taxonomy, which the labels hash already covers
    params = {k: v for k, v in estimator.get_params(deep=False).items() if k not in TAXONOMY_PARAMS}
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    for module in (inspect.getmodule(StatementClassifier), embeddings, sequence):
        digest.update(inspect.getsource(module).encode())
    if estimator.embeddings:
        # the vectors' content, not their size: refitted vectors keep the size of the old ones
        digest.update(embeddings.vectors_digest(estimator.embedding_model).encode())
    return digest.hexdigest()[:16]


@dataclass
class StatementModel:
    """A fitted classifier, with the hash of the labels it learned from and its version."""

    estimator: StatementClassifier
    labels_hash: str
    version: str

    def probabilities(self, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        return self.estimator.probabilities(frame)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.estimator.predict(frame)

    @property
    def issue(self) -> Pipeline:
        return self.estimator.issue_

    @property
    def stance(self) -> Pipeline:
        return self.estimator.stance_

    @property
    def target(self) -> Pipeline | None:
        return self.estimator.target_

    # -------------------------------------------------------------- persistence (skops)

    def save(self, folder: Path) -> None:
        import skops.io as sio

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "model.skops"
        sio.dump(self.estimator, path, compression=zipfile.ZIP_DEFLATED)
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
        try:
            estimator = sio.load(path, trusted=untrusted)
        except Exception as err:  # saved by an older design of the model
            raise ValueError(f"{path}: refused, not loadable by this version of the project ({err})") from None
        if not isinstance(estimator, StatementClassifier):
            raise ValueError(f"{path}: refused, not an issue, stance and target model")
        _check_vectors(estimator, path)
        return cls(estimator, meta["labels_hash"], meta["version"])


def _check_vectors(estimator: StatementClassifier, path: Path) -> None:
    """A model's sentence vectors are read from the installed package, not from the model: one
    fitted with other vectors would read meaningless features, so it is refused."""
    from pipeline.embeddings import SentenceEmbedder, vectors_digest

    for pipeline in (estimator.issue_, estimator.stance_, estimator.target_):
        for _, transformer, _ in (pipeline.named_steps["features"].transformers_ if pipeline is not None else ()):
            if isinstance(transformer, SentenceEmbedder):
                if getattr(transformer, "vectors_sha256_", None) != vectors_digest(transformer.model_folder):
                    raise ValueError(f"{path}: refused, trained with other sentence vectors than this installation's; retrain")


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).exists() else ""


#: Types beyond skops' defaults that our saved models hold, and nothing else is loaded.
TRUSTED_TYPES: frozenset[str] = frozenset({
    "pipeline.model.StatementClassifier", "pipeline.model.TermMatcher", "pipeline.model.TaxonomyTerms",
    "pipeline.embeddings.SentenceEmbedder", "pipeline.sequence.IssueSequence", "pipeline.sequence.PassageSequence",
})
