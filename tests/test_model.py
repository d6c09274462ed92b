"""The classifier: saved with skops, refused when it is not ours."""

from pathlib import Path

import pandas as pd
import pytest

from pipeline.registry import model_for_run
from conftest import LABELS
from pipeline.model import StatementModel


def test_predictions_have_a_label_and_confidence_for_each_sentence(trained_model, taxonomy):
    frame = pd.DataFrame({"text": ["We will never accept the DPRK's nuclear status.", "The JCPOA must be preserved."],
                          "context": ["", ""]})
    out = trained_model.predict(frame)
    assert list(out["issue"]) == ["dprk", "iran"]
    assert out["issue_confidence"].between(0, 1).all() and out["stance_confidence"].between(0, 1).all()


def test_a_saved_model_loads_and_predicts_the_same(trained_model, tmp_path):
    trained_model.save(tmp_path)
    loaded = StatementModel.load(tmp_path)
    frame = pd.DataFrame({"text": ["NATO expansion is dangerous."], "context": [""]})
    pd.testing.assert_frame_equal(loaded.predict(frame), trained_model.predict(frame))


def test_the_three_models_compute_the_features_they_share_once_and_predict_as_their_pipelines(trained_model, tmp_path):
    import numpy as np

    from pipeline.model import StatementModel, model_inputs

    estimator = trained_model.estimator
    named = {part: dict((n, t) for n, t, _ in getattr(estimator, f"{part}_").named_steps["features"].transformers_)
             for part in ("issue", "stance", "target")}
    assert named["issue"]["text"] is named["stance"]["text"] and named["issue"]["context"] is named["stance"]["context"]
    assert named["stance"]["embedding"] is named["target"]["embedding"]
    assert named["target"]["text"] is not named["issue"]["text"]  # learned from claims alone: another vocabulary
    frame = pd.read_csv(LABELS / "seeds.csv", keep_default_na=False).head(60)
    inputs = model_inputs(frame)
    shared = trained_model.probabilities(frame)
    for part in ("issue", "stance"):  # rows without a document: the sentence models' own probabilities
        assert np.allclose(shared[part].to_numpy(), getattr(estimator, f"{part}_").predict_proba(inputs))
    trained_model.save(tmp_path)
    loaded = StatementModel.load(tmp_path)
    ct = {p: getattr(loaded.estimator, f"{p}_").named_steps["features"] for p in ("issue", "stance")}
    assert ct["issue"].named_transformers_["text"] is ct["stance"].named_transformers_["text"]  # saved once


def test_a_model_file_holding_foreign_types_is_refused(tmp_path):
    import hashlib
    import json
    from collections import OrderedDict
    from fractions import Fraction

    import skops.io as sio

    # a file that is not the project's, even with a matching checksum beside it
    sio.dump({"issue": Fraction(1, 3), "stance": OrderedDict()}, tmp_path / "model.skops")
    digest = hashlib.sha256((tmp_path / "model.skops").read_bytes()).hexdigest()
    (tmp_path / "model.json").write_text(json.dumps({"labels_hash": "x", "version": "x", "sha256": digest}))
    with pytest.raises(ValueError, match="refused, it holds types this project never saves: .*Fraction"):
        StatementModel.load(tmp_path)


def test_an_altered_or_foreign_model_file_is_refused(trained_model, tmp_path):
    trained_model.save(tmp_path)
    data = bytearray((tmp_path / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "model.skops").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="refused, the file was altered since it was saved"):
        StatementModel.load(tmp_path)
    (tmp_path / "model.skops").write_bytes(b"import os; os.system('echo pwned')")
    import hashlib, json
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["sha256"] = hashlib.sha256(b"import os; os.system('echo pwned')").hexdigest()
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="refused, not a model file this project saved"):
        StatementModel.load(tmp_path)


def test_the_model_is_cached_by_the_labels_content(tmp_path, taxonomy):
    import shutil

    labels = tmp_path / "labels"
    labels.mkdir()
    for name in ("taxonomy.json", "seeds.csv"):
        shutil.copy(LABELS / name, labels)
    first, note = model_for_run(labels, tmp_path / "models", taxonomy)
    again, note_again = model_for_run(labels, tmp_path / "models", taxonomy)
    assert note.startswith("labels changed: trained") and note_again.startswith("reused")
    assert again.version == first.version


