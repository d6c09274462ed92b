"""The contracts between stages reject bad data and say where and why."""

import pandas as pd
import pytest

from conftest import SEEDS
from pipeline.config import Config
from pipeline.schemas import ContractError, DocumentSchema, PredictionSchema, SentenceSchema, checked
from pipeline.stages import ingest, segment


@pytest.fixture(scope="module")
def sentences():
    docs, _ = ingest(Config(input_dir=SEEDS))
    return segment(docs, Config())


def test_seed_sentences_pass_the_sentence_contract(sentences):
    assert len(sentences) > 150
    checked(sentences, SentenceSchema, "test")


def test_all_failures_are_reported_with_file_row_column_and_rule(sentences):
    bad = sentences.copy()
    bad.loc[3, "end"] = bad.loc[3, "start"]  # empty span
    bad.loc[5, "role"] = "journalist"  # not a role
    bad.loc[7, "sentence_id"] = -1
    with pytest.raises(ContractError) as err:
        checked(bad, SentenceSchema, "segment output")
    message = str(err.value)
    assert message.startswith("segment output: 3 problem(s) against SentenceSchema")
    doc = sentences.loc[5, "doc_id"]
    assert f"{doc}, row 5, column role: failed isin" in message
    assert "row 7, column sentence_id: failed greater_than_or_equal_to(0)" in message
    assert f"{sentences.loc[3, 'doc_id']}, row 3, failed end must be greater than start" in message


def test_documents_need_an_id_and_text():
    docs = pd.DataFrame([{"doc_id": "a.txt", "path": "a.txt", "title": "", "date": "2019-2-5", "speaker": "",
                          "source": "", "sha256": "0" * 64, "text": ""}])
    with pytest.raises(ContractError, match=r"a.txt, row 0, column date: failed str_matches"):
        checked(docs, DocumentSchema, "ingest output")


def test_predictions_must_use_the_taxonomy_labels(sentences, taxonomy):
    preds = sentences.assign(issue="other", stance="neutral", issue_confidence=0.9, stance_confidence=0.8,
                             target="", target_confidence=0.0)
    checked(preds, PredictionSchema, "test", taxonomy)
    preds.loc[2, "issue"] = "ukraine"
    preds.loc[4, "stance_confidence"] = 1.5
    with pytest.raises(ContractError) as err:
        checked(preds, PredictionSchema, "classify output", taxonomy)
    assert "column issue: failed issue must be one of" in str(err.value)
    assert "column stance_confidence: failed less_than_or_equal_to(1)" in str(err.value)


def test_a_claims_target_must_be_one_of_its_issues_targets(sentences, taxonomy):
    preds = sentences.assign(issue="dprk", stance="oppose", issue_confidence=0.9, stance_confidence=0.8,
                             target="sanctions_pressure", target_confidence=0.7)
    checked(preds, PredictionSchema, "test", taxonomy)
    preds.loc[1, "target"] = "jcpoa"  # a target of another issue
    preds.loc[3, ["stance", "target"]] = ["neutral", "talks"]  # a target on a sentence that is not a claim
    with pytest.raises(ContractError) as err:
        checked(preds, PredictionSchema, "classify output", taxonomy)
    assert str(err.value).count("target must be one of the issue's targets") == 2
