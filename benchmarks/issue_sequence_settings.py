"""The issue step's CRF settings compared (README, "The issue of a sentence is read with its
document"): the issue model as the estimator fits it (3-fold out-of-fold probabilities, then the
CRF), each sentence alone and with several CRF settings, on the development set and in 5-fold
grouped cross-validation with the card's nesting, over all training documents and over the whole
speeches among them. Run by hand: about 10 minutes (twenty fits of the issue model).

    python benchmarks/issue_sequence_settings.py
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import numpy as np, pandas as pd
from sklearn.base import clone
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from pipeline.taxonomy import load_taxonomy
from pipeline.labels import load_labels
from pipeline.model import training_data, model_inputs
from pipeline.registry import estimator_for
from pipeline.sequence import PassageSequence
d = ROOT / "labels"; tax = load_taxonomy(d)
X, y, g = training_data(load_labels(d, tax)); Xd, yd, gd = training_data(load_labels(d, tax, split="dev"))
Xi, Xdi = model_inputs(X), model_inputs(Xd); yt = y["issue"].to_numpy(); gv = g.to_numpy()
pipe = estimator_for(tax)._issue_pipeline()
whole = np.isin(gv, pd.read_csv(d / "ungdc_train.csv")["file"].unique())
SETTINGS = [(None, None), (0.3, 0.0), (0.3, 0.2), (0.3, 0.3), (0.3, 0.4), (0.1, 0.3), (1.0, 0.3)]
def step(Xa, ya, ga, Xb, gb):
    full = clone(pipe).fit(Xa, ya); pb = full.predict_proba(Xb)
    oof = cross_val_predict(clone(pipe), Xa, ya, groups=ga, cv=GroupKFold(3), method="predict_proba")
    out = {}
    for c2, w in SETTINGS:
        out[(c2, w)] = full.classes_[pb.argmax(1)] if c2 is None else PassageSequence(c2=c2, prior_weight=w).fit(oof, ya, ga).predict(pb, gb)
    return out
dev = step(Xi, yt, gv, Xdi, gd.to_numpy())
cv = {s: np.empty(len(yt), dtype=object) for s in SETTINGS}
for a, b in GroupKFold(5).split(Xi, yt, gv):
    part = step(Xi.iloc[a], yt[a], gv[a], Xi.iloc[b], gv[b])
    for s in SETTINGS: cv[s][b] = part[s]
labels = sorted(set(yt)); at = {c: i for i, c in enumerate(labels)}
def fmt(t, p):
    per = f1_score(t, p, average=None, labels=labels)
    return f"{f1_score(t, p, average='macro'):.3f} nato {per[at['nato']]:.2f} us {per[at['us_relations']]:.2f}"
for s in SETTINGS:
    p = cv[s].astype(str)
    print(s, "dev", fmt(yd["issue"], dev[s]), "| cv", fmt(yt, p), "| cv whole speeches", fmt(yt[whole], p[whole]), flush=True)
