"""How good a model is: grouped cross-validation by document, the development set, the
features that weigh most, and the model card that reports them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold

from pipeline.model import StatementModel, build_issue_model, build_stance_model, model_inputs
from pipeline.taxonomy import Taxonomy

TARGETS = ("issue", "stance")


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


def grouped_cv(labels: pd.DataFrame, taxonomy: Taxonomy, folds: int = 5, embeddings: bool = True) -> dict:
    """Cross-validation in which all sentences of one document fall in the same fold."""
    groups = labels["file"]
    folds = min(folds, groups.nunique())
    inputs = model_inputs(labels)
    out = {}
    templates = {"issue": build_issue_model(taxonomy), "stance": build_stance_model(taxonomy, embeddings=embeddings)}
    for target, classes in (("issue", taxonomy.issue_ids), ("stance", taxonomy.stance_ids)):
        predicted = np.empty(len(labels), dtype=object)
        template = templates[target]
        for train, test in GroupKFold(n_splits=folds).split(inputs, labels[target], groups):
            fitted = clone(template).fit(inputs.iloc[train], labels[target].iloc[train])
            predicted[test] = fitted.predict(inputs.iloc[test])
        out[target] = scores(labels[target], predicted, classes)
    out["folds"] = folds
    out["documents"] = int(groups.nunique())
    return out


def held_out_scores(model: StatementModel, labels: pd.DataFrame, taxonomy: Taxonomy) -> dict | None:
    """Scores of ``model`` on labelled sentences it was not trained on (the development set)."""
    if labels is None or labels.empty:
        return None
    predicted = model.predict(labels)
    out = {"documents": int(labels["file"].nunique())}
    for target, classes in (("issue", taxonomy.issue_ids), ("stance", taxonomy.stance_ids)):
        out[target] = scores(labels[target], predicted[target], classes)
        out[target]["reliability"] = reliability(labels[target], predicted[target], predicted[f"{target}_confidence"])
    return out


def reliability(truth: pd.Series, predicted: pd.Series, confidence: pd.Series, bands: int = 5) -> dict:
    """Whether a confidence means what it says: accuracy per band of confidence, the expected
    calibration error (the gap between the two, weighted by rows), and the accuracy of the most
    confident tenth, the sentences reports quote first as strongest claims."""
    right = (np.asarray(truth).astype(str) == np.asarray(predicted).astype(str))
    confidence = np.asarray(confidence, dtype=float)
    edges = np.linspace(0, 1, bands + 1)
    band = np.clip(np.digitize(confidence, edges[1:-1]), 0, bands - 1)
    rows, gap = [], 0.0
    for b in range(bands):
        inside = band == b
        if inside.any():
            rows.append({"from": round(float(edges[b]), 2), "to": round(float(edges[b + 1]), 2), "n": int(inside.sum()),
                         "confidence": round(float(confidence[inside].mean()), 4), "accuracy": round(float(right[inside].mean()), 4)})
            gap += abs(right[inside].mean() - confidence[inside].mean()) * inside.mean()
    top = np.argsort(-confidence, kind="stable")[: max(1, len(confidence) // 10)] if len(confidence) else []
    return {"bands": rows, "calibration_error": round(float(gap), 4),
            "top_tenth_accuracy": round(float(right[top].mean()), 4) if len(top) else None}


def telling_features(model: StatementModel, n: int = 8) -> dict:
    """Per class, the features with the largest weights in the logistic regression."""
    out = {}
    for target in TARGETS:
        pipeline = getattr(model, target)
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


def markdown_card(card: dict, taxonomy: Taxonomy) -> str:
    """``model_card.md``: what the model learned from and how well it does, class by class."""
    lines = [f"# Model card: `{card['version']}`", ""]
    lines += [f"- Labels hash: `{card['labels_hash']}`", f"- Trained: {card['trained_at']} in {card['training_seconds']:.1f} s",
              f"- Training sentences: {card['label_counts']['total']} from {card['label_counts']['documents']} documents",
              f"- Made current: {'yes' if card.get('current') else 'no'}{' — ' + card['decision'] if card.get('decision') else ''}",
              "- Features: issue, word n-grams of the sentence and its context and the taxonomy's terms in both (each term, "
              "and per issue whether any of its terms occurs); stance, word "
              "n-grams, character 4-grams" + (" and the sentence's embedding (all-MiniLM-L6-v2)" if card.get("sentence_embeddings", True)
                                              else " (no sentence embeddings: trained with --no-embeddings)"), ""]
    lines += ["## Labels", "", "| issue | sentences |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in card["label_counts"]["issue"].items()]
    lines += ["", "| stance | sentences |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in card["label_counts"]["stance"].items()]
    for basis, title in (("cv", f"Grouped cross-validation ({card['cv']['folds']} folds by document)"), ("dev", "Development set (other speeches, never trained on)")):
        block = card.get(basis)
        if not block:
            continue
        lines += ["", f"## {title}", ""]
        for target in TARGETS:
            s = block[target]
            lines += [f"### {target}: macro-F1 {s['macro_f1']}, accuracy {s['accuracy']} (n = {s['n']})", "",
                      "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
            lines += [f"| {c} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['support']} |" for c, m in s["per_class"].items()]
            if s.get("reliability"):
                r = s["reliability"]
                lines += ["", f"Confidence against accuracy: calibration error {r['calibration_error']:.3f}; the most confident tenth "
                              f"is {r['top_tenth_accuracy']:.0%} right.", "",
                          "| confidence | sentences | mean confidence | accuracy |", "|---|---|---|---|"]
                lines += [f"| {b['from']:.1f}–{b['to']:.1f} | {b['n']} | {b['confidence']:.2f} | {b['accuracy']:.2f} |" for b in r["bands"]]
            classes = s["confusion"]["classes"]
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
    for target in TARGETS:
        this = card[basis][target]["per_class"] if card.get(basis) else {}
        prev_block = previous.get("dev_on_current") if basis == "dev" else previous.get("cv")
        prev = prev_block[target]["per_class"] if prev_block else {}
        for c in sorted(set(this) | set(prev)):
            rows.append({"target": target, "class": c, "previous": prev.get(c, {}).get("f1"), "this": this.get(c, {}).get("f1")})
        rows.append({"target": target, "class": "macro-F1", "previous": (prev_block or {}).get(target, {}).get("macro_f1"),
                     "this": card[basis][target]["macro_f1"] if card.get(basis) else None})
    return {"previous": previous["version"], "basis": "the development set" if basis == "dev" else "grouped cross-validation", "rows": rows}
