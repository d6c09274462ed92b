"""Bad input never loses data: every file gets an outcome, good documents are still processed,
reports and models are never half-written, and the same inputs give the same reports."""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pandas as pd
import pytest

from conftest import ROOT, SEED_FILES, cli_command


EXPECTED = {  # file -> words its reason must contain, or "processed"
    "cp1251.txt": "processed", "latin1.txt": "processed", "bom.txt": "processed", "crlf.txt": "processed",
    "nul_bytes.txt": "processed", "control_chars.txt": "processed",
    "empty.txt": "empty file", "blank.txt": "no text", "report.pdf": "PDF", "image.png": "PNG", "archive.zip": "zip",
    "binary.txt": "binary", "page.html": "HTML page", "one_line_20mb.txt": "not running text",
    "copy_of_seed.txt": "duplicate of 000_", "unreadable.txt": "unreadable", "outside_link.txt": "symbolic link to a file outside",
}


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    folder = root / "inbox"
    folder.mkdir()
    for path in SEED_FILES[:2]:
        shutil.copy(path, folder)
    statement = "Sergey Lavrov: We are deeply concerned about NATO expansion. Unilateral sanctions are unacceptable.\n"
    (folder / "cp1251.txt").write_bytes(("Заявление МИД России\n\n" + statement + "Москва выступает за диалог.\n").encode("cp1251"))
    (folder / "latin1.txt").write_bytes(("Déclaration à la presse\n\n" + statement.replace("NATO", "NATO’s").replace("’", "'") + "Café crème.\n").encode("latin-1"))
    (folder / "bom.txt").write_bytes(b"\xef\xbb\xbf" + ("Statement with a BOM\n\n" + statement).encode())
    (folder / "crlf.txt").write_bytes(("Windows statement\r\n\r\n" + statement.replace("\n", "\r\n")).encode())
    (folder / "nul_bytes.txt").write_bytes(("Statement with NULs\n\n" + statement).encode().replace(b"NATO", b"NA\x00TO"))
    (folder / "control_chars.txt").write_bytes(("Statement\x07 with\x1b control characters\n\n" + statement).encode())
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_text("   \n\t\n  ")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 4)
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("inside.txt", statement)
    (folder / "archive.zip").write_bytes(buffer.getvalue())
    (folder / "binary.txt").write_bytes(bytes((i * 7919 + 13) % 256 for i in range(20000)))
    (folder / "page.html").write_text("<!DOCTYPE html><html><body><p>" + statement + "</p></body></html>")
    (folder / "one_line_20mb.txt").write_text("All work and no play makes Jack a dull boy, " * 460_000)
    shutil.copy(SEED_FILES[0], folder / "copy_of_seed.txt")
    (folder / "unreadable.txt").write_text(statement)
    (folder / "unreadable.txt").chmod(0)
    (root / "secret.txt").write_text("Outside the inbox.\n")
    (folder / "outside_link.txt").symlink_to(root / "secret.txt")
    return folder


@pytest.fixture(scope="module")
def bad_run(bad_folder, tmp_path_factory, models_dir, quick_labels, cli):
    out = tmp_path_factory.mktemp("out")
    models = shutil.copytree(models_dir, tmp_path_factory.mktemp("m") / "models")
    started = time.perf_counter()
    done = cli("run", "--input", bad_folder, "--output", out, "--models", models, "--labels", quick_labels)
    return done, out, models, time.perf_counter() - started


def test_every_bad_file_is_set_aside_with_a_reason_and_good_ones_processed(bad_run, bad_folder):
    done, out, _, seconds = bad_run
    assert done.returncode == 0, done.stderr
    assert "10 file(s) set aside" in done.stdout or "11 file(s) set aside" in done.stdout
    quarantine = pd.read_csv(out / "quarantine.csv", keep_default_na=False)
    reasons = {p.split("/")[-1]: r for p, r in zip(quarantine["path"], quarantine["reason"])}
    sentences = pd.read_csv(out / "sentences.csv", keep_default_na=False)
    processed = set(sentences["doc_id"])
    for name, expected in EXPECTED.items():
        if expected == "processed":
            assert name in processed, (name, reasons.get(name))
        else:
            assert expected in reasons[name], (name, reasons.get(name))
    assert {p.name for p in SEED_FILES[:2]} <= processed
    assert (quarantine["size"] >= 0).all() and quarantine.loc[quarantine["reason"] == "empty file", "sha256"].str.len().eq(64).all()
    assert seconds < 300  # the 20 MB line is set aside in bounded time


