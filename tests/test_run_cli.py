"""The command line as a user meets it: progress with totals, a quiet mode, one-line errors,
a config file, signals that stop a run within seconds, and an output set that changes as one."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import LABELS, ROOT, SEED_FILES, cli_command, run_cli
from pipeline import cli
from pipeline.outputs import FAILED, REPORTS


def consistent_set(out: Path) -> dict:
    """The reports readers see in ``out`` all belong to one run: each file is the one its run.json
    accounts for. Returns that run.json."""
    run = json.loads((out / "run.json").read_text())
    from pipeline.accounting import file_sha256

    for name, digest in run["outputs"].items():
        assert file_sha256(out / name) == digest, f"{name} is not of the run of {run['finished']}"
    return run


@pytest.fixture()
def models(models_copy):
    return models_copy


@pytest.fixture(scope="module")
def labels(quick_labels):
    """The labels the session's model was trained on (so that no run here trains)."""
    return quick_labels


# issue 16: progress, summary, quiet, config, help, version

def test_progress_lines_carry_totals_and_the_last_stage_reaches_its_total(prefect_server, forty, models, tmp_path, capsys, labels):
    code, out, err = run_cli(capsys, "run", "--input", forty, "--output", tmp_path / "out", "--models", models, "--labels", labels)
    assert code == 0, err
    lines = out.strip().splitlines()
    for stage, unit in (("ingest", "files"), ("segment", "documents"), ("classify", "sentences")):
        ours = [line for line in lines if line.startswith(f"{stage}: ")]
        assert ours, (stage, out)
        assert all(f" {unit}" in line and "/" in line.split()[1] for line in ours), ours
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    total = run["counts"]["classify"]["rows_out"]
    assert lines[-2].startswith("classify: ") and f"{total:,}/{total:,} sentences (100%)" in lines[-2], out
    assert "ingest: 40/40 files (100%)" in out and "segment: 40/40 documents (100%)" in out
    summary = lines[-1]
    assert summary.startswith("done: 40 document(s) read, none set aside;") and f"{total:,} sentence rows" in summary
    assert run["model"]["version"] in summary and "classify " in summary and " s;" in summary
    for name in REPORTS:
        assert name in summary
    assert str(tmp_path / "out") in summary
    assert err == ""  # Prefect's logs went to run.log
    assert "Finished in state" in (tmp_path / "out" / "run.log").read_text()


def test_quiet_prints_only_the_summary_line(prefect_server, models, tmp_path, capsys, labels):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SEED_FILES[0], inbox)
    code, out, err = run_cli(capsys, "run", "--quiet", "--input", inbox, "--output", tmp_path / "out", "--models", models, "--labels", labels)
    assert code == 0 and err == "", err
    assert len(out.splitlines()) == 1 and out.startswith("done: 1 document(s) read")


def test_an_error_is_one_line_even_when_a_task_fails(prefect_env, tmp_path):
    labels = shutil.copytree(LABELS, tmp_path / "labels")
    (labels / "seeds.csv").write_text("file,start,end,text,context,issue,stance\nx,0,1,a,,no_such_issue,support\n")
    done = subprocess.run([sys.executable, "-m", "pipeline", "run", "--labels", labels, "--models", tmp_path / "models",
                           "--output", tmp_path / "out"], capture_output=True, text=True, cwd=ROOT, env=prefect_env, timeout=600)
    assert done.returncode == 1
    # the error and the bad label rows it names; none of Prefect's tracebacks or log lines
    assert done.stderr.startswith("error: labels in ") and "seeds.csv" in done.stderr and "run.log" in done.stderr
    assert "Traceback" not in done.stderr and " | " not in done.stderr and len(done.stderr.splitlines()) <= 3, done.stderr
    assert "Traceback" in (tmp_path / "out" / "run.log").read_text()  # the detail is in the log
    quiet = subprocess.run([sys.executable, "-m", "pipeline", "run", "--quiet", "--input", tmp_path / "nope", "--output", tmp_path / "o2"],
                           capture_output=True, text=True, cwd=ROOT, env=prefect_env, timeout=600)
    assert quiet.returncode == 1 and quiet.stdout == "" and len(quiet.stderr.splitlines()) == 1
    assert quiet.stderr.startswith("error: input folder") and "does not exist" in quiet.stderr


