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
    import skops.io as sio
    from collections import OrderedDict
    from fractions import Fraction

    (tmp_path / "model.json").write_text('{"labels_hash": "x", "version": "x"}')
    sio.dump({"issue": Fraction(1, 3), "stance": OrderedDict()}, tmp_path / "model.skops")
    with pytest.raises(ValueError, match="refused, it holds types this project never saves: .*Fraction"):
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
