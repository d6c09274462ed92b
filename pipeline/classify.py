"""Classify: issue and stance for every sentence, with confidences."""

from __future__ import annotations

import pandas as pd

from pipeline.context import sentence_contexts
from pipeline.model import StatementModel
from pipeline.taxonomy import Taxonomy


def classified_sentences(sentences: pd.DataFrame, model: StatementModel, taxonomy: Taxonomy, context_sentences: int) -> pd.DataFrame:
    """Sentences with issue, stance, target and confidences. The model reads each sentence with
    its context and its passage (the sentences around it in its document). Page furniture takes
    the taxonomy's furniture label; questions and narration are neutral by the codebook (stance
    rule 1), so they are not claims and have no target."""
    out = sentences.copy()
    out["context"] = sentence_contexts(sentences, context_sentences)
    content = ~out["is_furniture"]
    predicted = model.predict(out.loc[content])
    out["issue"] = taxonomy.furniture_issue
    out["stance"] = taxonomy.furniture_stance
    out["issue_confidence"] = 1.0
    out["stance_confidence"] = 1.0
    out["target"] = ""
    out["target_confidence"] = 0.0
    for column in predicted.columns:
        out.loc[content, column] = predicted[column]
    not_own_words = content & out["role"].isin(["question", "narration"])
    out.loc[not_own_words, "stance"] = taxonomy.furniture_stance
    out.loc[not_own_words, "stance_confidence"] = 1.0
    out.loc[not_own_words, "target"] = ""
    out.loc[not_own_words, "target_confidence"] = 0.0
    for column in ("issue_confidence", "stance_confidence", "target_confidence"):
        out[column] = out[column].astype(float)
    out["target"] = out["target"].astype(str)
    return out.drop(columns=["context"])