def test_taxonomy_terms_mark_each_term_and_each_issue_whose_terms_occur():
    from pipeline.model import TaxonomyTerms

    groups = (("dprk", ("pyongyang", "inter-korean")), ("iran", ("jcpoa", "joint comprehensive plan of action")))
    terms = TaxonomyTerms(groups).fit(["x"])
    marks = terms.transform(["Talks in Pyongyang resumed.", "The Joint Comprehensive Plan of Action holds.",
                             "We welcome inter-Korean and JCPOA talks.", "Nothing here."])
    assert list(terms.get_feature_names_out()) == ["inter-korean", "jcpoa", "joint comprehensive plan of action", "pyongyang",
                                                   "any dprk term", "any iran term"]
    assert marks.toarray().tolist() == [[0, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 1], [1, 1, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]]


def test_a_term_added_to_the_taxonomy_counts_for_its_issue_without_examples(taxonomy):
    import dataclasses

    from pipeline.model import classifier_for, training_data

    labels = pd.read_csv(LABELS / "seeds.csv", keep_default_na=False)
    labels = labels[labels["issue"] != "other"]  # no sentence names the new term
    X, y, _ = training_data(labels)
    sentence = pd.DataFrame({"text": ["Zorglub must stop its provocations."], "context": [""]})
    edited = dataclasses.replace(taxonomy, issues=tuple(
        dataclasses.replace(i, terms=i.terms + ("Zorglub",)) if i.id == "dprk" else i for i in taxonomy.issues))
    before = classifier_for(taxonomy, embeddings=False).fit(X, y).probabilities(sentence)["issue"]
    after = classifier_for(edited, embeddings=False).fit(X, y).probabilities(sentence)["issue"]
    assert after.loc[0, "dprk"] > before.loc[0, "dprk"] + 0.1


@pytest.fixture(scope="module")
def seed_data():
    from pipeline.model import training_data

    return training_data(pd.read_csv(LABELS / "seeds.csv", keep_default_na=False))


def test_the_classifier_is_a_scikit_learn_estimator_clone_and_grid_search_work_on(taxonomy, seed_data):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, GroupKFold

    from pipeline.config import Config
    from pipeline.model import StatementClassifier, classifier_for

    X, y, groups = seed_data
    estimator = classifier_for(taxonomy, **Config().replace(issue_C=2.0, sentence_embeddings=False).model_params())
    assert estimator.get_params()["issue_C"] == 2.0 and estimator.get_params()["embeddings"] is False
    fitted = estimator.fit(X, y)
    copy = clone(fitted)  # unfitted, same parameters
    assert isinstance(copy, StatementClassifier) and copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "issue_")
    search = GridSearchCV(copy, {"issue_C": [0.5, 4.0]}, cv=GroupKFold(n_splits=3)).fit(X, y, groups=groups)
    assert search.best_params_["issue_C"] in (0.5, 4.0) and 0 < search.best_score_ <= 1
    predicted = search.best_estimator_.predict(X.head(3))
    assert list(predicted.columns) == ["issue", "issue_confidence", "stance", "stance_confidence", "target", "target_confidence"]


def test_a_models_version_follows_its_parameters_and_code_never_a_hand_bumped_number():
    from pipeline.registry import version_for

    same = version_for("abc", params={"issue_C": 4.0})
    assert version_for("abc", params={"issue_C": 4.0}) == same
    assert version_for("abc", params={"issue_C": 3.0}) != same
    assert version_for("abd", params={"issue_C": 4.0}) != same
    assert version_for("abc", embeddings=False, params={"issue_C": 4.0}) != same
    # the configuration's defaults are the estimator's: a run and the tests name the same model
    from pipeline.config import Config
    assert version_for("abc", params=Config().model_params()) == version_for("abc")


def test_refitted_vectors_of_the_same_size_make_a_new_model_version(tmp_path):
    import shutil

    from pipeline import embeddings
    from pipeline.embeddings import BUNDLED
    from pipeline.registry import version_for

    folder = Path(shutil.copytree(BUNDLED, tmp_path / "vectors"))
    before = version_for("abc", params={"embedding_model": str(folder)})
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 1  # one vector's last byte: same size, other content
    (folder / "model.safetensors").write_bytes(bytes(data))
    embeddings.vectors_digest.cache_clear()  # a process reads the vectors' digest once
    assert version_for("abc", params={"embedding_model": str(folder)}) != before


def test_a_model_fitted_with_other_sentence_vectors_is_refused(trained_model, tmp_path):
    from pipeline.embeddings import SentenceEmbedder

    trained_model.save(tmp_path)
    assert StatementModel.load(tmp_path)  # fitted with this installation's vectors
    embedder = next(t for _, t, _ in trained_model.estimator.stance_.named_steps["features"].transformers_
                    if isinstance(t, SentenceEmbedder))
    fitted_with = embedder.vectors_sha256_
    try:
        embedder.vectors_sha256_ = "0" * 64  # as if fitted before the vectors were refitted
        trained_model.save(tmp_path)
    finally:
        embedder.vectors_sha256_ = fitted_with
    with pytest.raises(ValueError, match="other sentence vectors"):
        StatementModel.load(tmp_path)


