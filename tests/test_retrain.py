"""Retraining an analyst can trust: evaluation, model card, versions, refusal and rollback;
predict on the analyst's own sentences; suggest what to label next."""

import json
import shutil
import subprocess

import pandas as pd
import pytest

from conftest import LABELS, run_cli

def cli(capsys, *args) -> subprocess.CompletedProcess:
    """The command line, in this process (a subprocess proves nothing more here)."""
    code, out, err = run_cli(capsys, *args)
    return subprocess.CompletedProcess(list(args), code, out, err)


def test_retrain_evaluates_by_document_and_writes_the_model_card(small_labels, tmp_path, capsys):
    done = cli(capsys, "retrain", "--labels", small_labels, "--models", tmp_path / "models", "--output", tmp_path / "out", "--cv-folds", 2)
    assert done.returncode == 0, done.stderr
    assert "is now current" in done.stdout
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert card["cv"]["documents"] == 13 and card["cv"]["folds"] == 2
    for basis in ("cv", "dev"):
        for target, classes in (("issue", 6), ("stance", 3)):
            block = card[basis][target]
            assert 0 < block["macro_f1"] <= 1 and len(block["per_class"]) == classes
            assert sum(map(sum, block["confusion"]["matrix"])) == block["n"]
    assert card["label_counts"]["total"] == sum(card["label_counts"]["issue"].values())
    assert set(card["features"]["issue"]) == {"dprk", "iran", "syria", "nato", "us_relations", "other"}
    reliability = card["dev"]["stance"]["reliability"]
    assert sum(band["n"] for band in reliability["bands"]) == card["dev"]["stance"]["n"]
    assert 0 <= reliability["calibration_error"] <= 1 and 0 <= reliability["top_tenth_accuracy"] <= 1
    markdown = (tmp_path / "out" / "model_card.md").read_text()
    assert "Confidence against accuracy" in markdown and "static embedding (fitted to all-mpnet-base-v2)" in markdown
    assert card["embedding_teacher"] == "all-mpnet-base-v2"  # read from the bundled vectors' config
    # character 4-grams are a setting, off by default (they bought nothing and cost a third of classifying)
    assert card["parameters"]["char_weight"] == 0 and "character 4-grams" not in markdown
    # the quick labels have iran and us_relations in two documents each: too few for the CRF
    assert card["reads_documents"] is False and "each sentence alone" in markdown
    # each stance is labelled in enough of them: stance is read with its document
    assert card["stance_reads_documents"] is True and "on those stance probabilities" in markdown
    assert "## Grouped cross-validation (2 folds by document)" in markdown and "## Development set" in markdown
    from pipeline.registry import version_for
    assert version_for(card["labels_hash"]) == card["version"]


def test_a_worse_model_is_kept_but_not_made_current_until_accepted_and_rollback_restores(small_labels, tmp_path, capsys):
    models = tmp_path / "models"
    assert cli(capsys, "retrain", "--labels", small_labels, "--models", models, "--output", tmp_path, "--cv-folds", 0).returncode == 0
    good = (models / "current").read_text().strip()
    # an analyst's bad edit: most stances flipped to neutral
    frame = pd.read_csv(small_labels / "ungdc_train.csv", keep_default_na=False)
    frame.loc[frame.index % 4 != 0, ["stance", "target"]] = ["neutral", ""]
    frame.to_csv(small_labels / "ungdc_train.csv", index=False)
    refused = cli(capsys, "retrain", "--labels", small_labels, "--models", models, "--output", tmp_path, "--cv-folds", 0)
    assert refused.returncode == 0, refused.stderr
    assert "NOT current" in refused.stdout and "--accept" in refused.stdout
    assert (models / "current").read_text().strip() == good
    refused_card = json.loads((tmp_path / "model_card.json").read_text())
    worse = refused_card["version"]
    assert (models / worse / "model.skops").exists()  # kept, versioned
    card = (tmp_path / "model_card.md").read_text()
    assert "## Compared with the previous model" in card and f"`{good}`" in card
    accepted = cli(capsys, "retrain", "--labels", small_labels, "--models", models, "--output", tmp_path, "--cv-folds", 0, "--accept")
    assert "is now current" in accepted.stdout and (models / "current").read_text().strip() == worse
    assert "without training again" in accepted.stdout  # the refused model was saved: accepting it trains nothing
    assert json.loads((tmp_path / "model_card.json").read_text())["trained_at"] == refused_card["trained_at"]
    assert "Made current: yes" in (tmp_path / "model_card.md").read_text()
    back = cli(capsys, "retrain", "--models", models, "--rollback")
    assert back.returncode == 0 and good in back.stdout
    assert (models / "current").read_text().strip() == good


def test_bad_labels_fail_retrain_and_leave_the_current_model(small_labels, tmp_path, capsys):
    models = tmp_path / "models"
    assert cli(capsys, "retrain", "--labels", small_labels, "--models", models, "--output", tmp_path, "--cv-folds", 0).returncode == 0
    before = sorted(p.name for p in models.iterdir())
    frame = pd.read_csv(small_labels / "seeds.csv", keep_default_na=False)
    frame.loc[10, "issue"] = "venezuela"
    frame.to_csv(small_labels / "seeds.csv", index=False)
    failed = cli(capsys, "retrain", "--labels", small_labels, "--models", models, "--output", tmp_path, "--cv-folds", 0)
    assert failed.returncode == 1
    assert "seeds.csv, line 12, row 10, column issue" in failed.stderr
    assert sorted(p.name for p in models.iterdir()) == before


