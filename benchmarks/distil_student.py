"""A small neural encoder taught by the sentence transformer the static vectors are fitted to,
to see whether one that reads word order carries more of the teacher's stance signal than a
mean of token vectors does (issue 14). Not adopted: see the README ("What was tried for stance").

The student starts from the fitted static vectors (``fit_static_vectors.py``'s ``--work``
folder: its sentences, the teacher's embeddings of them and ``fitted-float32``), adds learnt
positions and either transformer encoder layers (``--layers N``, 4 heads, feed-forward
``--width``) or a convolution over each token and its two neighbours (``--conv``, ``--width``
channels), mean-pools and maps to the teacher's 768 dimensions. It learns to match the
teacher's embedding (cosine) of the fit's sentences, 2,000 of them held out; with
``--stance-kd W`` also, with weight W, the teacher's stance as a logistic regression on the
teacher's embeddings of the labelled training sentences says it (distillation on unlabelled
sentences; the development set never enters, but the regression saw every training document,
so grouped cross-validation of a student taught so is optimistic).

It then embeds every labelled sentence into ``stance_by_embedding.py``'s cache, so that

    python benchmarks/distil_student.py --work DIR --layers 1 --name student [--stance-kd 1 --teacher all-mpnet-base-v2]
    python benchmarks/stance_by_embedding.py --teacher student

scores the stance model alone on the student's embeddings (``--teacher`` finds them cached and
runs nothing). Needs torch (``pip install torch==2.13.0``; not a project dependency). Run by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from stance_by_embedding import teacher_lookup, texts_to_embed  # noqa: E402 (after the paths)

MAX_TOKENS = 96


def labelled_texts() -> tuple[list[str], dict[str, str]]:
    """The texts ``stance_by_embedding.py`` embeds (training and development sentences, sorted)
    and the training sentences' stances."""
    from pipeline.labels import load_labels
    from pipeline.model import training_data
    from pipeline.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(ROOT / "labels")
    X, y, _ = training_data(load_labels(ROOT / "labels", taxonomy))
    Xd, _, _ = training_data(load_labels(ROOT / "labels", taxonomy, split="dev"))
    return texts_to_embed(X, Xd), dict(zip(X["text"].astype(str), y["stance"].astype(str)))


