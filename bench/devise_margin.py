"""Why the DeViSE baseline transfers for some seeds and collapses for others, on a synthetic world.

A synthetic world's appearance is a function of the top principal components of the class
embeddings (`zs3core.data.synthetic.appearance_table`). This script stands a small MLP in for
the segmenter: per seed it fits the baseline's hinge rank loss (`zs3core.models.devise.RankLoss`,
seen classes only) on noisy appearance codes of seen classes for 5 epochs, then calls each
unseen-class sample the most cosine-similar class among ALL classes, as the baseline's
generalized evaluation does. It also prints what the best linear regressor from the world's
principal-component scores to the embeddings, fitted on seen classes, predicts for each unseen
class: the answer of a converged, well-posed regression.

Run in a folder holding a run's embeddings:
  .venv/bin/python bench/devise_margin.py [embeddings/spacy_md/synthvoc.npy] [margin ...]
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from zs3core.data.synthetic import PARAM_NAMES, appearance_table
from zs3core.models.devise import RankLoss

UNSEEN = ("cow", "motorbike")  # synthvoc K=2
SEEDS, EPOCHS, BATCH, NOISE = range(10), 5, 32, 0.08


def least_squares_answer(table: np.ndarray, names: list[str], seen: list[int], unseen: list[int]) -> None:
    centred = table - table.mean(0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    x = np.c_[u[:, :5] * s[:5], np.ones(len(table))]
    coef, *_ = np.linalg.lstsq(x[seen], table[seen], rcond=None)
    out = F.normalize(torch.tensor(x @ coef), dim=1).numpy()
    cos = out @ (table / np.linalg.norm(table, axis=1, keepdims=True)).T
    for c in unseen:
        best = int(cos[c].argmax())
        print(f"least squares on seen classes: {names[c]} -> nearest {names[best]} "
              f"(cos to itself {cos[c, c]:.2f}, best seen {cos[c, seen].max():.2f})")


def rank_loss_runs(table: np.ndarray, seen: list[int], unseen: list[int], margin: float) -> None:
    app = appearance_table(table, n_components=5, n_params=len(PARAM_NAMES), contrast=2.0, seed=0)
    rng = np.random.default_rng(0)
    ys, yu = rng.choice(seen, 4000), rng.choice(unseen, 2000)
    xs = torch.tensor(app[ys] + NOISE * rng.standard_normal((len(ys), app.shape[1])), dtype=torch.float32)
    xu = torch.tensor(app[yu] + NOISE * rng.standard_normal((len(yu), app.shape[1])), dtype=torch.float32)
    emb = torch.tensor(table, dtype=torch.float32)
    rows = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(app.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, emb.shape[1]))
        loss_fn, opt = RankLoss(emb, seen, margin), torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        target = torch.tensor(ys)
        for _ in range(EPOCHS):
            for i in range(0, len(xs), BATCH):
                loss = loss_fn(net(xs[i:i + BATCH])[:, :, None, None], target[i:i + BATCH, None, None])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            pred = (F.normalize(net(xu), dim=1) @ F.normalize(emb, dim=1).T).argmax(1).numpy()
        rows.append((np.mean(pred == yu), loss.item()))
    called = ", ".join(f"{100 * r:.0f}" for r, _ in rows)
    print(f"margin {margin:g}: % of unseen samples called their class per seed: {called}; "
          f"last batch loss {min(l for _, l in rows):.3f}-{max(l for _, l in rows):.3f}")


def main(path: str = "embeddings/spacy_md/synthvoc.npy", *margins: str) -> None:
    torch.set_num_threads(1)
    table = np.load(path)
    names = [c["class"] for c in json.loads(Path(path).with_suffix(".json").read_text())["classes"]]
    unseen = [names.index(c) for c in UNSEEN]
    seen = [i for i in range(len(names)) if i not in unseen]
    least_squares_answer(table, names, seen, unseen)
    for margin in map(float, margins or ("0.1", "0.2", "0.5")):
        rank_loss_runs(table, seen, unseen, margin)


if __name__ == "__main__":
    main(*sys.argv[1:])
