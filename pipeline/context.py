"""The context of a sentence: what comes before it in its document.

The codebook says context carries: the question an answer follows, the passage a sentence
continues. The model reads this text beside the sentence itself.
"""

from __future__ import annotations

from collections import deque

import pandas as pd


def sentence_contexts(sentences: pd.DataFrame, n: int = 2) -> pd.Series:
    """For each row: the question of the current answer turn (if any), then the ``n``
    preceding non-furniture sentences of the same document. Rows must be in document order."""
    contexts: list[str] = []
    doc = None
    previous: deque[str] = deque(maxlen=n)
    question: list[str] = []
    last_role = None
    for row in sentences[["doc_id", "text", "role", "is_furniture"]].itertuples(index=False):
        if row.doc_id != doc:
            doc, question, last_role = row.doc_id, [], None
            previous.clear()
        if row.is_furniture:
            contexts.append("")
            continue
        if row.role == "question":
            if last_role != "question":
                question = []
            question.append(row.text)
            asked = []
        else:
            asked = [q for q in question if q not in previous]
        contexts.append(" ".join([*asked, *previous]) if n else "")
        previous.append(row.text)
        last_role = row.role
    return pd.Series(contexts, index=sentences.index, dtype=str)
