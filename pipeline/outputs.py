"""The output folder's set of reports changes as one: the old set or the new, never a mixture.

Layout of an output folder ``OUT/``::

    OUT/.sets/<id>/{report.html, summary.md, sentences.csv, positions.csv, quarantine.csv, run.json}
    OUT/.current -> .sets/<id>                 (the one complete set readers see)
    OUT/report.html -> .current/report.html    (and so on for each report; these links never change)
    OUT/run-failed.json                        (the last failed run, if it failed after the last good one)

A run writes its whole set into a new folder under ``.sets/``, then switches ``.current`` to it
with one ``rename`` of a symbolic link: an atomic step, so a reader (or a run killed with
``kill -9`` at any instant) sees the previous set or the new one, never files of both. Sets that
``.current`` does not name (old ones, or one a killed run left half-written) are removed by the
next run, under the folder's lock.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from pipeline.files import TEMP_PREFIX, _temporary_name, atomic_write, fsync_folder, remove_stale_temporaries

SETS, CURRENT = ".sets", ".current"
REPORTS = ("report.html", "summary.md", "sentences.csv", "positions.csv", "quarantine.csv", "run.json")
FAILED = "run-failed.json"


def _link(target: str, at: Path) -> None:
    """Make ``at`` a symbolic link to ``target`` in one atomic step (replacing what is there)."""
    tmp = _temporary_name(at.parent, at.name)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, at)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _same_file(source: Path, target: Path) -> None:
    """``target`` the same file as ``source``: a hard link, or a copy where links are not allowed."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def current_set(output_dir: Path) -> Path | None:
    """The folder of the complete set readers see now, if any."""
    pointer = Path(output_dir) / CURRENT
    if not pointer.is_symlink():
        return None
    folder = Path(output_dir) / os.readlink(pointer)
    return folder if folder.is_dir() else None


def prepare(output_dir: Path) -> None:
    """Before a run (lock held): remove what killed runs left, and bring an output folder written
    by an earlier version of the pipeline (plain report files) into the layout, without a moment
    at which a reader would see a mixture."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(output_dir)
    current = current_set(output_dir)
    plain = [name for name in REPORTS if (output_dir / name).is_file() and not (output_dir / name).is_symlink()]
    if plain and current is None:
        # the old set as it is, by hard links, made current; then each plain file becomes a link
        # to identical content, so the set a reader sees never changes
        legacy = _new_set_folder(output_dir, "legacy")
        for name in plain:
            _same_file(output_dir / name, legacy / name)
        _switch(output_dir, legacy)
        current = legacy
    if current is not None:
        _ensure_links(output_dir)
    _prune(output_dir, keep=current)


def _new_set_folder(output_dir: Path, label: str = "") -> Path:
    sets = Path(output_dir) / SETS
    sets.mkdir(0o777, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    while True:
        folder = sets / f"{stamp}-{label or os.urandom(3).hex()}"
        try:
            folder.mkdir(0o777)
            return folder
        except FileExistsError:
            label = ""


def _switch(output_dir: Path, folder: Path) -> None:
    fsync_folder(folder)
    _link(f"{SETS}/{folder.name}", Path(output_dir) / CURRENT)
    fsync_folder(output_dir)


def _ensure_links(output_dir: Path) -> None:
    for name in REPORTS:
        at, target = Path(output_dir) / name, f"{CURRENT}/{name}"
        if not (at.is_symlink() and os.readlink(at) == target):
            _link(target, at)


def _prune(output_dir: Path, keep: Path | None) -> None:
    sets = Path(output_dir) / SETS
    if not sets.is_dir():
        return
    for folder in sets.iterdir():
        if keep is None or folder.name != keep.name:
            shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() and not folder.is_symlink() else folder.unlink(missing_ok=True)


class NewSet:
    """A set of reports being written aside; ``commit`` switches it in as one step."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = Path(output_dir)
        self.folder = _new_set_folder(self.output_dir)
        self.committed = False

    def write(self, name: str, text: str) -> Path:
        atomic_write(self.folder / name, text)
        return self.folder / name

    def keep_from_current(self, names) -> None:
        """Carry reports of the current set over unchanged (hard links: no copying)."""
        current = current_set(self.output_dir)
        for name in names:
            _same_file(current / name, self.folder / name)

    def path(self, name: str) -> Path:
        """Where ``name`` is seen once the set is committed."""
        return self.output_dir / name

    def commit(self) -> None:
        _switch(self.output_dir, self.folder)
        self.committed = True
        _ensure_links(self.output_dir)
        (self.output_dir / FAILED).unlink(missing_ok=True)
        _prune(self.output_dir, keep=self.folder)


def record_failure(output_dir: Path, text: str) -> Path | None:
    """``run-failed.json`` beside the last good set, which stays as it was. None if even that
    cannot be written (a full disk, a read-only folder)."""
    try:
        atomic_write(Path(output_dir) / FAILED, text)
        return Path(output_dir) / FAILED
    except OSError:
        return None


__all__ = ["NewSet", "prepare", "current_set", "record_failure", "REPORTS", "FAILED", "TEMP_PREFIX"]