def test_a_config_file_sets_options_a_flag_overrides_it_and_run_json_records_them(prefect_server, models, tmp_path, capsys, labels):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in SEED_FILES[:2]:
        shutil.copy(path, inbox)
    config = tmp_path / "settings.toml"
    config.write_text(f'input_dir = "{inbox}"\noutput_dir = "{tmp_path / "from-config"}"\nmodel_dir = "{models}"\nlabels_dir = "{labels}"\n'
                      'top_claims = 2\nsentences_per_batch = 500\nlow_confidence = 0.6\nmain_speaker = "Config Speaker"\n')
    code, out, err = run_cli(capsys, "run", "--config", config, "--output", tmp_path / "from-flag", "--quiet")
    assert code == 0, err
    assert not (tmp_path / "from-config").exists()  # the flag won
    settings = json.loads((tmp_path / "from-flag" / "run.json").read_text())["settings"]
    assert settings["output_dir"] == str(tmp_path / "from-flag") and settings["input_dir"] == str(inbox)
    assert settings["top_claims"] == 2 and settings["sentences_per_batch"] == 500 and settings["low_confidence"] == 0.6
    assert settings["main_speaker"] == "Config Speaker" and settings["sentence_embeddings"] is True
    config.write_text("top_clams = 2\n")
    code, _, err = run_cli(capsys, "run", "--config", config)
    assert code == 1 and "unknown setting(s) top_clams" in err and len(err.splitlines()) == 1
    config.write_text('top_claims = "two"\n')
    code, _, err = run_cli(capsys, "run", "--config", config)
    assert code == 1 and "top_claims must be a int" in err


def test_every_command_lists_every_option_with_its_default_and_there_is_a_version(capsys):
    import argparse

    top = cli.parser()
    subparsers = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in subparsers.choices.items():
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert "default" in (action.help or ""), (name, action.option_strings)
        text = command.format_help()
        for action in command._actions:
            for option in action.option_strings:
                assert option in text
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == "stance-pipeline 0.1.0"


# issue 12, case 14 and 11: clear errors, checked before the work

def test_input_given_a_file_says_it_is_a_file(tmp_path, capsys):
    file = tmp_path / "doc.txt"
    file.write_text("Some text.\n")
    code, _, err = run_cli(capsys, "run", "--input", file, "--output", tmp_path / "out")
    assert code == 1 and "is a file, not a folder" in err and "does not exist" not in err


def test_a_read_only_output_folder_is_one_clear_line_before_any_work(tmp_path):
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("root without setpriv writes anywhere")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    started = time.perf_counter()
    done = subprocess.run(cli_command("run", "--output", out), capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"error: cannot write to the output folder {out}: Permission denied")
    assert time.perf_counter() - started < 60  # found before the flow started


def test_predict_output_pointing_at_a_folder_is_refused_before_classifying(tmp_path, capsys, monkeypatch):
    table = tmp_path / "in.csv"
    table.write_text("text\nSanctions are wrong.\n")
    monkeypatch.setattr(cli, "_current_model", lambda config: pytest.fail("classified before checking the output"))
    code, _, err = run_cli(capsys, "predict", table, "--output", tmp_path)
    assert code == 1 and f"--output {tmp_path} is a folder" in err


def test_a_full_disk_keeps_the_previous_set_and_says_so_in_one_line(prefect_server, models, tmp_path, capsys, monkeypatch, labels):
    import errno

    from pipeline import stages

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SEED_FILES[0], inbox)
    out = tmp_path / "out"
    assert run_cli(capsys, "run", "--quiet", "--input", inbox, "--output", out, "--models", models, "--labels", labels)[0] == 0
    before = consistent_set(out)
    shutil.copy(SEED_FILES[1], inbox)
    real = stages.atomic_write
    calls = []

    def full(path, text):
        calls.append(path)
        if len(calls) % 3 == 2:  # the second report of each attempt
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(stages, "atomic_write", full)
    code, out_text, err = run_cli(capsys, "run", "--quiet", "--input", inbox, "--output", out, "--models", models, "--labels", labels)
    assert code == 1 and out_text == "" and len(err.splitlines()) == 1, err
    assert err.startswith("error: the disk is full: No space left on device")
    assert consistent_set(out) == before  # the old set, whole
    assert json.loads((out / FAILED).read_text())["status"] == "failed"
    monkeypatch.setattr(stages, "atomic_write", real)
    assert run_cli(capsys, "run", "--quiet", "--input", inbox, "--output", out, "--models", models, "--labels", labels)[0] == 0
    assert consistent_set(out)["counts"]["ingest"]["documents_out"] == 2 and not (out / FAILED).exists()
    assert len(list((out / ".sets").iterdir())) == 1  # old and half-written sets removed


# issue 12, case 2: the output set changes as one

