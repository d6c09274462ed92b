"""How good a model is: grouped cross-validation by document, the development set, the
features that weigh most, and the model card that reports them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold, cross_val_predict

from pipeline.model import StatementClassifier, StatementModel, training_data
from pipeline.taxonomy import Taxonomy

TARGETS = ("issue", "stance", "target")


def scores(truth: pd.Series, predicted: pd.Series, classes: list[str]) -> dict:
    """Per-class precision, recall, F1 and support; macro-F1 over the classes present in
    ``truth``; the confusion matrix (rows: truth, columns: predicted, in ``classes`` order)."""
    truth, predicted = truth.astype(str).to_numpy(), np.asarray(predicted).astype(str)
    present = [c for c in classes if c in set(truth)]
    p, r, f, n = precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
    return {
        "n": int(len(truth)),
        "macro_f1": round(float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)), 4) if present else None,
        "accuracy": round(float((truth == predicted).mean()), 4) if len(truth) else None,
        "per_class": {c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4), "support": int(n[i])}
                      for i, c in enumerate(classes)},
        "confusion": {"classes": classes, "matrix": confusion_matrix(truth, predicted, labels=classes).tolist()},
    }


def grouped_cv(estimator: StatementClassifier, labels: pd.DataFrame, taxonomy: Taxonomy, folds: int = 5) -> dict:
    """Cross-validation of ``estimator`` in which all sentences of one document fall in the same
    fold (scikit-learn's ``cross_val_predict`` with ``GroupKFold``)."""
    X, y, groups = training_data(labels)
    folds = min(folds, groups.nunique())
    predicted = cross_val_predict(estimator, X, y, groups=groups, cv=GroupKFold(n_splits=folds))
    predicted = pd.DataFrame(predicted, columns=PREDICTED_COLUMNS)
    predicted["target"] = _cross_validated_targets(estimator, X, y, groups, folds)
    out = _all_scores(X, y, groups, predicted, taxonomy, estimator=None)
    out["folds"] = folds
    out["documents"] = int(groups.nunique())
    return out


def _cross_validated_targets(estimator: StatementClassifier, X: pd.DataFrame, y: pd.DataFrame, groups: pd.Series,
                             folds: int) -> pd.Series:
    """For each labelled claim, the target that a target model trained on the other folds gives
    it as a claim with its labelled issue and stance (what the card reports for targets)."""
    found = pd.Series("", index=X.index, dtype=object)
    claims = (y["target"] != "").to_numpy()
    if claims.sum() < folds:
        return found
    for train, test in GroupKFold(n_splits=folds).split(X[claims], groups=groups[claims]):
        rows = np.flatnonzero(claims)
        fitted = clone(estimator).fit_targets(X.iloc[rows[train]], y.iloc[rows[train]])
        index = X.index[rows[test]]
        found[index], _ = fitted.predict_targets(X.loc[index], y.loc[index, "issue"], y.loc[index, "stance"], positions=rows[test])
    return found.astype(str)


def held_out_scores(model: StatementModel, labels: pd.DataFrame, taxonomy: Taxonomy) -> dict | None:
    """Scores of ``model`` on labelled sentences it was not trained on (the development set),
    with bootstrap intervals and confidence against accuracy."""
    if labels is None or labels.empty:
        return None
    X, y, groups = training_data(labels)
    predicted = model.predict(X).reset_index(drop=True)
    out = _all_scores(X, y, groups, predicted, taxonomy, estimator=model.estimator)
    for target in ("issue", "stance"):
        out[target]["reliability"] = reliability(y[target], predicted[target], predicted[f"{target}_confidence"])
    return out


#: the columns ``StatementClassifier.predict`` returns, in order
PREDICTED_COLUMNS = ["issue", "issue_confidence", "stance", "stance_confidence", "target", "target_confidence"]


def _all_scores(X: pd.DataFrame, y: pd.DataFrame, groups: pd.Series, predicted: pd.DataFrame, taxonomy: Taxonomy,
                estimator: StatementClassifier | None) -> dict:
    out: dict = {"documents": int(groups.nunique())}
    for target, classes in (("issue", taxonomy.issue_ids), ("stance", taxonomy.stance_ids)):
        out[target] = scores(y[target], predicted[target], classes)
        out[target]["intervals"] = bootstrap_intervals(y[target], predicted[target], groups, classes)
    # targets are scored on the labelled claims, as claims on their labelled issue: the target
    # step's own accuracy, apart from the issue and stance errors scored above
    claims = (y["target"] != "").to_numpy()
    if claims.any():
        truth = y["issue"][claims] + ":" + y["target"][claims]
        if estimator is not None:
            found, _ = estimator.predict_targets(X[claims], y["issue"][claims], y["stance"][claims], positions=np.flatnonzero(claims))
        else:  # cross-validated: the fold's target model on these claims (``_cross_validated_targets``)
            found = predicted["target"][claims].astype(str)
        guess = y["issue"][claims] + ":" + found.astype(str)
        classes = sorted(set(truth))
        out["target"] = scores(truth, guess, classes)
        out["target"]["intervals"] = bootstrap_intervals(truth, guess, groups[claims], classes)
    return out


def bootstrap_intervals(truth: pd.Series, predicted: pd.Series, groups: pd.Series, classes: list[str],
                        rounds: int = 500, level: float = 0.90, seed: int = 0) -> dict:
    """A bootstrap interval (``level``, 90 % by default) on each class's F1 and on macro-F1,
    resampling whole documents: sentences of one speech are not independent draws."""
    truth, predicted, groups = (np.asarray(a).astype(str) for a in (truth, predicted, groups))
    docs, doc_of = np.unique(groups, return_inverse=True)
    present = [c for c in classes if c in set(truth)]
    # each document's true positives, false positives and false negatives per class; a resample
    # of documents is then a weighted sum of those counts (its F1 equals f1_score on the rows)
    index = {c: i for i, c in enumerate(classes)}
    t = np.array([index.get(v, -1) for v in truth])
    p = np.array([index.get(v, -1) for v in predicted])
    counts = np.zeros((3, len(docs), len(classes)))
    np.add.at(counts[0], (doc_of[(t == p) & (t >= 0)], t[(t == p) & (t >= 0)]), 1)
    np.add.at(counts[1], (doc_of[(t != p) & (p >= 0)], p[(t != p) & (p >= 0)]), 1)
    np.add.at(counts[2], (doc_of[(t != p) & (t >= 0)], t[(t != p) & (t >= 0)]), 1)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(docs), size=(rounds, len(docs)))
    weights = np.stack([np.bincount(row, minlength=len(docs)) for row in draws]).astype(float)
    tp, fp, fn = (weights @ c for c in counts)
    denominator = 2 * tp + fp + fn
    per_class = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    columns = [index[c] for c in present]
    macro = per_class[:, columns].mean(axis=1) if present else np.full(rounds, np.nan)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = {c: [round(float(np.percentile(per_class[:, i], lo)), 4), round(float(np.percentile(per_class[:, i], hi)), 4)]
           for i, c in enumerate(classes) if c in present}
    out["macro_f1"] = [round(float(np.nanpercentile(macro, lo)), 4), round(float(np.nanpercentile(macro, hi)), 4)]
    out["level"] = level
    return out


