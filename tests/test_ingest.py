"""Ingest: ids, titles, stated dates, metadata, and what is set aside."""

import shutil

import pytest

from conftest import SEEDS, SEED_FILES, SHARED
from pipeline.config import Config
from pipeline.ingest import read_documents, stated_date
from pipeline.stages import ingest, ingest_with_account


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


# issue 15, item 4: metadata from a file anywhere and from file names

SPEECH = "Statement by the delegation.\n\nOn 12 March 2009 the Council met. We support the treaty.\n"


def speeches(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"Speech number {n}.\n\n{SPEECH}")
    return folder


def test_a_name_pattern_reads_speaker_and_year_and_the_text_date_is_not_used(tmp_path):
    folder = speeches(tmp_path / "in", ["CHN_70_2015.txt", "sub/FRA_64_2009.txt"])
    docs, _, inputs = read_documents(folder, Config().furniture, 10**7, name_pattern="{speaker}_{session}_{year}")
    by_id = docs.set_index("doc_id")
    assert by_id.loc["CHN_70_2015.txt", ["speaker", "year", "date"]].tolist() == ["CHN", "2015", ""]
    # a file in a subfolder: the pattern reads its name, not its path
    assert by_id.loc["sub/FRA_64_2009.txt", ["speaker", "year", "date"]].tolist() == ["FRA", "2009", ""]
    account = {i["doc_id"]: i for i in inputs if i["outcome"] == "processed"}
    assert account["CHN_70_2015.txt"]["speaker_from"] == "file name"
    assert account["CHN_70_2015.txt"]["date_from"] == "file name"


def test_a_speaker_whose_name_holds_the_separator_keeps_all_of_it(tmp_path):
    folder = speeches(tmp_path / "in", ["United_States_70_2015.txt", "Sergey_Lavrov_TASS_2017-11-30.txt"])
    docs, _, _ = read_documents(folder, Config().furniture, 10**7, name_pattern="{speaker}_{session}_{year}")
    assert docs.set_index("doc_id").loc["United_States_70_2015.txt", ["speaker", "year"]].tolist() == ["United_States", "2015"]
    docs, _, _ = read_documents(folder, Config().furniture, 10**7, name_pattern="{speaker}_{outlet}_{date}")
    assert docs.set_index("doc_id").loc["Sergey_Lavrov_TASS_2017-11-30.txt", ["speaker", "date"]].tolist() == ["Sergey_Lavrov", "2017-11-30"]


def test_a_date_field_in_the_pattern_gives_date_and_year(tmp_path):
    folder = speeches(tmp_path / "in", ["Lavrov-2017-11-30.txt", "Lavrov-2017-02-30.txt"])
    docs, _, inputs = read_documents(folder, Config().furniture, 10**7, name_pattern="{speaker}-{date}")
    by_id = docs.set_index("doc_id")
    assert by_id.loc["Lavrov-2017-11-30.txt", ["speaker", "date", "year"]].tolist() == ["Lavrov", "2017-11-30", "2017"]
    # an impossible date does not match: the text's own date is kept, and the account says why
    assert by_id.loc["Lavrov-2017-02-30.txt", ["speaker", "date", "year"]].tolist() == ["", "2009-03-12", "2009"]
    notes = next(i["notes"] for i in inputs if i.get("doc_id") == "Lavrov-2017-02-30.txt")
    assert any("does not match the name pattern" in n for n in notes)


def test_a_name_that_does_not_match_keeps_what_the_text_says_and_is_noted(tmp_path):
    # the pattern must match the whole stem: a fourth part, or a year that is not four digits, fails
    folder = speeches(tmp_path / "in", ["CHN_70_2015.txt", "CHN_70_2015_draft.txt", "notes.txt", "USA_70_15.txt"])
    docs, _, inputs = read_documents(folder, Config().furniture, 10**7, name_pattern="{speaker}_{session}_{year}")
    by_id = docs.set_index("doc_id")
    for name in ("notes.txt", "USA_70_15.txt", "CHN_70_2015_draft.txt"):
        assert by_id.loc[name, ["speaker", "date", "year"]].tolist() == ["", "2009-03-12", "2009"], name
    assert by_id.loc["CHN_70_2015.txt", ["speaker", "date", "year"]].tolist() == ["CHN", "", "2015"]
    account = {i["doc_id"]: i for i in inputs if i["outcome"] == "processed"}
    assert account["notes.txt"]["speaker_from"] == "text" and account["notes.txt"]["date_from"] == "text"
    assert any("does not match the name pattern '{speaker}_{session}_{year}'" in n for n in account["notes.txt"]["notes"])
    assert not any("name pattern" in n for n in account["CHN_70_2015.txt"]["notes"])


def test_without_a_pattern_the_year_is_the_stated_dates(tmp_path):
    folder = speeches(tmp_path / "in", ["CHN_70_2015.txt"])
    docs, _, _ = read_documents(folder, Config().furniture, 10**7)
    assert docs.loc[0, ["speaker", "date", "year"]].tolist() == ["", "2009-03-12", "2009"]


