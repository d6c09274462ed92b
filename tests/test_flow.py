"""The whole flow on the seeds, through Prefect, as an analyst runs it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import LABELS, ROOT, SEEDS, SEED_FILES
from pipeline.config import Config


@pytest.fixture(scope="module")
def seed_run(prefect_server, tmp_path_factory, models_dir, quick_labels):
    from pipeline.flow import run_flow

    out = tmp_path_factory.mktemp("reports")
    models = Path(shutil.copytree(models_dir, tmp_path_factory.mktemp("run") / "models"))
    result = run_flow(Config(input_dir=SEEDS, output_dir=out, model_dir=models, labels_dir=quick_labels))
    return result, out, models


def test_the_flow_writes_summary_and_sentences_for_all_five_seeds(seed_run, taxonomy):
    result, out, _ = seed_run
    assert result["documents"] == 5 and result["set_aside"] == 0
    sentences = pd.read_csv(out / "sentences.csv", keep_default_na=False)
    assert sorted(sentences["doc_id"].unique()) == [p.name for p in SEED_FILES]
    assert len(sentences) == result["sentences"]
    assert set(sentences["issue"]) <= set(taxonomy.issue_ids)
    assert sentences[["issue_confidence", "stance_confidence"]].stack().between(0, 1).all()
    furniture = sentences[sentences["is_furniture"]]
    assert (furniture["issue"] == "other").all() and (furniture["stance"] == "neutral").all()
    assert (sentences.loc[sentences["role"] == "question", "stance"] == "neutral").all()
    summary = (out / "summary.md").read_text()
    for issue in taxonomy.topical_issues:
        assert f"### {issue.name}" in summary
    for path in SEED_FILES:
        assert f"`{path.name}`" in summary


def test_the_model_learns_the_seed_issues(seed_run):
    _, out, _ = seed_run
    sentences = pd.read_csv(out / "sentences.csv", keep_default_na=False)
    labels = pd.read_csv(LABELS / "seeds.csv", keep_default_na=False)
    merged = labels.merge(sentences, left_on=["file", "start"], right_on=["doc_id", "start"], suffixes=("_label", ""))
    assert len(merged) == len(labels)
    # trained on these labels, the model must reproduce most of them
    assert (merged["issue"] == merged["issue_label"]).mean() > 0.9


def test_a_second_run_reuses_the_model_and_writes_identical_reports(seed_run, tmp_path, quick_labels):
    from pipeline.flow import run_flow

    result, out, models = seed_run
    again = run_flow(Config(input_dir=SEEDS, output_dir=tmp_path, model_dir=models, labels_dir=quick_labels))
    assert again["model"] == result["model"]
    assert len(list(models.glob("*/model.skops"))) == 1
    for name in ("summary.md", "sentences.csv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def test_changed_labels_train_through_the_training_step_and_the_report_flow_never_writes_models(prefect_server, tmp_path):
    from pipeline.flow import run_flow, stance_report

    labels = tmp_path / "labels"
    labels.mkdir()
    for name in ("taxonomy.json", "seeds.csv"):  # real labels, few: quick to train
        shutil.copy(LABELS / name, labels)
    models = tmp_path / "models"
    first = run_flow(Config(input_dir=SEEDS, output_dir=tmp_path / "a", labels_dir=labels, model_dir=models))
    assert len(list(models.glob("*/model.skops"))) == 1  # trained once by the training step
    run_flow(Config(input_dir=SEEDS, output_dir=tmp_path / "a2", labels_dir=labels, model_dir=models))
    assert len(list(models.glob("*/model.skops"))) == 1  # same labels: reused
    frame = pd.read_csv(labels / "seeds.csv", keep_default_na=False)
    frame.loc[frame.index[-1], ["stance", "target"]] = ["neutral", ""] if frame.iloc[-1]["stance"] != "neutral" else ["oppose", "other"]
    frame.to_csv(labels / "seeds.csv", index=False)
    # the report flow alone, given the current version, reads the model and writes nothing there
    before = _tree(models)
    alone = stance_report(Config(input_dir=SEEDS, output_dir=tmp_path / "alone", labels_dir=labels, model_dir=models), first["model"])
    assert alone["model"] == first["model"] and _tree(models) == before
    # run: the training step trains on the changed labels, then the report flow uses that version
    second = run_flow(Config(input_dir=SEEDS, output_dir=tmp_path / "b", labels_dir=labels, model_dir=models))
    assert second["model"] != first["model"]
    assert (models / "current").read_text().strip() == second["model"]
    assert (models / second["model"] / "model.skops").exists()


def test_command_line_help_and_a_clear_error_for_a_missing_folder(tmp_path):
    help_text = subprocess.run([sys.executable, "-m", "pipeline", "run", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert help_text.returncode == 0 and "--input" in help_text.stdout and "--output" in help_text.stdout
    missing = subprocess.run([sys.executable, "-m", "pipeline", "run", "--input", str(tmp_path / "nope"), "--output", str(tmp_path)],
                             capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr


def test_un_speeches_run_with_a_name_pattern_are_compared_by_speaker_and_year(prefect_server, tmp_path, models_copy, quick_labels):
    from conftest import UNGDC
    from pipeline.flow import run_flow

    if not UNGDC.exists():
        pytest.skip("needs ../shared/corpora/ungdc")
    inbox = tmp_path / "speeches"
    inbox.mkdir()
    for name in ("CHN_70_2015.txt", "CHN_74_2019.txt", "USA_70_2015.txt", "USA_74_2019.txt"):
        shutil.copy(UNGDC / name, inbox)
    out = tmp_path / "out"
    run_flow(Config(input_dir=inbox, output_dir=out, model_dir=models_copy, labels_dir=quick_labels,
                    name_pattern="{speaker}_{session}_{year}"))
    positions = pd.read_csv(out / "positions.csv", keep_default_na=False, dtype=str)
    assert set(positions["speaker"]) == {"CHN", "USA"}
    assert {"2015", "2019"} <= set(positions["first_date"].str[:4]) | set(positions["last_date"].str[:4])
    sentences = pd.read_csv(out / "sentences.csv", keep_default_na=False)
    # speeches keep their speaker: every sentence is the delegate's own
    assert set(sentences.loc[~sentences["is_furniture"], "role"]) == {"main"}
    summary = (out / "summary.md").read_text()
    assert "## Speakers compared" in summary and "## Stance by year" in summary
    year_rows = [line for line in summary.split("## Stance by year")[1].splitlines() if line.startswith(("| CHN", "| USA"))]
    assert {tuple(line.split("|")[1:3]) for line in year_rows} >= {(" CHN ", " 2015 "), (" USA ", " 2019 ")}
    html = (out / "report.html").read_text()
    assert 'id="speaker-issue"' in html and 'data-speaker="CHN"' in html


def test_an_unchanged_run_reuses_its_reports_and_a_changed_document_does_not(prefect_server, tmp_path, models_copy, quick_labels):
    import json

    from pipeline.flow import run_flow

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in SEED_FILES[:2]:
        shutil.copy(path, inbox)
    config = Config(input_dir=inbox, output_dir=tmp_path / "out", model_dir=models_copy, labels_dir=quick_labels)
    first = run_flow(config)
    finished = json.loads((tmp_path / "out" / "run.json").read_text())["finished"]
    before = (tmp_path / "out" / "sentences.csv").read_bytes()
    again = run_flow(config)
    assert again.get("reused") and not first.get("reused")
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["reused_run_of"] == finished and (tmp_path / "out" / "sentences.csv").read_bytes() == before
    changed = inbox / SEED_FILES[0].name
    changed.write_text(changed.read_text(encoding="utf-8") + "\nWe reject the new sanctions.\n", encoding="utf-8")
    third = run_flow(config)
    assert not third.get("reused") and third["sentences"] == first["sentences"] + 1
    assert "reused_run_of" not in json.loads((tmp_path / "out" / "run.json").read_text())