def main() -> None:
    import pandas as pd
    import torch
    from model2vec import StaticModel
    from torch import nn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="fit_static_vectors.py's --work folder")
    parser.add_argument("--name", required=True)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--conv", action="store_true")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--stance-kd", type=float, default=0.0)
    parser.add_argument("--teacher", type=Path, help="the teacher's folder (with --stance-kd)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/stance-by-embedding"))
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    torch.set_num_threads(2)

    static = StaticModel.from_pretrained(args.work / "fitted-float32")
    texts, train_stances = labelled_texts()
    labelled = set(texts)
    sentences, teacher = [], []
    for part in ("first", "rest"):
        drawn = pd.read_csv(args.work / f"sentences_{part}.csv").iloc[:, 0].astype(str).tolist()
        keep = [i for i, s in enumerate(drawn) if s not in labelled]
        sentences += [drawn[i] for i in keep]
        teacher.append(np.load(args.work / f"teacher_{part}.npy")[keep])
    teacher = np.concatenate(teacher).astype(np.float32)
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)
    tokens = [ids[:MAX_TOKENS] or [0] for ids in static.tokenize(sentences)]
    order = rng.permutation(len(sentences))
    held_out, train = order[:2000], order[2000:]
    dim = static.embedding.shape[1]

    class Student(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding.from_pretrained(torch.tensor(static.embedding), freeze=False)
            self.positions = nn.Embedding(MAX_TOKENS, dim)
            nn.init.zeros_(self.positions.weight)
            self.scale = float(np.linalg.norm(static.embedding, axis=1).mean())
            self.layers = nn.ModuleList([] if args.conv else [
                nn.TransformerEncoderLayer(dim, 4, args.width, dropout=0.1, activation="gelu", batch_first=True, norm_first=True)
                for _ in range(args.layers)])
            if args.conv:
                self.down, self.up = nn.Conv1d(dim, args.width, 3, padding=1), nn.Linear(args.width, dim)
                nn.init.zeros_(self.up.weight)
                nn.init.zeros_(self.up.bias)
            self.head = nn.Linear(dim, 768)

        def forward(self, x, mask):
            h = (self.tokens(x) + self.positions(torch.arange(x.shape[1]))[None]) / self.scale
            for layer in self.layers:
                h = layer(h, src_key_padding_mask=~mask)
            if args.conv:
                h = h * mask.unsqueeze(-1)
                h = h + self.up(nn.functional.gelu(self.down(h.transpose(1, 2)).transpose(1, 2)))
            weights = mask.unsqueeze(-1).float()
            return self.head((h * weights).sum(1) / weights.sum(1))

    def batches(rows, ids, size, shuffle):
        rows = np.asarray(rows)[rng.permutation(len(rows))] if shuffle else np.asarray(rows)
        groups = []
        for start in range(0, len(rows), size * 50):  # similar lengths together, less padding
            chunk = sorted(rows[start:start + size * 50], key=lambda i: len(ids[i]))
            groups += [chunk[j:j + size] for j in range(0, len(chunk), size)]
        for k in (rng.permutation(len(groups)) if shuffle else range(len(groups))):
            group = groups[k]
            x = torch.zeros(len(group), max(len(ids[i]) for i in group), dtype=torch.long)
            mask = torch.zeros_like(x, dtype=torch.bool)
            for r, i in enumerate(group):
                x[r, :len(ids[i])], mask[r, :len(ids[i])] = torch.tensor(ids[i]), True
            yield group, x, mask

    student = Student()
    target = torch.tensor(teacher)
    if args.stance_kd:
        from sklearn.linear_model import LogisticRegression

        lookup = teacher_lookup(args.teacher, texts, args.cache)
        train_texts = [t for t in texts if t in train_stances]
        regression = LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000).fit(
            lookup(train_texts), [train_stances[t] for t in train_texts])
        kd_weights = torch.tensor(regression.coef_.T, dtype=torch.float32)
        kd_bias = torch.tensor(regression.intercept_, dtype=torch.float32)
        teacher_logits = target @ kd_weights + kd_bias
    steps = args.epochs * (len(train) // 64 + 1)
    optimiser = torch.optim.AdamW([
        {"params": [student.tokens.weight], "lr": 2e-4},
        {"params": [p for n, p in student.named_parameters() if n != "tokens.weight"], "lr": 1e-3}], weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=[2e-4, 1e-3], total_steps=steps, pct_start=0.1)

    def held_out_cosine() -> float:
        student.eval()
        with torch.no_grad():
            cosines = [nn.functional.cosine_similarity(student(x, m), target[g]) for g, x, m in batches(held_out, tokens, 256, False)]
        student.train()
        return float(torch.cat(cosines).mean())

    for epoch in range(args.epochs):
        started = time.perf_counter()
        for group, x, mask in batches(train, tokens, 64, True):
            out = student(x, mask)
            loss = (1 - nn.functional.cosine_similarity(out, target[group])).mean()
            if args.stance_kd:
                logits = nn.functional.normalize(out, dim=1) @ kd_weights + kd_bias
                loss = loss + args.stance_kd * 4 * nn.functional.kl_div(
                    nn.functional.log_softmax(logits / 2, 1), nn.functional.log_softmax(teacher_logits[group] / 2, 1),
                    log_target=True, reduction="batchmean")
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        print(f"epoch {epoch}: held-out cosine {held_out_cosine():.4f} ({time.perf_counter() - started:.0f} s)", flush=True)

    student.eval()
    ids = [t[:MAX_TOKENS] or [0] for t in static.tokenize(texts)]
    out = np.zeros((len(texts), 768), dtype=np.float32)
    started = time.perf_counter()
    with torch.no_grad():
        for group, x, mask in batches(range(len(texts)), ids, 256, False):
            out[group] = student(x, mask).numpy()
    print(f"embeds {len(texts) / (time.perf_counter() - started):,.0f} sentences a second (torch, 2 threads)")
    args.cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    np.save(args.cache / f"{args.name}-{digest}.npy", out / np.linalg.norm(out, axis=1, keepdims=True))
    print(f"now: python benchmarks/stance_by_embedding.py --teacher {args.name}")


if __name__ == "__main__":
    main()