def test_a_failed_run_keeps_the_last_good_run_json_and_quarantine(prefect_server, models, tmp_path, capsys, labels):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SEED_FILES[0], inbox)
    (inbox / "empty.txt").write_bytes(b"")
    out = tmp_path / "out"
    assert run_cli(capsys, "run", "--quiet", "--input", inbox, "--output", out, "--models", models, "--labels", labels)[0] == 0
    good = {name: (out / name).read_bytes() for name in REPORTS}
    for bad_input in (tmp_path / "mistyped", tmp_path / "all-bad"):
        if bad_input.name == "all-bad":
            bad_input.mkdir()
            (bad_input / "x.pdf").write_bytes(b"%PDF-1.4 ...")
        code, _, err = run_cli(capsys, "run", "--input", bad_input, "--output", out, "--models", models, "--labels", labels)
        assert code == 1
        assert {name: (out / name).read_bytes() for name in REPORTS} == good
        failed = json.loads((out / FAILED).read_text())
        assert failed["status"] == "failed" and failed["input_dir"] == str(bad_input)
    assert failed["set_aside"][0]["reason"].startswith("binary content")


def _commit_killed_at(step: int, out: Path, monkeypatch) -> bool:
    """Write a new set and commit it, the process 'dying' at the ``step``-th rename or link."""
    from pipeline import outputs

    class Killed(BaseException):
        pass

    real_replace, real_symlink, count = os.replace, os.symlink, [0]

    def dying(real):
        def call(*args, **kwargs):
            count[0] += 1
            if count[0] == step:
                raise Killed()
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(outputs.os, "replace", dying(real_replace))
    monkeypatch.setattr(outputs.os, "symlink", dying(real_symlink))
    try:
        new = outputs.NewSet(out)
        write_set(new, f"run {step}")
        new.commit()
        died = False
    except Killed:
        died = True
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    monkeypatch.setattr(outputs.os, "symlink", real_symlink)
    return died


def write_set(new, label):
    from pipeline.accounting import file_sha256

    for name in REPORTS[:-1]:
        new.write(name, f"{name} of {label}\n")
    new.write("run.json", json.dumps({"finished": label, "outputs": {n: file_sha256(new.folder / n) for n in REPORTS[:-1]}}))


def test_a_kill_between_any_two_renames_leaves_the_old_set_or_the_new(tmp_path, monkeypatch):
    from pipeline import outputs

    out = tmp_path / "out"
    out.mkdir()
    for name in REPORTS[:-1]:  # a folder written by an earlier version: plain files
        (out / name).write_text(f"{name} of legacy\n")
    (out / "run.json").write_text(json.dumps({"finished": "legacy", "outputs": {}}))
    outputs.prepare(out)
    assert json.loads((out / "run.json").read_text())["finished"] == "legacy" and (out / "report.html").is_symlink()
    seen = set()
    for step in range(1, 12):
        died = _commit_killed_at(step, out, monkeypatch)
        run = json.loads((out / "run.json").read_text())
        seen.add(run["finished"])
        for name in REPORTS[:-1]:
            assert (out / name).read_text() == f"{name} of {run['finished']}\n" or run["finished"] == "legacy"
        outputs.prepare(out)  # the next run cleans up
        assert json.loads((out / "run.json").read_text()) == run
        assert len(list((out / ".sets").iterdir())) == 1 and not list(out.glob(".tmp-*"))
        if not died:
            break
    assert not died and len(seen) >= 2