def test_decoded_texts_keep_their_words(bad_run):
    _, out, _, _ = bad_run
    sentences = pd.read_csv(out / "sentences.csv", keep_default_na=False)
    text = dict(sentences.groupby("doc_id")["text"].apply(" ".join))
    assert "Москва выступает за диалог." in text["cp1251.txt"]
    assert "Café crème." in text["latin1.txt"]
    # NULs and control characters become spaces (not removed), so offsets still index the file
    assert "\ufeff" not in text["bom.txt"] and "NA TO" in text["nul_bytes.txt"]
    assert "Statement with control characters" in " ".join(text["control_chars.txt"].split())
    for doc in ("crlf.txt", "bom.txt", "cp1251.txt"):
        assert sentences.loc[(sentences["doc_id"] == doc) & (sentences["role"] == "main"), "speaker"].eq("Sergey Lavrov").all()


def test_run_json_accounts_for_every_input_and_every_stage(bad_run, bad_folder):
    _, out, _, _ = bad_run
    run = json.loads((out / "run.json").read_text())
    files = [i for i in run["inputs"] if i["outcome"] != "note"]
    assert len(files) == len(list(bad_folder.iterdir()))
    counts = run["counts"]
    assert counts["ingest"]["files_in"] == counts["ingest"]["documents_out"] + counts["ingest"]["set_aside"]
    assert counts["segment"]["documents_in"] == counts["ingest"]["documents_out"] == counts["segment"]["documents_with_rows"]
    assert counts["segment"]["rows_out"] == counts["classify"]["rows_in"] == counts["classify"]["rows_out"] == counts["report"]["sentence_rows_written"]
    assert run["model"]["version"] and len(run["model"]["labels_hash"]) == 64
    assert set(run["durations_seconds"]) >= {"ingest", "segment", "model", "classify", "report", "total"}
    processed = [i for i in files if i["outcome"] == "processed"]
    assert all(len(i["sha256"]) == 64 for i in processed)
    assert next(i for i in processed if i["path"].endswith("cp1251.txt"))["notes"] == ["decoded as cp1251"]


def test_sentences_cover_each_processed_document(bad_run, bad_folder):
    from pipeline.ingest import decoded_text

    _, out, _, _ = bad_run
    sentences = pd.read_csv(out / "sentences.csv", keep_default_na=False)
    for doc, rows in sentences.groupby("doc_id"):
        text = decoded_text((bad_folder / doc).read_bytes()).text
        covered = [False] * len(text)
        for start, end in zip(rows["start"], rows["end"]):
            assert not any(covered[start:end])
            covered[start:end] = [True] * (end - start)
        assert all(c or ch.isspace() for c, ch in zip(covered, text)), doc


def test_a_folder_of_only_bad_files_fails_with_that_message(tmp_path, models_dir, quick_labels, cli):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "x.pdf").write_bytes(b"%PDF-1.4 ...")
    models = shutil.copytree(models_dir, tmp_path / "models")
    done = cli("run", "--input", inbox, "--output", tmp_path / "out", "--models", models, "--labels", quick_labels)
    assert done.returncode == 1
    assert "no usable document" in done.stderr and "all 2 file(s) set aside" in done.stderr
    failed = json.loads((tmp_path / "out" / "run-failed.json").read_text())
    assert failed["status"] == "failed" and len(failed["set_aside"]) == 2
    assert not (tmp_path / "out" / "run.json").exists()  # no good run to replace; a failure never takes its place


def test_a_folder_without_files_is_refused_before_any_training(tmp_path, quick_labels, cli):
    inbox = tmp_path / "inbox"
    (inbox / "2017").mkdir(parents=True)
    (inbox / ".hidden.txt").write_text("not read")
    models = tmp_path / "models"  # no model yet: a run would train one first, for minutes on all labels
    done = cli("run", "--input", inbox, "--output", tmp_path / "out", "--models", models, "--labels", quick_labels)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: no documents in {inbox}: the folder holds no files to read "
                                                "(hidden files and folders are not read); the last good reports are kept"], done.stderr
    assert not models.exists() or not any(models.iterdir())  # nothing trained
    failed = json.loads((tmp_path / "out" / "run-failed.json").read_text())
    assert failed["status"] == "failed" and failed["message"].startswith(f"no documents in {inbox}")