@pytest.fixture()
def model_dir(models_dir):
    return models_dir


def test_predict_keeps_the_analysts_columns_and_adds_labels(model_dir, tmp_path, capsys):
    source = tmp_path / "mine.csv"
    pd.DataFrame({"id": ["a1", "a2"], "text": ["We condemn the missile launches by Pyongyang.", "NATO expansion threatens our security."],
                  "context": ["", "The Alliance is moving east."]}).to_csv(source, index=False)
    done = cli(capsys, "predict", source, "--output", tmp_path / "out.csv", "--models", model_dir)
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(out.columns) == ["id", "text", "context", "issue", "stance", "target", "issue_confidence", "stance_confidence", "target_confidence"]
    assert list(out["id"]) == ["a1", "a2"] and list(out["issue"]) == ["dprk", "nato"]
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text('{"id": 7, "text": "The JCPOA must be preserved."}\n')
    assert cli(capsys, "predict", jsonl, "--output", tmp_path / "j.csv", "--models", model_dir).returncode == 0
    assert pd.read_csv(tmp_path / "j.csv")["issue"].tolist() == ["iran"]


@pytest.mark.parametrize("content,message", [
    (b"id,sentence\n1,Hello.\n", "no 'text' column (columns found: id, sentence)"),
    (b"", "the file is empty"),
    (b"text\n\xff\xfe\xfa broken\n", "not UTF-8 text"),
    (b"id,text\n1,Fine.\n2,\n3,  \n", "empty text on line(s) 3, 4"),
    (b'{"text": "ok"}\n{"text": \n', "line 2: not valid JSON"),
])
def test_bad_predict_input_gets_a_clear_error_and_no_output(model_dir, tmp_path, content, message, capsys):
    source = tmp_path / ("in.jsonl" if content.startswith(b"{") else "in.csv")
    source.write_bytes(content)
    done = cli(capsys, "predict", source, "--output", tmp_path / "out.csv", "--models", model_dir)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert not (tmp_path / "out.csv").exists()


def test_suggest_picks_uncertain_unlabelled_sentences_spread_over_documents(model_dir, tmp_path, taxonomy):
    from pipeline.labels import load_labels
    from pipeline.predict import suggestions
    from pipeline.registry import load_version, current_version
    from pipeline.stages import segment
    from pipeline.config import Config
    from conftest import UNGDC

    if not UNGDC.exists():
        pytest.skip("needs ../shared/corpora/ungdc")
    docs_dir = tmp_path / "docs"
    docs_dir.mkdir()
    for name in ("FRA_72_2017.txt", "CHN_70_2015.txt", "IND_74_2019.txt"):
        shutil.copy(UNGDC / name, docs_dir)
    from pipeline.stages import ingest
    docs, _ = ingest(Config(input_dir=docs_dir))
    sentences = segment(docs, Config())
    model = load_version(model_dir, current_version(model_dir))
    picked = suggestions(sentences, model, taxonomy, load_labels(LABELS, taxonomy), 12)
    assert len(picked) == 12 and picked["file"].nunique() == 3
    assert {"file", "start", "end", "text", "context", "issue", "stance"} <= set(picked.columns)
    content = sentences[~sentences["is_furniture"]]
    assert picked["margin"].median() < 0.5 and picked["margin"].max() <= 1
    assert set(picked["text"]) <= set(content["text"])


def test_suggest_command_reads_the_last_run(prefect_server, model_dir, quick_labels, tmp_path, capsys):
    reports, inbox = tmp_path / "reports", tmp_path / "inbox"
    reports.mkdir()
    missing = cli(capsys, "suggest", "--reports", reports, "--models", model_dir, "--labels", quick_labels)
    assert missing.returncode == 1 and "run `python -m pipeline run` first" in missing.stderr
    inbox.mkdir()
    (inbox / "statement.txt").write_text(  # sentences no label file holds
        "Statement by the Minister\n\nWe discussed the situation on the Korean peninsula with our partners. "
        "The talks in Vienna on the nuclear programme of Iran continue. Humanitarian access in Syria must improve. "
        "The alliance held exercises near our borders this spring. Our relations with Washington remain difficult. "
        "We will host a conference on water resources next year. Trade between our countries grew by ten per cent.\n")
    ran = cli(capsys, "run", "--quiet", "--input", inbox, "--output", reports, "--models", model_dir, "--labels", quick_labels)
    assert ran.returncode == 0, ran.stderr
    done = cli(capsys, "suggest", "--reports", reports, "--models", model_dir, "--labels", quick_labels, "--n", 6)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    picked = pd.read_csv(reports / "suggestions.csv", keep_default_na=False)
    assert len(picked) == 6 and {"file", "start", "end", "text", "context", "issue", "stance"} <= set(picked.columns)
    sentences = pd.read_csv(reports / "sentences.csv", keep_default_na=False)
    assert set(zip(picked["file"], picked["start"])) <= set(zip(sentences["doc_id"], sentences["start"]))
    labelled = pd.read_csv(quick_labels / "seeds.csv", keep_default_na=False)
    assert not set(zip(picked["file"], picked["start"])) & set(zip(labelled["file"], labelled["start"]))  # only unlabelled ones