def reliability(truth: pd.Series, predicted: pd.Series, confidence: pd.Series, bands: int = 5) -> dict:
    """Whether a confidence means what it says: accuracy per band of confidence (scikit-learn's
    ``calibration_curve``), the expected calibration error (the gap between the two, weighted by
    rows), and the accuracy of the most confident tenth, the claims reports quote first."""
    right = (np.asarray(truth).astype(str) == np.asarray(predicted).astype(str)).astype(int)
    confidence = np.clip(np.asarray(confidence, dtype=float), 0, 1)
    if not len(confidence):
        return {"bands": [], "calibration_error": 0.0, "top_tenth_accuracy": None}
    accuracy, mean_confidence = calibration_curve(right, confidence, n_bins=bands, strategy="uniform")
    edges = np.linspace(0, 1, bands + 1)
    counts = np.bincount(np.clip(np.searchsorted(edges[1:-1], confidence), 0, bands - 1), minlength=bands)
    occupied = np.flatnonzero(counts)
    rows = [{"from": round(float(edges[b]), 2), "to": round(float(edges[b + 1]), 2), "n": int(counts[b]),
             "confidence": round(float(c), 4), "accuracy": round(float(a), 4)}
            for b, a, c in zip(occupied, accuracy, mean_confidence)]
    gap = float(sum(abs(a - c) * counts[b] for b, a, c in zip(occupied, accuracy, mean_confidence)) / len(confidence))
    top = np.argsort(-confidence, kind="stable")[: max(1, len(confidence) // 10)]
    return {"bands": rows, "calibration_error": round(gap, 4), "top_tenth_accuracy": round(float(right[top].mean()), 4)}


def telling_features(model: StatementModel, n: int = 8) -> dict:
    """Per class, the features with the largest weights in the logistic regression."""
    out = {}
    for target in TARGETS:
        pipeline = getattr(model, target)
        if pipeline is None:
            continue
        names = _feature_names(pipeline.named_steps["features"])
        clf = pipeline.named_steps["classify"]
        coefs = clf.coef_ if len(clf.classes_) > 2 else np.vstack([-clf.coef_[0], clf.coef_[0]])
        out[target] = {}
        for i, c in enumerate(clf.classes_):
            ranked = [names[j] for j in np.argsort(coefs[i])[::-1] if names[j] is not None]
            out[target][str(c)] = ranked[:n]
    return out


def _feature_names(features) -> list[str | None]:
    """Readable names of the columns of the feature matrix; None for hashed features."""
    names: list[str | None] = []
    for name, transformer, _ in features.transformers_:
        if hasattr(transformer, "get_feature_names_out") and not hasattr(transformer, "steps"):
            names.extend(f"{name}: {f}" for f in transformer.get_feature_names_out())
        elif hasattr(transformer, "steps"):  # hashed character n-grams have no names
            names.extend([None] * transformer.named_steps["count"].n_features)
        else:  # nor have the dimensions of a sentence embedding
            names.extend([None] * getattr(transformer, "n_features_out_", 0))
    return names


def headline(card: dict) -> dict:
    """The figures two models are compared on: development-set macro-F1 when there is a
    development set, else grouped cross-validation."""
    basis = "dev" if card.get("dev") else "cv"
    source = card.get(basis) or {}
    return {"basis": basis, "issue": (source.get("issue") or {}).get("macro_f1"), "stance": (source.get("stance") or {}).get("macro_f1")}


def _issue_sequence_words(card: dict) -> str:
    if card.get("reads_documents"):
        return ", then a CRF over its document's sentences on those issue probabilities"
    if (card.get("parameters") or {}).get("passages"):
        return ", each sentence alone (an issue is labelled in fewer documents than the CRF has folds)"
    return ""


def markdown_card(card: dict, taxonomy: Taxonomy) -> str:
    """``model_card.md``: what the model learned from and how well it does, class by class."""
    # cards written before they recorded ``embedding_teacher`` are of models whose vectors were
    # fitted to all-MiniLM-L6-v2
    lines = [f"# Model card: `{card['version']}`", ""]
    lines += [f"- Labels hash: `{card['labels_hash']}`", f"- Trained: {card['trained_at']} in {card['training_seconds']:.1f} s",
              f"- Training sentences: {card['label_counts']['total']} from {card['label_counts']['documents']} documents",
              f"- Made current: {'yes' if card.get('current') else 'no'}{' — ' + card['decision'] if card.get('decision') else ''}",
              "- Features: issue, word n-grams of the sentence and its context and the taxonomy's terms in both (each term, "
              "and per issue whether any of its terms occurs)" + _issue_sequence_words(card) + "; "
              "stance, word n-grams" + (", character 4-grams" if (card.get("parameters") or {}).get("char_weight") else "") + (f" and the sentence's static embedding (fitted to {card.get('embedding_teacher') or 'all-MiniLM-L6-v2'})"
                                                          if card.get("sentence_embeddings", True)
                                                          else " (no sentence embeddings: trained with --no-embeddings)")
              + (", then a CRF over its document's sentences on those stance probabilities" if card.get("stance_reads_documents") else "")
              + "; target, word n-grams of the sentence and its context, each target's terms, the claim's stance and the "
                "sentence's embedding, among the targets of the claim's issue" + (", with the claims on its issue around it in its document"
                                                                                if (card.get("parameters") or {}).get("target_passage") else ""),
              f"- Parameters: `{json.dumps(card.get('parameters', {}), sort_keys=True)}`", ""]
    lines += ["## Labels", "", "| issue | sentences |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in card["label_counts"]["issue"].items()]
    lines += ["", "| stance | sentences |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in card["label_counts"]["stance"].items()]
    folds = (card.get("cv") or {}).get("folds")
    for basis, title in (("cv", f"Grouped cross-validation ({folds} folds by document)"), ("dev", "Development set (other speeches, never trained on)")):
        block = card.get(basis)
        if not block:
            continue
        lines += ["", f"## {title}", ""]
        for target in TARGETS:
            s = block.get(target)
            if not s:
                continue
            intervals = s.get("intervals") or {}
            span = lambda key: f"{intervals[key][0]:.2f}–{intervals[key][1]:.2f}" if key in intervals else "–"
            note = " (labelled claims, as claims on their labelled issue)" if target == "target" else ""
            lines += [f"### {target}: macro-F1 {s['macro_f1']} (90% interval {span('macro_f1')}), accuracy {s['accuracy']} (n = {s['n']}){note}", "",
                      "| class | precision | recall | F1 | 90% interval | support |", "|---|---|---|---|---|---|"]
            lines += [f"| {c} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {span(c)} | {m['support']} |"
                      for c, m in s["per_class"].items() if m["support"] or m["precision"]]
            if s.get("reliability"):
                r = s["reliability"]
                lines += ["", f"Confidence against accuracy: calibration error {r['calibration_error']:.3f}; the most confident tenth "
                              f"is {r['top_tenth_accuracy']:.0%} right.", "",
                          "| confidence | sentences | mean confidence | accuracy |", "|---|---|---|---|"]
                lines += [f"| {b['from']:.1f}–{b['to']:.1f} | {b['n']} | {b['confidence']:.2f} | {b['accuracy']:.2f} |" for b in r["bands"]]
            classes = s["confusion"]["classes"]
            if target == "target":
                lines.append("")
                continue
            lines += ["", "Confusion (rows: label, columns: predicted):", "", "| | " + " | ".join(classes) + " |", "|---|" + "---|" * len(classes)]
            lines += [f"| **{c}** | " + " | ".join(map(str, row)) + " |" for c, row in zip(classes, s["confusion"]["matrix"])]
            lines.append("")
    comparison = card.get("comparison")
    if comparison:
        lines += ["## Compared with the previous model", "",
                  f"Previous: `{comparison['previous']}`, compared on {comparison['basis']}.", "",
                  "| label | class | previous F1 | this F1 | change |", "|---|---|---|---|---|"]
        for row in comparison["rows"]:
            prev = "–" if row["previous"] is None else f"{row['previous']:.2f}"
            this = "–" if row["this"] is None else f"{row['this']:.2f}"
            change = "" if row["previous"] is None or row["this"] is None else f"{row['this'] - row['previous']:+.2f}"
            lines.append(f"| {row['target']} | {row['class']} | {prev} | {this} | {change} |")
        lines.append("")
    lines += ["## Most telling features", ""]
    for target, classes in card["features"].items():
        for c, feats in classes.items():
            lines.append(f"- **{target} = {c}**: " + ", ".join(f"`{f}`" for f in feats))
    lines += ["", "## Indicative terms (from `labels/taxonomy.json`, used as features)", ""]
    for issue in taxonomy.issues:
        if issue.terms:
            lines.append(f"- **{issue.id}**: " + ", ".join(issue.terms))
    return "\n".join(lines).rstrip() + "\n"


def comparison(card: dict, previous: dict | None) -> dict | None:
    """Class-by-class F1 of this model against the previous one, on the same basis."""
    if not previous:
        return None
    basis = "dev" if card.get("dev") and previous.get("dev_on_current") else "cv"
    rows = []
    for target in ("issue", "stance"):
        this = card[basis][target]["per_class"] if card.get(basis) else {}
        prev_block = previous.get("dev_on_current") if basis == "dev" else previous.get("cv")
        prev = prev_block[target]["per_class"] if prev_block else {}
        for c in sorted(set(this) | set(prev)):
            rows.append({"target": target, "class": c, "previous": prev.get(c, {}).get("f1"), "this": this.get(c, {}).get("f1")})
        rows.append({"target": target, "class": "macro-F1", "previous": (prev_block or {}).get(target, {}).get("macro_f1"),
                     "this": card[basis][target]["macro_f1"] if card.get(basis) else None})
    return {"previous": previous["version"], "basis": "the development set" if basis == "dev" else "grouped cross-validation", "rows": rows}
