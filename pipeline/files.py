"""Writing files so that no reader, no crash and no second run ever sees half a file."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd

TEMP_PREFIX = ".tmp-"
LOCK_FILE = ".lock"


# A cell a spreadsheet would run as a formula (OWASP, "CSV injection"); apostrophes already
# in front are counted, so that neutralising is undone exactly
_FORMULA = r"'*[=+\-@\t\r]"


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))]


def csv_text(frame: pd.DataFrame, **options) -> str:
    """``frame`` as CSV (no index, ``\\n`` line ends), every text cell and column name that begins
    with = + - @, a tab or a carriage return given a leading apostrophe, so a spreadsheet shows it
    instead of running it; ``restored`` undoes it."""
    safe = frame.copy()
    for column in _text_columns(safe):
        values = safe[column].astype(object)
        risky = values.map(lambda v: isinstance(v, str)).astype(bool) & values.astype(str).str.match(_FORMULA)
        safe[column] = values.where(~risky, "'" + values[risky].astype(str))
    safe.columns = ["'" + c if isinstance(c, str) and re.match(_FORMULA, c) else c for c in safe.columns]
    return safe.to_csv(index=False, lineterminator="\n", **options)


def restored(values: pd.Series) -> pd.Series:
    """Text cells as they were before ``csv_text`` neutralised them."""
    return values.astype(str).str.replace(f"^'(?={_FORMULA})", "", regex=True)


def restored_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A CSV written by ``csv_text``, read back: text cells and column names as they were."""
    frame = frame.copy()
    for column in _text_columns(frame):
        frame[column] = restored(frame[column])
    frame.columns = list(restored(pd.Series(list(frame.columns), dtype=object)))
    return frame


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, text: str) -> None:
    """Write aside in the same folder, then rename into place: the old file or the new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is for everyone the folder allows
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Temporary files and folders a killed run left behind (call with the folder's lock held)."""
    removed = []
    for path in Path(folder).glob(f"{TEMP_PREFIX}*"):
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextmanager
def folder_lock(folder: Path, what: str = "run", wait: bool = False) -> Iterator[None]:
    """Hold ``folder/.lock`` for the block; if another process holds it, wait (``wait``) or
    refuse at once. The operating system releases it when the process ends, even by ``kill -9``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise RuntimeError(f"{folder} is in use by another {what} ({holder}); try again when it has finished") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
