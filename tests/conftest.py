import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# Prefect binds its console log handler to the sys.stderr of the moment it is first imported:
# import it now, under pytest's session-long capture, not inside a test whose capsys stream
# is closed when that test ends (later tests' Prefect logs would then fail to write).
import prefect.main  # noqa: E402,F401  (prefect.main configures logging on import)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
LABELS = ROOT / "labels"
SHARED = ROOT.parent / "shared"
UNGDC = SHARED / "corpora" / "ungdc"
SEED_FILES = sorted(SEEDS.glob("*.txt"))


#: the project's own folders: tests write in their temporary folders only, never here
GUARDED = [ROOT / name for name in ("models", "reports", "labels", "seeds", "pipeline")]


def _snapshot() -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for folder in GUARDED if folder.is_dir()
            for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


_PROJECT_FILES = pytest.StashKey[dict]()


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the main process (with xdist: not the workers)
        session.config.stash[_PROJECT_FILES] = _snapshot()


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(_PROJECT_FILES, None)
    if before is None:
        return
    after = _snapshot()
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    if changed:
        print(f"\nthe tests changed the project's own files (they must write in temporary folders only): {', '.join(changed[:10])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def seed_text(prefix: str) -> tuple[str, str]:
    path = next(p for p in SEED_FILES if p.name.startswith(prefix))
    return path.name, path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server (its own database) for the tests that run flows."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def taxonomy():
    from pipeline.taxonomy import load_taxonomy

    return load_taxonomy(LABELS)


SMALL_DEV = 20  # sentences kept per development speech in the quick label sets


def quick_label_set(folder: Path) -> Path:
    """Real labels, few: the seed labels, eight UN speeches and the first sentences of each
    development speech. A model trains on them in seconds; tests about the full set use LABELS."""
    import pandas as pd

    (folder / "dev").mkdir(parents=True)
    shutil.copy(LABELS / "taxonomy.json", folder)
    shutil.copy(LABELS / "seeds.csv", folder)
    train = pd.read_csv(LABELS / "ungdc_train.csv", keep_default_na=False)
    train[train["file"].isin(sorted(train["file"].unique())[:8])].to_csv(folder / "ungdc_train.csv", index=False)
    dev = pd.read_csv(LABELS / "dev" / "ungdc_dev.csv", keep_default_na=False)
    dev.groupby("file").head(SMALL_DEV).to_csv(folder / "dev" / "ungdc_dev.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def quick_labels(tmp_path_factory) -> Path:
    """The session's quick label set (``quick_label_set``); pass it as ``--labels`` (or
    ``Config(labels_dir=...)``) beside ``models_dir``, whose model was trained on it."""
    return quick_label_set(tmp_path_factory.mktemp("quick") / "labels")


@pytest.fixture()
def small_labels(tmp_path) -> Path:
    """A quick label set of the test's own, to change."""
    return quick_label_set(tmp_path / "labels")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory, quick_labels, taxonomy):
    """A models folder holding the model trained on ``quick_labels``, by the training step a run
    uses: once for the whole suite, the test processes sharing one folder as two runs would (the
    first to take its lock trains, the others find the model there). Tests only read it."""
    from pipeline.registry import train_if_needed

    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else tmp_path_factory.getbasetemp()
    folder = shared / "quick-models"
    train_if_needed(quick_labels, folder, taxonomy)
    return folder


@pytest.fixture()
def models_copy(models_dir, tmp_path):
    """A copy of ``models_dir`` a test may change."""
    import shutil

    return Path(shutil.copytree(models_dir, tmp_path / "models"))


@pytest.fixture(scope="session")
def trained_model(models_dir):
    from pipeline.registry import current_version, load_version

    return load_version(models_dir, current_version(models_dir))


@pytest.fixture(scope="session")
def prefect_env(prefect_server):
    """The environment for a command-line subprocess that should use the tests' Prefect server
    (no temporary server of its own: faster)."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}


def cli_command(*args) -> list[str]:
    """``python -m pipeline ARGS`` as a user types it."""
    command = [sys.executable, "-m", "pipeline", *map(str, args)]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        # root reads any file; drop that power so an unreadable file is unreadable
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    return command


@pytest.fixture(scope="session")
def cli(prefect_env):
    """Run the command line in a subprocess, as a user does, against the tests' Prefect server
    (a run then starts no temporary server of its own: seconds faster)."""
    def run(*args, timeout: float = 600, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(cli_command(*args), capture_output=True, text=True, cwd=cwd, env=env or prefect_env, timeout=timeout)
    return run


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """The command line called in this process (what a subprocess would add proves nothing more
    for most commands): exit code, stdout, stderr."""
    from pipeline import cli as command_line

    code = command_line.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def many_documents(folder: Path, n: int = 40) -> Path:
    """``n`` distinct short documents cut from the seeds' paragraphs, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paragraphs = [p.strip() for path in SEED_FILES for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 200]
    for i in range(n):
        picked = [paragraphs[(i * 3 + k) % len(paragraphs)] for k in range(3)]
        (folder / f"doc_{i:03d}.txt").write_text(f"Statement number {i} by Sergey Lavrov\n\n" + "\n\n".join(picked) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def forty(tmp_path_factory) -> Path:
    """A folder of 40 short distinct documents (``many_documents``)."""
    return many_documents(tmp_path_factory.mktemp("forty") / "inbox", 40)