def test_a_run_killed_while_writing_its_reports_leaves_one_complete_set(prefect_server, prefect_env, forty, models, tmp_path, labels, capsys):
    """kill -9 at points the run reports: its new set's first report written, its run.json written."""
    from pipeline.accounting import file_sha256

    out = tmp_path / "out"
    inbox = shutil.copytree(forty, tmp_path / "inbox")
    args = ["run", "--quiet", "--input", inbox, "--output", out, "--models", models, "--labels", labels]
    command = [sys.executable, "-m", "pipeline", *map(str, args)]
    assert run_cli(capsys, *args)[0] == 0  # the set to keep: written in this process (only the killed runs need their own)
    first = consistent_set(out)
    (inbox / "doc_000.txt").unlink()  # the next run writes different reports
    for marker in ("sentences.csv", "run.json"):
        existing = set((out / ".sets").iterdir())  # the current set, and what an earlier kill left
        process = subprocess.Popen(command, cwd=ROOT, env=prefect_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while time.time() < deadline and not [p for p in (out / ".sets").glob(f"*/{marker}") if p.parent not in existing]:
            assert process.poll() is None
            time.sleep(0.01)
        process.kill()
        process.wait()
        consistent_set(out)  # the old set or the new, whole
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    assert consistent_set(out)["counts"]["ingest"]["documents_out"] == 39
    assert len(list((out / ".sets").iterdir())) == 1


# issue 12, case 19: a shared models folder

def test_two_runs_sharing_a_fresh_models_folder_train_once(tmp_path, taxonomy, models_dir, monkeypatch):
    from pipeline import registry

    trained = []
    real_load = registry.load_version

    def fake_retrain(labels_dir, model_dir, taxonomy, accept, cv_folds, embeddings, params=None, progress=None):
        trained.append(1)
        time.sleep(1.0)  # long enough for the other run to wait for the lock
        version = registry.current_version(models_dir)
        shutil.copytree(models_dir / version, model_dir / registry.version_for(registry.labels_hash(labels_dir), embeddings))
        return registry.Retrained(None, {}, True, "trained")

    monkeypatch.setattr(registry, "_retrain", fake_retrain)
    monkeypatch.setattr(registry, "load_version", lambda folder, version: real_load(folder, version))
    shared = tmp_path / "shared-models"
    results, errors = [], []

    def one_run():
        try:
            results.append(registry.model_for_run(LABELS, shared, taxonomy)[1])
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(trained) == 1, (trained, results)
    assert any("trained meanwhile by another run" in note for note in results)


def test_model_folders_and_reports_honour_the_umask(tmp_path, trained_model):
    from pipeline import registry
    from pipeline.files import atomic_write

    previous = os.umask(0o022)
    try:
        registry._save(trained_model, {"version": trained_model.version}, tmp_path / "models")
        folder = tmp_path / "models" / trained_model.version
        assert folder.stat().st_mode & 0o777 == 0o755
        assert (folder / "model.skops").stat().st_mode & 0o777 == 0o644
        os.umask(0o027)
        atomic_write(tmp_path / "r.txt", "x\n")
        assert (tmp_path / "r.txt").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(previous)


def test_the_installed_command_works_from_any_folder_with_its_own_labels_and_a_per_user_models_folder(
        tmp_path, models_dir, quick_labels, prefect_env):
    """Issue 12, case 18: outside the project, the labels come with the package and models go to
    a per-user folder that --help names, never the folder one stands in."""
    from pipeline.config import default_labels_dir
    from pipeline.registry import current_version

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "docs").mkdir(parents=True)
    shutil.copy(SEED_FILES[0], elsewhere / "docs")
    (elsewhere / "mine.csv").write_text("text\nNATO expansion threatens our security.\n")
    env = {**prefect_env, "XDG_DATA_HOME": str(tmp_path / "data")}
    user_models = tmp_path / "data" / "stance-pipeline" / "models"
    shutil.copytree(models_dir, user_models)  # as if trained by an earlier run: no training here
    shown = lambda *args: subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True,  # noqa: E731
                                         text=True, cwd=elsewhere, env=env, timeout=600)
    help_text = shown("run", "--help")
    assert str(user_models) in "".join(help_text.stdout.split())  # argparse wraps long paths
    # predict reads the per-user model and checks it against the labels that came with the package
    # (the quick model was trained on other labels: it says so, and predicts all the same)
    predicted = shown("predict", "mine.csv", "--output", "out.csv")
    assert predicted.returncode == 0, predicted.stderr
    bundled = default_labels_dir()
    assert (bundled / "taxonomy.json").exists() and str(bundled) in "".join(predicted.stderr.split())
    assert (elsewhere / "out.csv").exists()
    done = shown("run", "--input", "docs", "--output", "out", "--quiet", "--labels", quick_labels)
    assert done.returncode == 0, done.stderr
    assert f"model {current_version(user_models)}" in done.stdout
    assert (elsewhere / "out" / "summary.md").exists() and not (elsewhere / "models").exists()


def test_the_wheel_carries_the_labels_the_embedding_vectors_and_the_templates(tmp_path):
    import zipfile

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    names = set(zipfile.ZipFile(next(tmp_path.glob("stance_pipeline-*.whl"))).namelist())
    for needed in ("pipeline/bundled_labels/taxonomy.json", "pipeline/bundled_labels/seeds.csv",
                   "pipeline/bundled_labels/dev/ungdc_dev.csv", "pipeline/data/mpnet-static/model.safetensors",
                   "pipeline/templates/report.html.j2", "pipeline/templates/summary.md.j2"):
        assert needed in names, needed