def test_claims_get_a_target_of_their_issue_and_other_sentences_none(trained_model, taxonomy):
    frame = pd.DataFrame({"text": ["We reject the sanctions pressure on Pyongyang: it will not work.",
                                   "We strongly support the resumption of the six-party talks and direct dialogue with Pyongyang.",
                                   "The meeting took place in Geneva on Monday."], "context": ["", "", ""]})
    out = trained_model.predict(frame)
    assert list(out["issue"][:2]) == ["dprk", "dprk"]
    assert out.loc[0, "target"] == "sanctions_pressure" and out.loc[1, "target"] == "talks"
    assert out.loc[2, "stance"] == "neutral" and out.loc[2, "target"] == ""
    for row in out.itertuples():
        assert row.target == "" or row.target in taxonomy.target_ids(row.issue)
    assert out["target_confidence"].between(0, 1).all()


def test_a_claim_takes_its_target_from_the_passage_it_continues(trained_model):
    # the third sentence names nothing; in a passage on sanctions it opposes the sanctions
    texts = ["We firmly oppose the sanctions pressure and the blockade imposed on Pyongyang.",
             "Cutting all economic ties with the DPRK and tightening sanctions further will only hurt ordinary people.",
             "This path leads nowhere and must be abandoned."]
    issues, stances = pd.Series(["dprk"] * 3), pd.Series(["oppose"] * 3)
    in_one = pd.DataFrame({"text": texts, "context": "", "doc_id": ["speech"] * 3})
    apart = in_one.assign(doc_id=["a", "b", "c"])
    together, sure = trained_model.estimator.predict_targets(in_one, issues, stances)
    alone, sure_alone = trained_model.estimator.predict_targets(apart, issues, stances)
    assert together.tolist() == ["sanctions_pressure"] * 3
    # alone, the sentence is less sure of sanctions, or takes another target
    assert alone[2] != "sanctions_pressure" or sure[2] > sure_alone[2] + 0.05
    assert alone[:2].tolist() == ["sanctions_pressure"] * 2


def test_passage_targets_add_the_claims_on_the_same_issue_nearby_in_the_same_document_only():
    import numpy as np

    from pipeline.model import passage_targets

    proba = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    docs = np.array(["a", "a", "a", "b", ""])
    issues = np.array(["dprk", "dprk", "iran", "dprk", "dprk"])
    out = passage_targets(proba, docs, issues, positions=np.array([0, 2, 1, 0, 1]), window=2, weight=0.5)
    assert out[0].tolist() == [1 / 1.5, 0.5 / 1.5]  # row 1: same document and issue, two sentences on
    assert out[2].tolist() == [0.0, 1.0]  # another issue: stands alone
    assert out[3].tolist() == [1.0, 0.0] and out[4].tolist() == [1.0, 0.0]  # another document; no document
    far = passage_targets(proba, docs, issues, positions=np.array([0, 3, 1, 0, 1]), window=2, weight=0.5)
    assert far[0].tolist() == [1.0, 0.0]  # three sentences apart: outside the passage


def test_the_sequence_model_gives_each_sentence_its_issue_given_its_whole_document():
    import itertools

    import numpy as np

    from pipeline.sequence import document_runs, sequence_marginals

    rng = np.random.default_rng(0)
    scores, transitions = rng.normal(size=(6, 3)), rng.normal(size=(3, 3))
    docs = ["a", "a", "a", "b", "b", ""]

    def by_every_path(scores):  # the definition: sum over every labelling of the document
        n, k = scores.shape
        out = np.zeros((n, k))
        for path in itertools.product(range(k), repeat=n):
            weight = np.exp(sum(scores[i, path[i]] for i in range(n)) + sum(transitions[path[i - 1], path[i]] for i in range(1, n)))
            out[np.arange(n), path] += weight
        return out / out.sum(axis=1, keepdims=True)

    expected = np.vstack([by_every_path(scores[:3]), by_every_path(scores[3:5]), by_every_path(scores[5:])])
    assert np.allclose(sequence_marginals(scores, transitions, docs), expected)
    starts, lengths = document_runs(["a", "a", "", "", "b"])
    assert starts.tolist() == [0, 2, 3, 4] and lengths.tolist() == [2, 1, 1, 1]  # rows without a document stand alone


