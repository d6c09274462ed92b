"""Sentence embeddings for the stance model: static vectors shipped in the package, fast, with
no state kept between calls and nothing written anywhere."""

import numpy as np
import pytest
from sklearn.base import clone

from pipeline import embeddings
from pipeline.embeddings import BUNDLED, SentenceEmbedder


def test_the_bundled_vectors_embed_sentences_as_unit_vectors():
    texts = ["We welcome the agreement reached in Vienna.", "Unilateral sanctions are unacceptable."]
    vectors = SentenceEmbedder().fit(texts).transform(texts)
    assert vectors.shape == (2, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    # the same sentence gets the same vector whatever else is in the batch
    assert np.array_equal(SentenceEmbedder().fit(texts).transform(texts[:1])[0], vectors[0])
    assert (BUNDLED / "model.safetensors").stat().st_size < 10_000_000


def test_embeddings_put_the_same_stance_in_other_words_closer():
    condemn, denounce, welcome = embeddings.sentence_embeddings(
        ["We condemn the missile launches.", "We denounce the missile tests.", "We welcome the resumption of talks."])
    assert condemn @ denounce > condemn @ welcome


def test_the_embedder_is_a_plain_estimator_that_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    embedder = SentenceEmbedder()
    assert clone(embedder).get_params() == {"model_folder": None}
    embedder.fit_transform(["We call for dialogue."])
    assert list(tmp_path.iterdir()) == []


def test_a_missing_model_folder_is_an_error_never_a_download(tmp_path):
    with pytest.raises(ValueError, match="no static embedding model here"):
        SentenceEmbedder(str(tmp_path / "nowhere")).fit(["x"])
