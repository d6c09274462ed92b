"""The issue and the stance of each sentence read with its document: a linear-chain CRF over a
document's sentences, on what the sentence model says of each of them.

The codebook's rule 2 says context carries: "This is regrettable." after a passage on NATO's
exercises is ``nato``. A sentence model sees two sentences of context at most; the CRF reads the
whole document as a sequence. It learns how likely one issue is to follow another (passages run
for several sentences) and weighs each sentence's own issue probabilities against its
neighbours', so that a sentence that never names NATO, inside a passage on NATO, takes the
passage's issue. Stance runs on the same way, less strongly: a passage of criticism holds
sentences that say only what happened ("The talks were broken off."), and the speaker means them
as part of it.

It is trained with ``sklearn-crfsuite``; its weights are then kept as two numpy arrays (one per
sentence feature and label, one per pair of labels) and decoded here with forward-backward, so a
saved model holds no crfsuite object and prediction needs nothing on disk.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator


#: documents shorter than this are read sentence by sentence. The development set's speeches
#: cut into pieces of n sentences, issue macro-F1 with the CRF: 0.36 (n = 1), 0.70 (2), 0.74 (3),
#: 0.756 (4), 0.77 (5), 0.79 (whole speeches); the sentence model alone 0.753
SHORTEST_PASSAGE = 4


def document_runs(docs) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each run of consecutive rows with one document. A row without a
    document ("") is a run of its own: it stands alone."""
    docs = np.asarray(docs, dtype=object)
    n = len(docs)
    if n == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    new = np.ones(n, dtype=bool)
    new[1:] = (docs[1:] != docs[:-1]) | (docs[1:] == "")
    starts = np.flatnonzero(new)
    return starts, np.diff(np.append(starts, n))


def sentence_features(proba: np.ndarray) -> np.ndarray:
    """What the CRF reads of each sentence: a bias, and the sentence model's probability of each
    label. (Not their logs as well: given those, crfsuite learnt no weight for any of them,
    and the model was the same.)"""
    proba = np.asarray(proba, dtype=float)
    return np.hstack([np.ones((len(proba), 1)), proba])


def _feature_names(k: int) -> list[str]:
    return ["bias", *(f"p{j}" for j in range(k))]


def sequence_marginals(emissions: np.ndarray, transitions: np.ndarray, docs) -> np.ndarray:
    """Each row's probability of each label given its whole document (forward-backward over the
    document's rows, in order): ``emissions`` are the rows' label scores, ``transitions[a, b]``
    the score of label ``b`` following label ``a``."""
    n, k = emissions.shape
    if n == 0:
        return np.zeros((0, k))
    starts, lengths = document_runs(docs)
    order = np.argsort(-lengths, kind="stable")
    starts, lengths = starts[order], lengths[order]
    # in probability space, each row's messages rescaled to sum to one: a row's scale is common
    # to all its labels, so the marginals are unchanged, and nothing overflows. One matrix
    # product per position, where logs took a log-sum-exp: several times faster on speeches
    emitted = np.exp(emissions - emissions.max(axis=1, keepdims=True))
    passing = np.exp(transitions - transitions.max())
    forward, backward = emitted / emitted.sum(axis=1, keepdims=True), np.ones((n, k))
    # all documents advance one position at a time; the longest go first, so the ones still
    # running at position t are a prefix
    for t in range(1, int(lengths[0])):
        rows = starts[: np.count_nonzero(lengths > t)] + t
        message = (forward[rows - 1] @ passing) * emitted[rows]
        forward[rows] = message / message.sum(axis=1, keepdims=True)
    for t in range(int(lengths[0]) - 2, -1, -1):
        rows = starts[: np.count_nonzero(lengths > t + 1)] + t
        message = (emitted[rows + 1] * backward[rows + 1]) @ passing.T
        backward[rows] = message / message.sum(axis=1, keepdims=True)
    marginals = forward * backward
    return marginals / marginals.sum(axis=1, keepdims=True)


class PassageSequence(BaseEstimator):
    """Label probabilities of sentences (their issue, or their stance), re-read as sequences over
    their documents.

    ``fit(proba, y, docs)``: ``proba`` is what the sentence model says of each row (out of fold,
    as it will be at run time: rows it did not learn from), ``docs`` each row's document, rows of
    one document together and in order. ``predict_proba(proba, docs)`` gives each row's label
    probabilities given its document.

    ``c2`` is the CRF's L2 penalty. The CRF learns the labels' frequencies, which leaves the rare
    ones fewer sentences than the class-balanced sentence model gives them; ``prior_weight``
    divides each label's probability by its training frequency to that power (0: the CRF's own
    probabilities)."""

    def __init__(self, c2: float = 0.3, prior_weight: float = 0.3, max_iterations: int = 300):
        self.c2 = c2
        self.prior_weight = prior_weight
        self.max_iterations = max_iterations

    def fit(self, proba: np.ndarray, y, docs) -> "PassageSequence":
        import sklearn_crfsuite

        proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=object).astype(str)
        self.classes_ = np.unique(y)
        if proba.shape[1] != len(self.classes_):
            raise ValueError(f"{proba.shape[1]} probability columns for {len(self.classes_)} labels")
        names = _feature_names(len(self.classes_))
        features = sentence_features(proba)
        sequences, labels = [], []
        for start, length in zip(*document_runs(docs)):
            block = features[start:start + length]
            sequences.append([dict(zip(names, row.tolist())) for row in block])
            labels.append(y[start:start + length].tolist())
        crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c2=self.c2, max_iterations=self.max_iterations)
        crf.fit(sequences, labels)
        at = {str(c): j for j, c in enumerate(self.classes_)}
        self.state_weights_ = np.zeros((len(names), len(self.classes_)))
        for (name, label), weight in crf.state_features_.items():
            self.state_weights_[names.index(name), at[label]] = weight
        self.transitions_ = np.zeros((len(self.classes_), len(self.classes_)))
        for (before, after), weight in crf.transition_features_.items():
            self.transitions_[at[before], at[after]] = weight
        self.log_prior_ = np.log(np.array([np.mean(y == c) for c in self.classes_]))
        return self

    def predict_proba(self, proba: np.ndarray, docs) -> np.ndarray:
        """Each row's probabilities given its document. The rows of a document shorter than
        ``SHORTEST_PASSAGE`` sentences (and a row without one) keep the sentence model's: the CRF
        learnt from passages, and its weights for a sentence hold only with the transitions
        around it ("NATO expansion threatens Europe." alone came out `other`)."""
        proba = np.asarray(proba, dtype=float)
        emissions = sentence_features(proba) @ self.state_weights_
        marginals = sequence_marginals(emissions, self.transitions_, docs)
        adjusted = np.log(np.clip(marginals, 1e-12, 1.0)) - self.prior_weight * self.log_prior_
        adjusted = np.exp(adjusted - adjusted.max(axis=1, keepdims=True)) if len(adjusted) else adjusted
        adjusted = adjusted / adjusted.sum(axis=1, keepdims=True) if len(adjusted) else adjusted
        starts, lengths = document_runs(docs)
        for start, length in zip(starts[lengths < SHORTEST_PASSAGE], lengths[lengths < SHORTEST_PASSAGE]):
            adjusted[start:start + length] = proba[start:start + length]
        return adjusted

    def predict(self, proba: np.ndarray, docs) -> np.ndarray:
        return self.classes_[self.predict_proba(proba, docs).argmax(axis=1)]


#: the name models saved before stance read passages give the class
IssueSequence = PassageSequence