@pytest.fixture(scope="module")
def excerpt_model(taxonomy):
    """A model trained on the labelled excerpts of 250 UN speeches, without embeddings (seconds):
    each issue is labelled in many documents, so it reads each document as a sequence."""
    from pipeline.labels import load_labels
    from pipeline.model import classifier_for, training_data

    labels = load_labels(LABELS, taxonomy)
    X, y, _ = training_data(labels[labels["file"].isin(pd.read_csv(LABELS / "ungdc_excerpts.csv")["file"])])
    return classifier_for(taxonomy, embeddings=False).fit(X, y)


def test_issue_and_stance_models_read_each_document_as_a_sequence_unless_told_not_to(excerpt_model, taxonomy, seed_data):
    from sklearn.base import clone

    from pipeline.model import classifier_for
    from pipeline.sequence import PassageSequence

    assert isinstance(excerpt_model.passage_, PassageSequence)
    assert excerpt_model.passage_.classes_.tolist() == excerpt_model.issue_.classes_.tolist()
    assert isinstance(excerpt_model.stance_passage_, PassageSequence)
    assert excerpt_model.stance_passage_.classes_.tolist() == excerpt_model.stance_.classes_.tolist()
    assert clone(excerpt_model).get_params()["passages"] is True
    X, y, _ = seed_data
    alone = classifier_for(taxonomy, embeddings=False, passages=False).fit(X, y)
    assert alone.passage_ is None and alone.stance_passage_ is None
    # the seeds label each issue in one or two documents: too few to learn the sequence from
    seeds = classifier_for(taxonomy, embeddings=False).fit(X, y)
    assert seeds.passage_ is None
    out = seeds.predict(X)
    assert set(out["issue"]) <= set(taxonomy.issue_ids) and out["issue_confidence"].between(0, 1).all()


def test_a_sentence_that_names_no_issue_takes_the_issue_of_the_passage_it_continues(excerpt_model):
    # the codebook's rule 2: "the alliance" is NATO after a sentence on NATO, and what follows leans to it
    texts = ["NATO's expansion to the east and its new military infrastructure near our borders undermine European security.",
             "The enlargement of the alliance and its exercises along the borders threaten stability on the continent.",
             "This is a dangerous path, and it must stop.", "We will not accept it."]
    # each with the two sentences before it as its context, as a run gives them
    context = ["", texts[0], " ".join(texts[:2]), " ".join(texts[1:3])]
    in_one = pd.DataFrame({"text": texts, "context": context, "doc_id": "speech"})
    apart = in_one.assign(doc_id=["a", "b", "c", "d"])
    assert excerpt_model.predict(in_one)["issue"][:3].tolist() == ["nato", "nato", "nato"]
    together, alone = (excerpt_model.probabilities(f)["issue"]["nato"] for f in (in_one, apart))
    # what names nothing leans to its passage's issue beyond what its context says (read
    # alone, as documents too short for a passage, the two are equal)
    assert together[1] > alone[1] and together[2] > alone[2] + 0.1


def test_a_sentence_inside_a_passage_of_criticism_leans_to_the_passage_stance(excerpt_model):
    # stance runs on through a passage, as issue does: "They were imposed in 2019." says only
    # what happened, but between two sentences of criticism it is part of the criticism
    texts = ["We strongly condemn the unilateral sanctions imposed on our people, which violate international law.",
             "They were imposed in 2019.", "They deprive children of medicine and food, and they must be lifted.",
             "We reject them."]
    in_one = pd.DataFrame({"text": texts, "context": "", "doc_id": "speech"})
    apart = in_one.assign(doc_id=["a", "b", "c", "d"])
    together, alone = (excerpt_model.probabilities(f)["stance"]["oppose"] for f in (in_one, apart))
    assert together[1] > alone[1] + 0.1
    assert excerpt_model.predict(in_one)["stance"].tolist() == ["oppose"] * 4


def test_a_sentence_alone_or_in_a_document_too_short_for_a_passage_is_read_by_the_sentence_model(excerpt_model):
    import numpy as np

    from pipeline.model import model_inputs

    # the CRF learnt from passages: a lone sentence is the sentence model's to read
    texts = ["NATO expansion threatens Europe.", "We welcome the talks on the nuclear programme of Iran."]
    alone = pd.DataFrame({"text": texts, "context": ""})
    note = alone.assign(doc_id="note")  # a document of two sentences
    for frame in (alone, note):
        probabilities = excerpt_model.probabilities(frame)
        for part in ("issue", "stance"):
            pipeline = getattr(excerpt_model, f"{part}_")
            assert np.allclose(probabilities[part][list(pipeline.classes_)].to_numpy(), pipeline.predict_proba(model_inputs(frame)))
    assert excerpt_model.predict(alone)["issue"].tolist() == ["nato", "iran"]
