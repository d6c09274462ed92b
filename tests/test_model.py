"""The classifier: saved with skops, refused when it is not ours."""

import pandas as pd
import pytest

from pipeline.registry import model_for_run
from conftest import LABELS
from pipeline.model import StatementModel


def test_predictions_have_a_label_and_confidence_for_each_sentence(trained_model, taxonomy):
    frame = pd.DataFrame({"text": ["We will never accept the DPRK's nuclear status.", "The JCPOA must be preserved."],
                          "context": ["", ""]})
    out = trained_model.predict(frame)
    assert list(out["issue"]) == ["dprk", "iran"]
    assert out["issue_confidence"].between(0, 1).all() and out["stance_confidence"].between(0, 1).all()


def test_a_saved_model_loads_and_predicts_the_same(trained_model, tmp_path):
    trained_model.save(tmp_path)
    loaded = StatementModel.load(tmp_path)
    frame = pd.DataFrame({"text": ["NATO expansion is dangerous."], "context": [""]})
    pd.testing.assert_frame_equal(loaded.predict(frame), trained_model.predict(frame))


def test_a_model_file_holding_foreign_types_is_refused(tmp_path):
    import hashlib
    import json
    from collections import OrderedDict
    from fractions import Fraction

    import skops.io as sio

    # a file that is not the project's, even with a matching checksum beside it
    sio.dump({"issue": Fraction(1, 3), "stance": OrderedDict()}, tmp_path / "model.skops")
    digest = hashlib.sha256((tmp_path / "model.skops").read_bytes()).hexdigest()
    (tmp_path / "model.json").write_text(json.dumps({"labels_hash": "x", "version": "x", "sha256": digest}))
    with pytest.raises(ValueError, match="refused, it holds types this project never saves: .*Fraction"):
        StatementModel.load(tmp_path)


def test_an_altered_or_foreign_model_file_is_refused(trained_model, tmp_path):
    trained_model.save(tmp_path)
    data = bytearray((tmp_path / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "model.skops").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="refused, the file was altered since it was saved"):
        StatementModel.load(tmp_path)
    (tmp_path / "model.skops").write_bytes(b"import os; os.system('echo pwned')")
    import hashlib, json
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["sha256"] = hashlib.sha256(b"import os; os.system('echo pwned')").hexdigest()
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="refused, not a model file this project saved"):
        StatementModel.load(tmp_path)


def test_the_model_is_cached_by_the_labels_content(tmp_path, taxonomy):
    import shutil

    labels = tmp_path / "labels"
    labels.mkdir()
    for name in ("taxonomy.json", "seeds.csv"):
        shutil.copy(LABELS / name, labels)
    first, note = model_for_run(labels, tmp_path / "models", taxonomy)
    again, note_again = model_for_run(labels, tmp_path / "models", taxonomy)
    assert note.startswith("labels changed: trained") and note_again.startswith("reused")
    assert again.version == first.version


def test_taxonomy_terms_mark_each_term_and_each_issue_whose_terms_occur():
    from pipeline.model import TaxonomyTerms

    groups = (("dprk", ("pyongyang", "inter-korean")), ("iran", ("jcpoa", "joint comprehensive plan of action")))
    terms = TaxonomyTerms(groups).fit(["x"])
    marks = terms.transform(["Talks in Pyongyang resumed.", "The Joint Comprehensive Plan of Action holds.",
                             "We welcome inter-Korean and JCPOA talks.", "Nothing here."])
    assert list(terms.get_feature_names_out()) == ["inter-korean", "jcpoa", "joint comprehensive plan of action", "pyongyang",
                                                   "any dprk term", "any iran term"]
    assert marks.toarray().tolist() == [[0, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 1], [1, 1, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]]


def test_a_term_added_to_the_taxonomy_counts_for_its_issue_without_examples(taxonomy):
    import dataclasses

    from pipeline.model import build_issue_model, model_inputs

    labels = pd.read_csv(LABELS / "seeds.csv", keep_default_na=False)
    labels = labels[labels["issue"] != "other"]  # no sentence names the new term
    sentence = pd.DataFrame({"text": ["Zorglub must stop its provocations."], "context": [""]})
    before = build_issue_model(taxonomy).fit(model_inputs(labels), labels["issue"])
    edited = dataclasses.replace(taxonomy, issues=tuple(
        dataclasses.replace(i, terms=i.terms + ("Zorglub",)) if i.id == "dprk" else i for i in taxonomy.issues))
    after = build_issue_model(edited).fit(model_inputs(labels), labels["issue"])
    dprk = list(after.classes_).index("dprk")
    assert after.predict_proba(model_inputs(sentence))[0, dprk] > before.predict_proba(model_inputs(sentence))[0, dprk] + 0.1
