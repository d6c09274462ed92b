"""What more labels would buy: the default model trained on a share of the training documents
(whole label-file documents drawn at random, so a speech's passages stay together), scored on
the development set. Issue and stance macro-F1, and F1 of the two issues the held-out set finds
hardest, for each share; then the gain per doubling of the labels, fitted on the log of the
number of training sentences (a straight line: learning curves of linear text models are close
to that over a few doublings).

    python benchmarks/learning_curve.py                      # shares 0.25 0.5 0.75 1, two draws each
    python benchmarks/learning_curve.py --shares 0.5 1 --draws 3

Some two minutes a model on two cores. Run by hand: what it prints is a planning figure (how
many more labels a floor would take), not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from sklearn.metrics import f1_score

    from pipeline.config import Config
    from pipeline.labels import load_labels
    from pipeline.model import training_data
    from pipeline.registry import estimator_for
    from pipeline.taxonomy import load_taxonomy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--draws", type=int, default=2, help="random draws of documents for each share below 1")
    args = parser.parse_args()
    labels = ROOT / "labels"
    taxonomy = load_taxonomy(labels)
    X, y, documents = training_data(load_labels(labels, taxonomy))
    Xd, yd, _ = training_data(load_labels(labels, taxonomy, split="dev"))
    files = np.array(sorted(documents.unique()))
    params = Config().model_params()
    print(f"{len(X):,} training sentences in {len(files):,} documents; development set {len(Xd):,} sentences")
    print(f"{'share':>6} {'sentences':>10} {'issue':>7} {'stance':>7} {'nato':>6} {'us_rel':>6}")
    points = []  # (sentences, issue, stance)
    for share in args.shares:
        for draw in range(args.draws if share < 1 else 1):
            keep = np.random.default_rng(draw).choice(files, int(round(len(files) * share)), replace=False)
            rows = documents.isin(set(keep)).to_numpy()
            started = time.perf_counter()
            model = estimator_for(taxonomy, params=params).fit(X[rows], y[rows])
            predicted = model.predict(Xd)
            issue = f1_score(yd["issue"], predicted["issue"], average="macro")
            stance = f1_score(yd["stance"], predicted["stance"], average="macro")
            nato, us = f1_score(yd["issue"], predicted["issue"], labels=["nato", "us_relations"], average=None)
            points.append((rows.sum(), issue, stance))
            print(f"{share:>6.2f} {rows.sum():>10,} {issue:>7.4f} {stance:>7.4f} {nato:>6.3f} {us:>6.3f}"
                  f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    if len({n for n, _, _ in points}) > 1:
        n, issue, stance = map(np.asarray, zip(*points))
        for name, score in (("issue", issue), ("stance", stance)):
            slope = np.polyfit(np.log2(n), score, 1)[0]
            print(f"{name}: {slope:+.4f} macro-F1 per doubling of the training sentences (least squares on log2 of their number)")


if __name__ == "__main__":
    main()
