import os
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


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory, taxonomy):
    """A models folder holding the model trained on the project's labels (trained once for the
    session, by the training step a run uses)."""
    from pipeline.registry import train_if_needed

    folder = tmp_path_factory.mktemp("models")
    train_if_needed(LABELS, folder, taxonomy)
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


def many_documents(folder: Path, n: int = 40) -> Path:
    """``n`` distinct short documents cut from the seeds' paragraphs, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paragraphs = [p.strip() for path in SEED_FILES for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 200]
    for i in range(n):
        picked = [paragraphs[(i * 3 + k) % len(paragraphs)] for k in range(3)]
        (folder / f"doc_{i:03d}.txt").write_text(f"Statement number {i} by Sergey Lavrov\n\n" + "\n\n".join(picked) + "\n", encoding="utf-8")
    return folder