def test_metadata_file_over_metadata_csv_over_name_over_text(tmp_path):
    folder = speeches(tmp_path / "in", ["CHN_70_2015.txt", "FRA_64_2009.txt", "GBR_65_2010.txt", "IND_66_2011.txt"])
    (folder / "metadata.csv").write_text("file,speaker,date,source\n"
                                         "CHN_70_2015.txt,Wang Yi,2015-09-26,UN\n"
                                         "FRA_64_2009.txt,Nicolas Sarkozy,,UN\n")
    given = tmp_path / "elsewhere" / "meta.csv"
    given.parent.mkdir()
    given.write_text("file,speaker,year\nCHN_70_2015.txt,Li Keqiang,\nGBR_65_2010.txt,,2011\n")
    docs, _, inputs = read_documents(folder, Config().furniture, 10**7, metadata_file=given, name_pattern="{speaker}_{session}_{year}")
    by_id = docs.set_index("doc_id")
    # the metadata file's speaker; the folder's date and source where the file gives none
    assert by_id.loc["CHN_70_2015.txt", ["speaker", "date", "year", "source"]].tolist() == ["Li Keqiang", "2015-09-26", "2015", "UN"]
    # metadata.csv's speaker; no date there, so the name's year
    assert by_id.loc["FRA_64_2009.txt", ["speaker", "date", "year"]].tolist() == ["Nicolas Sarkozy", "", "2009"]
    # the metadata file's year over the name's; the name's speaker
    assert by_id.loc["GBR_65_2010.txt", ["speaker", "date", "year"]].tolist() == ["GBR", "", "2011"]
    assert by_id.loc["IND_66_2011.txt", ["speaker", "date", "year"]].tolist() == ["IND", "", "2011"]
    account = {i["doc_id"]: i for i in inputs if i["outcome"] == "processed"}
    assert account["CHN_70_2015.txt"]["speaker_from"] == f"metadata file {given}"
    assert account["CHN_70_2015.txt"]["date_from"] == "metadata.csv"
    assert (account["FRA_64_2009.txt"]["speaker_from"], account["FRA_64_2009.txt"]["date_from"]) == ("metadata.csv", "file name")
    assert account["GBR_65_2010.txt"]["date_from"] == f"metadata file {given}"


def test_metadata_file_through_the_config_and_checked_like_metadata_csv(tmp_path):
    folder = speeches(tmp_path / "in", ["CHN_70_2015.txt"])
    given = tmp_path / "meta.csv"
    given.write_text("file,speaker\nCHN_70_2015.txt,Wang Yi\nmissing.txt,Nobody\n")
    docs, _, inputs = ingest_with_account(Config(input_dir=folder, metadata_file=given, name_pattern="{speaker}_{session}_{year}"))
    assert docs.loc[0, ["speaker", "year"]].tolist() == ["Wang Yi", "2015"]
    assert {"path": str(given), "outcome": "note", "reason": "metadata names file(s) not in the folder: missing.txt"} in inputs
    given.write_text("file,date\nCHN_70_2015.txt,2015-02-30\n")
    with pytest.raises(ValueError, match=r"meta.csv, line 2, row 0, column date: failed date must be a real date"):
        ingest(Config(input_dir=folder, metadata_file=given))
    given.write_text("file,date,year\nCHN_70_2015.txt,2015-09-26,2016\n")
    with pytest.raises(ValueError, match=r"meta.csv, line 2, row 0, failed year must be the date's year"):
        ingest(Config(input_dir=folder, metadata_file=given))
    given.write_text("file,year\nCHN_70_2015.txt,15\n")
    with pytest.raises(ValueError, match=r"meta.csv, line 2, row 0, column year: failed str_matches"):
        ingest(Config(input_dir=folder, metadata_file=given))
    with pytest.raises(ValueError, match=r"nothere.csv: metadata file not found"):
        ingest(Config(input_dir=folder, metadata_file=tmp_path / "nothere.csv"))


def test_a_metadata_file_inside_the_input_folder_is_not_a_document(tmp_path):
    folder = speeches(tmp_path / "in", ["CHN_70_2015.txt"])
    (folder / "speakers.csv").write_text("file,speaker\nCHN_70_2015.txt,Wang Yi\n")
    docs, set_aside, _ = read_documents(folder, Config().furniture, 10**7, metadata_file=folder / "speakers.csv")
    assert list(docs["doc_id"]) == ["CHN_70_2015.txt"] and set_aside == []


@pytest.mark.parametrize("pattern,message", [
    ("{speaker}_{speaker}", "appears twice"), ("{speaker}_{year", "unmatched brace"),
    ("{session}_{n}", "reads nothing"), ("{1x}_{year}", "not a field name"),
])
def test_a_bad_name_pattern_is_refused(tmp_path, pattern, message):
    folder = speeches(tmp_path / "in", ["CHN_70_2015.txt"])
    with pytest.raises(ValueError, match=message):
        read_documents(folder, Config().furniture, 10**7, name_pattern=pattern)


def test_the_document_schema_checks_the_year():
    import pandas as pd

    from pipeline.schemas import ContractError, DocumentSchema, checked

    row = {"doc_id": "a.txt", "path": "a.txt", "title": "", "date": "2019-02-05", "year": "2019", "speaker": "",
           "source": "", "sha256": "0" * 64, "text": "x"}
    checked(pd.DataFrame([row, {**row, "doc_id": "b.txt", "date": "", "year": "2015"}, {**row, "doc_id": "c.txt", "date": "", "year": ""}]),
            DocumentSchema, "ingest output")
    with pytest.raises(ContractError, match=r"a.txt, row 0, column year: failed str_matches"):
        checked(pd.DataFrame([{**row, "year": "19"}]), DocumentSchema, "ingest output")
    with pytest.raises(ContractError, match=r"a.txt, row 0, failed a dated document's year is its date's year"):
        checked(pd.DataFrame([{**row, "year": "2018"}]), DocumentSchema, "ingest output")
    with pytest.raises(ContractError, match=r"a.txt, row 0, failed a dated document's year is its date's year"):
        checked(pd.DataFrame([{**row, "year": ""}]), DocumentSchema, "ingest output")
