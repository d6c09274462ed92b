"""Sentence embeddings for the stance model: from the installed package, with the vectors of
training sentences kept so retraining does not embed them again."""

import sqlite3

import numpy as np
import pytest

from pipeline import embeddings
from pipeline.embeddings import SentenceEmbedder


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STANCE_PIPELINE_CACHE", str(tmp_path))
    monkeypatch.setattr(embeddings, "_memory", {})
    return tmp_path


def stored_rows(folder) -> int:
    with sqlite3.connect(next(folder.glob("embeddings-*.sqlite"))) as db:
        return db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]


def test_training_sentences_are_embedded_once_and_read_back(fresh_cache, monkeypatch):
    texts = ["We welcome the agreement reached in Vienna.", "Unilateral sanctions are unacceptable."]
    vectors = SentenceEmbedder().fit_transform(texts)
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    assert stored_rows(fresh_cache) == 2

    # sentences only classified are not kept
    SentenceEmbedder().fit(texts).transform(["The meeting took place on Monday."])
    assert stored_rows(fresh_cache) == 2

    # a later training (another process, say) reads them back without running the encoder
    monkeypatch.setattr(embeddings, "_memory", {})
    monkeypatch.setattr(embeddings, "_encoder", lambda: pytest.fail("the sentences were embedded again"))
    assert np.array_equal(SentenceEmbedder().fit_transform(texts), vectors)


def test_embeddings_put_the_same_stance_in_other_words_closer(fresh_cache):
    condemn, denounce, welcome = embeddings.sentence_embeddings(
        ["We condemn the missile launches.", "We denounce the missile tests.", "We welcome the resumption of talks."])
    assert condemn @ denounce > condemn @ welcome


def test_an_unusable_cache_folder_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("STANCE_PIPELINE_CACHE", str(blocker))
    monkeypatch.setattr(embeddings, "_memory", {})
    assert SentenceEmbedder().fit_transform(["We call for dialogue."]).shape == (1, 384)
