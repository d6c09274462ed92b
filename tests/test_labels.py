"""The hand labels: complete for the seeds, valid under the taxonomy, bad files refused."""

import shutil

import pandas as pd
import pytest

from conftest import LABELS, SEED_FILES
from pipeline.labels import labels_hash, load_labels
from pipeline.schemas import ContractError
from pipeline.segment import segment_document


def test_every_seed_sentence_that_is_not_furniture_has_a_label(taxonomy):
    labels = pd.read_csv(LABELS / "seeds.csv", keep_default_na=False)
    labelled = set(zip(labels["file"], labels["start"], labels["end"]))
    for path in SEED_FILES:
        for r in segment_document(path.name, path.read_text(encoding="utf-8")):
            key = (path.name, r["start"], r["end"])
            assert (key in labelled) != r["is_furniture"], (path.name, r["text"])
    assert set(labels["issue"]) <= set(taxonomy.issue_ids) and set(labels["stance"]) <= set(taxonomy.stance_ids)


def test_labels_load_through_datasets_and_pass_the_schema(taxonomy):
    labels = load_labels(LABELS, taxonomy)
    assert len(labels) > 2000
    assert {"text", "context", "issue", "stance", "path", "line"} <= set(labels.columns)
    dev = load_labels(LABELS, taxonomy, split="dev")
    assert len(dev) >= 600 and set(dev["file"]).isdisjoint(set(labels["file"]))
    assert not any(f.startswith("RUS_") for f in pd.concat([labels, dev])["file"])


@pytest.fixture()
def labels_copy(tmp_path):
    folder = tmp_path / "labels"
    folder.mkdir()
    shutil.copy(LABELS / "taxonomy.json", folder)
    shutil.copy(LABELS / "seeds.csv", folder)
    return folder


def _edit(folder, fn):
    path = folder / "seeds.csv"
    frame = pd.read_csv(path, keep_default_na=False)
    frame = fn(frame)
    frame.to_csv(path, index=False)


@pytest.mark.parametrize("edit,message", [
    (lambda f: f.assign(issue=f["issue"].where(f.index != 4, "ukraine")), r"seeds.csv, line 6, row 4, column issue: failed issue must be one of"),
    (lambda f: f.assign(stance=f["stance"].where(f.index != 0, "positive")), r"seeds.csv, line 2, row 0, column stance"),
    (lambda f: f.drop(columns=["stance"]), r"seeds.csv: missing column\(s\) stance"),
    (lambda f: f.assign(text=f["text"].where(f.index != 9, "   ")), r"seeds.csv, line 11, row 9, column text"),
    (lambda f: pd.concat([f, f.iloc[[3]].assign(stance="support" if f.iloc[3]["stance"] != "support" else "oppose")]),
     r"the same sentence is labelled two different ways"),
])
def test_bad_labels_are_refused_naming_file_and_line(labels_copy, taxonomy, edit, message):
    _edit(labels_copy, edit)
    with pytest.raises(ContractError, match=message):
        load_labels(labels_copy, taxonomy)


def test_the_labels_hash_changes_with_the_labels(labels_copy):
    before = labels_hash(labels_copy)
    assert labels_hash(labels_copy) == before
    _edit(labels_copy, lambda f: f.assign(stance=f["stance"].where(f.index != 2, "oppose")))
    assert labels_hash(labels_copy) != before