@pytest.mark.parametrize("metadata", [False, True], ids=["alone", "with --metadata kept in the folder"])
def test_a_folder_of_only_bad_files_is_refused_before_any_training(tmp_path, quick_labels, cli, metadata):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.4\x00\x01\x02 binary")
    # a metadata file given with --metadata is metadata wherever it is kept, never a document
    # that would let the run train for minutes before it finds nothing to read
    extra = ["--metadata", inbox / "speeches.csv"] if metadata else []
    if metadata:
        (inbox / "speeches.csv").write_text("file,speaker\nscan.pdf,Sergey Lavrov\n")
    models = tmp_path / "models"  # no model yet: a run would train one first, for minutes on all labels
    done = cli("run", "--input", inbox, "--output", tmp_path / "out", "--models", models, "--labels", quick_labels, *extra)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: no usable document in {inbox}: all 2 file(s) would be set aside (empty.txt: empty file; scan.pdf: "), line
    assert line.endswith("no model was trained and the last good reports are kept"), line
    assert not models.exists() or not any(models.iterdir())  # nothing trained
    failed = json.loads((tmp_path / "out" / "run-failed.json").read_text())
    assert failed["status"] == "failed" and failed["message"].startswith(f"no usable document in {inbox}")


def test_same_inputs_and_model_give_byte_identical_reports(bad_run, bad_folder, tmp_path, quick_labels, cli):
    _, out, models, _ = bad_run
    again = cli("run", "--input", bad_folder, "--output", tmp_path, "--models", models, "--labels", quick_labels)
    assert again.returncode == 0, again.stderr
    for name in ("sentences.csv", "summary.md", "report.html", "quarantine.csv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    assert json.loads((tmp_path / "run.json").read_text())["started"]  # times live in run.json only


def test_a_run_killed_while_training_leaves_the_current_model(tmp_path, models_dir, prefect_server, prefect_env, capsys):
    from conftest import run_cli
    from pipeline.registry import current_version, load_version

    labels = tmp_path / "labels"
    labels.mkdir()
    for name in ("taxonomy.json", "seeds.csv"):  # real labels, few: quick to train
        shutil.copy(ROOT / "labels" / name, labels)
    frame = pd.read_csv(labels / "seeds.csv", keep_default_na=False)
    frame.loc[0, "stance"] = "oppose" if frame.loc[0, "stance"] != "oppose" else "support"
    frame.to_csv(labels / "seeds.csv", index=False)  # other labels than the current model's: the run trains
    models = shutil.copytree(models_dir, tmp_path / "models")
    current = current_version(models)
    process = subprocess.Popen(cli_command("run", "--output", tmp_path / "out", "--models", models, "--labels", labels),
                               cwd=ROOT, env=prefect_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # the point the training step shows: the new version's folder made aside, not yet in place
    deadline = time.time() + 300
    while time.time() < deadline and not list(models.glob(".tmp-staging-*")):
        assert process.poll() is None, "the run ended before it saved a model"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert list(models.glob(".tmp-staging-*")), "killed too late: no version was being written"
    assert current_version(models) == current
    load_version(models, current)  # intact
    code, _, err = run_cli(capsys, "run", "--quiet", "--output", tmp_path / "out", "--models", models, "--labels", labels)
    assert code == 0, err  # the next run (here, in this process) trains and cleans up what the killed one left
    assert current_version(models) != current and not list(models.glob(".tmp-*"))


def test_a_second_run_on_a_folder_in_use_is_refused_and_runs_once_it_is_free(tmp_path, models_dir, quick_labels, cli,
                                                                             prefect_server, capsys):
    from conftest import run_cli
    from pipeline.files import folder_lock

    models = shutil.copytree(models_dir, tmp_path / "models")
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out, "run"):  # as another run holds it: the two always overlap
        refused = cli("run", "--output", out, "--models", models, "--labels", quick_labels)
    assert refused.returncode == 1 and "is in use by another run" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not (out / "run.json").exists()
    code, _, err = run_cli(capsys, "run", "--quiet", "--output", out, "--models", models, "--labels", quick_labels)
    assert code == 0, err
    assert pd.read_csv(out / "sentences.csv")["doc_id"].nunique() == len(SEED_FILES)


def test_the_output_lock_refuses_a_second_holder_and_is_released_after(tmp_path):
    from pipeline.files import folder_lock

    with folder_lock(tmp_path, "run"):
        second = subprocess.run([sys.executable, "-c", "from pipeline.files import folder_lock\n"
                                 f"with folder_lock({str(tmp_path)!r}, 'run'): pass"], capture_output=True, text=True, cwd=ROOT)
        assert second.returncode != 0 and "is in use by another run (pid" in second.stderr
    with folder_lock(tmp_path, "run"):
        pass  # released
