"""Ingest: ids, titles, stated dates, metadata, and what is set aside."""

import shutil

import pytest

from conftest import SEEDS, SEED_FILES, SHARED
from pipeline.config import Config
from pipeline.ingest import read_documents, stated_date
from pipeline.stages import ingest


def test_seeds_are_the_shared_documents_unchanged():
    shared = SHARED / "seeds"
    if not shared.exists():
        pytest.skip("needs ../shared/seeds")
    assert [p.name for p in SEED_FILES] == sorted(p.name for p in shared.glob("*.txt"))
    for path in SEED_FILES:
        assert path.read_bytes() == (shared / path.name).read_bytes()


@pytest.mark.parametrize("text,expected", [
    ("30 November 201712:08\n", "2017-11-30"),
    ("Excerpts ...\n\nAugust 16, 2017\n", "2017-08-16"),
    ("HO CHI MINH CITY, February 25. /TASS/.", ""),  # no year: never guessed
    ("31 February 2019", ""),  # not a date
])
def test_a_date_is_read_only_when_stated_in_full(text, expected):
    assert stated_date(text) == expected


def test_documents_of_the_seeds_without_metadata(tmp_path):
    for path in SEED_FILES:
        shutil.copy(path, tmp_path)
    docs, set_aside, _ = read_documents(tmp_path, Config().furniture, 10**7)
    assert set_aside == []
    by_id = docs.set_index("doc_id")
    assert by_id.loc["000_1aa5b79f95ad6851.txt", "date"] == "2017-11-30"
    assert by_id.loc["004_a74b0db89df9f506.txt", "date"] == "2017-12-25"
    assert by_id.loc["003_9d72c092ed268688.txt", "date"] == "2017-08-16"
    assert by_id.loc["001_4a24412276931976.txt", "date"] == ""
    assert by_id.loc["001_4a24412276931976.txt", "title"].startswith("Lavrov warns Washington's stance")
    assert by_id.loc["000_1aa5b79f95ad6851.txt", "title"].startswith("Foreign Minister Sergey Lavrov’s answer")


def test_metadata_file_overrides_and_completes_the_text():
    docs, _ = ingest(Config(input_dir=SEEDS))
    by_id = docs.set_index("doc_id")
    assert by_id.loc["001_4a24412276931976.txt", "date"] == "2019-02-25"
    assert by_id.loc["001_4a24412276931976.txt", "source"] == "TASS"
    assert set(by_id["speaker"]) == {"Sergey Lavrov"}
    assert by_id.loc["000_1aa5b79f95ad6851.txt", "date"] == "2017-11-30"  # empty metadata keeps the text's date


def test_bad_metadata_date_is_an_error_naming_the_line(tmp_path):
    shutil.copy(SEED_FILES[0], tmp_path)
    (tmp_path / "metadata.csv").write_text(f"file,date\n{SEED_FILES[0].name},25/02/2019\n")
    with pytest.raises(ValueError, match=r"metadata.csv, line 2: date '25/02/2019'"):
        read_documents(tmp_path, Config().furniture, 10**7)


def test_unreadable_inputs_are_set_aside_with_reasons(tmp_path):
    shutil.copy(SEED_FILES[0], tmp_path)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("  \n\n ")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    shutil.copy(SEED_FILES[0], tmp_path / "copy.txt")
    docs, set_aside, _ = read_documents(tmp_path, Config().furniture, 10**7)
    assert list(docs["doc_id"]) == [SEED_FILES[0].name]
    reasons = {item.path.split("/")[-1]: item.reason for item in set_aside}
    assert reasons["empty.txt"] == "empty file"
    assert reasons["blank.txt"].startswith("no text")
    assert "PDF" in reasons["report.pdf"]
    assert reasons["copy.txt"] == f"duplicate of {SEED_FILES[0].name}"
    assert len(docs) + len(set_aside) == 5