def test_a_model_without_sentence_embeddings_is_kept_apart_with_its_own_current_version(small_labels, tmp_path, capsys):
    from pipeline.registry import load_version, version_for

    models = tmp_path / "models"
    assert cli(capsys, "retrain", "--labels", small_labels, "--models", models, "--output", tmp_path / "with", "--cv-folds", 0).returncode == 0
    done = cli(capsys, "retrain", "--labels", small_labels, "--models", models, "--output", tmp_path / "without", "--no-embeddings", "--cv-folds", 0)
    assert done.returncode == 0, done.stderr
    with_card = json.loads((tmp_path / "with" / "model_card.json").read_text())
    card = json.loads((tmp_path / "without" / "model_card.json").read_text())
    assert card["sentence_embeddings"] is False and with_card["sentence_embeddings"] is True
    assert card["version"] == version_for(card["labels_hash"], embeddings=False) != with_card["version"]
    assert "no sentence embeddings" in (tmp_path / "without" / "model_card.md").read_text()
    # each kind has its own current model: turning embeddings off did not replace the other
    assert (models / "current").read_text().strip() == with_card["version"]
    assert (models / "no-embeddings" / "current").read_text().strip() == card["version"]
    steps = lambda m: [name for name, _, _ in m.stance.named_steps["features"].transformers_]
    assert "embedding" in steps(load_version(models, with_card["version"]))
    assert "embedding" not in steps(load_version(models / "no-embeddings", card["version"]))


def test_reliability_compares_confidence_with_accuracy_band_by_band():
    from pipeline.evaluate import reliability

    out = reliability(pd.Series(["oppose", "oppose", "support", "support"]), pd.Series(["oppose", "oppose", "oppose", "support"]),
                      pd.Series([0.95, 0.9, 0.55, 0.65]))
    assert [(b["from"], b["n"], b["accuracy"]) for b in out["bands"]] == [(0.4, 1, 0.0), (0.6, 1, 1.0), (0.8, 2, 1.0)]
    # |1 - 0.925| * 2/4 + |0 - 0.55| * 1/4 + |1 - 0.65| * 1/4
    assert out["calibration_error"] == pytest.approx(0.2625)
    assert out["top_tenth_accuracy"] == 1.0


def test_a_current_model_that_no_longer_loads_does_not_block_retraining(small_labels, tmp_path, taxonomy):
    from pipeline.registry import current_version, retrain

    models = tmp_path / "models"
    first = retrain(small_labels, models, taxonomy, cv_folds=0, embeddings=False)
    # as if saved by an older design of the model: its file no longer passes the checks
    path = models / first.model.version / "model.skops"
    path.write_bytes(path.read_bytes()[:-10])
    frame = pd.read_csv(small_labels / "seeds.csv", keep_default_na=False)
    frame.loc[0, "stance"] = "oppose" if frame.loc[0, "stance"] != "oppose" else "support"
    frame.to_csv(small_labels / "seeds.csv", index=False)
    second = retrain(small_labels, models, taxonomy, cv_folds=0, embeddings=False)
    assert second.model.version != first.model.version
    assert current_version(models) == second.model.version and second.made_current


def test_bootstrap_intervals_are_the_percentiles_of_f1_score_on_resampled_documents():
    import numpy as np
    from sklearn.metrics import f1_score

    from pipeline.evaluate import bootstrap_intervals

    rng = np.random.default_rng(3)
    classes = ["nato", "syria", "other", "iran"]  # iran: never true, sometimes predicted
    truth = rng.choice(classes[:3], 400)
    predicted = np.where(rng.random(400) < 0.7, truth, rng.choice(classes, 400))
    groups = np.array([f"doc{i % 12:02d}" for i in range(400)])
    got = bootstrap_intervals(truth, predicted, groups, classes, rounds=60, seed=5)
    # the same draws of documents, scored row by row as scikit-learn scores them
    docs = np.unique(groups)
    draws = np.random.default_rng(5).integers(0, len(docs), size=(60, len(docs)))
    rows = [np.concatenate([np.flatnonzero(groups == docs[d]) for d in draw]) for draw in draws]
    per_class = np.array([f1_score(truth[r], predicted[r], labels=classes, average=None, zero_division=0) for r in rows])
    macro = [f1_score(truth[r], predicted[r], labels=classes[:3], average="macro", zero_division=0) for r in rows]
    for i, c in enumerate(classes[:3]):
        assert got[c] == [round(float(np.percentile(per_class[:, i], q)), 4) for q in (5, 95)], c
    assert got["macro_f1"] == [round(float(np.percentile(macro, q)), 4) for q in (5, 95)]
    assert "iran" not in got and got["level"] == 0.9
