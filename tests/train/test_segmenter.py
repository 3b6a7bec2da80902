"""The segmenter training loop: learning, poly schedule, checkpoints, exact resume after a kill.

Everything runs on the CPU with a toy network (two convolutions and a dropout) on a tiny in-memory
dataset whose augmentation draws from torch's, numpy's and Python's global RNGs, so the resume
tests also prove that the randomness of the transforms is reproduced after a restart.

Run as a script (`python test_segmenter.py child ...`), this file is the training job that the
SIGKILL test starts in a subprocess and kills in the middle of epoch 3.
"""
from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from zs3core.checkpoints import (CheckpointMismatch, CorruptCheckpoint, capture_rng_state, load_checkpoint,
                                 restore_rng_state, save_checkpoint)
from zs3core.train.segmenter import (SegmenterTraining, build_optimizer, load_trained, poly_scheduler,
                                     train_segmenter)

REPO = Path(__file__).resolve().parents[2]
N_IMAGES, BATCH = 16, 4          # 4 iterations per epoch
ITERS_PER_EPOCH = N_IMAGES // BATCH


class ToyNet(nn.Module):
    """Two convolutions with a dropout in between; output at the input resolution."""

    def __init__(self, n_classes: int = 2):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Dropout(0.2))
        self.head = nn.Conv2d(8, n_classes, 1)

    def forward(self, x):
        return self.head(self.backbone(x))

    def backbone_parameters(self):
        return self.backbone.parameters()

    def head_parameters(self):
        return self.head.parameters()


class Interrupt(Exception):
    pass


class ToyDataset(torch.utils.data.Dataset):
    """Bright (class 1, > 0) vs dark (class 0) pixels, 20x20 images randomly cropped to 12x12.

    The crop uses torch's global RNG, the flip Python's `random`, the brightness jitter numpy's.
    `kill_at` (1-based call number) SIGKILLs the process, as a scheduler or an OOM killer would.
    """

    def __init__(self, n: int = N_IMAGES, size: int = 20, crop: int = 12, kill_at: int | None = None):
        g = torch.Generator().manual_seed(1234)
        gray = torch.rand(n, 1, size, size, generator=g)
        self.images = (gray - 0.5 + 0.1 * torch.randn(n, 3, size, size, generator=g)).float()
        self.masks = (gray[:, 0] > 0.5).long()
        self.masks[:, :2, :2] = 255  # a few void pixels
        self.crop, self.kill_at, self.calls = crop, kill_at, 0

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        self.calls += 1
        if self.kill_at is not None and self.calls >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        image, mask = self.images[i], self.masks[i]
        top, left = (int(v) for v in torch.randint(0, image.shape[-1] - self.crop + 1, (2,)))
        image = image[:, top:top + self.crop, left:left + self.crop]
        mask = mask[top:top + self.crop, left:left + self.crop]
        if random.random() < 0.5:
            image, mask = image.flip(-1), mask.flip(-1)
        image = image + float(np.random.uniform(-0.05, 0.05))
        return image.contiguous(), mask.contiguous(), f"img{i:03d}"


class CountingLoss:
    """Cross-entropy (void = 255) that counts its calls, checks that no final weights exist yet,
    and can raise `Interrupt` at a given call (a crash in the middle of an epoch)."""

    def __init__(self, out_path: Path | None = None, raise_at: int | None = None):
        self.ce = nn.CrossEntropyLoss(ignore_index=255)
        self.out_path, self.raise_at, self.calls = out_path, raise_at, 0

    def __call__(self, outputs, masks):
        self.calls += 1
        assert self.out_path is None or not self.out_path.exists(), "final weights written before the end"
        if self.raise_at is not None and self.calls >= self.raise_at:
            raise Interrupt(f"interrupted at iteration {self.calls}")
        return self.ce(outputs, masks)


def make_cfg(**kw) -> SegmenterTraining:
    base = dict(epochs=4, batch_size=BATCH, lr=0.2, head_lr_mult=10.0, seed=7, num_workers=0)
    return SegmenterTraining(**{**base, **kw})


def new_model() -> ToyNet:
    torch.manual_seed(0)  # the same initial weights in every run and process
    return ToyNet()


def run(tmp: Path, name: str, cfg: SegmenterTraining, dataset=None, loss=None):
    work, out = tmp / name, tmp / f"{name}.pt"
    loss = loss or CountingLoss(out)
    train_segmenter(new_model(), dataset or ToyDataset(), loss, cfg, work_dir=work, out_path=out,
                    device="cpu")
    return work, out, loss


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Run A: 4 epochs without interruption (shared by the resume tests)."""
    tmp = tmp_path_factory.mktemp("uninterrupted")
    work, out, loss = run(tmp, "a", make_cfg())
    return work, out, loss


# --- learning and outputs ----------------------------------------------------------------------

def test_loss_decreases_and_final_weights_appear_at_the_end(uninterrupted):
    work, out, loss = uninterrupted
    assert loss.calls == 4 * ITERS_PER_EPOCH  # CountingLoss also checked `out` did not exist meanwhile
    rows = read_csv(work / "loss.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < 0.6 * losses[0], losses
    weights, meta = load_trained(out)
    assert meta["epochs"] == 4 and meta["iterations"] == 4 * ITERS_PER_EPOCH and meta["seed"] == 7
    assert set(weights) == set(ToyNet().state_dict())
    assert not (work / "last.pt").exists()  # scratch state removed once the weights are out
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []  # no temp files


def test_poly_schedule_per_iteration_both_groups():
    cfg = make_cfg(lr=0.01, head_lr_mult=10.0, poly_power=0.9)
    model = ToyNet()
    opt = build_optimizer(model, cfg)
    sched = poly_scheduler(opt, max_iter=50, power=0.9)
    for k in range(1, 51):
        opt.step()
        sched.step()
        expected = 0.01 * (1 - k / 50) ** 0.9
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-12, abs=1e-15)
        assert opt.param_groups[1]["lr"] == pytest.approx(10 * expected, rel=1e-12, abs=1e-15)
    # the groups hold exactly the backbone and the head parameters
    assert [id(p) for p in opt.param_groups[0]["params"]] == [id(p) for p in model.backbone.parameters()]
    assert [id(p) for p in opt.param_groups[1]["params"]] == [id(p) for p in model.head.parameters()]
    assert opt.param_groups[0]["momentum"] == 0.9 and opt.param_groups[0]["weight_decay"] == 5e-4


def test_training_loop_steps_the_schedule_every_iteration(uninterrupted):
    work, _, _ = uninterrupted
    max_iter = 4 * ITERS_PER_EPOCH
    for row in read_csv(work / "loss.csv"):
        it = int(row["epoch"]) * ITERS_PER_EPOCH
        expected = 0.2 * max(0.0, 1 - it / max_iter) ** 0.9
        assert float(row["lr_backbone"]) == pytest.approx(expected, rel=1e-12, abs=1e-15)
        assert float(row["lr_head"]) == pytest.approx(10 * expected, rel=1e-12, abs=1e-15)


def test_parameter_groups_must_cover_the_model():
    class Partial(ToyNet):
        def backbone_parameters(self):
            return iter(())
    with pytest.raises(ValueError, match="backbone.0.weight"):
        build_optimizer(Partial(), make_cfg())


# --- exact resume ------------------------------------------------------------------------------

def test_resume_after_sigkill_mid_epoch_is_bit_identical(tmp_path, uninterrupted):
    _, out_a, _ = uninterrupted
    work, out = tmp_path / "b", tmp_path / "b.pt"
    kill_at = 2 * N_IMAGES + BATCH + 2  # the 2nd batch of epoch 3 (num_workers=0: one call per item)
    child = subprocess.run(
        [sys.executable, __file__, "child", str(work), str(out), str(kill_at), str(torch.get_num_threads())],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert not out.exists()
    assert load_checkpoint(work / "last.pt")["epoch"] == 2

    dataset, loss = ToyDataset(), CountingLoss(out)
    train_segmenter(new_model(), dataset, loss, make_cfg(), work_dir=work, out_path=out, device="cpu")
    assert loss.calls == 2 * ITERS_PER_EPOCH  # only epochs 3 and 4 were run again
    assert dataset.calls == 2 * N_IMAGES
    (wa, ma), (wb, mb) = load_trained(out_a), load_trained(out)
    assert_same_weights(wa, wb)
    assert ma["final_loss"] == mb["final_loss"]
    no_time = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert no_time(read_csv(work / "loss.csv")) == no_time(read_csv(uninterrupted[0] / "loss.csv"))


def test_resume_after_crash_with_workers_is_bit_identical(tmp_path):
    cfg = make_cfg(epochs=3, num_workers=2)
    _, out_a, _ = run(tmp_path, "a", cfg)
    with pytest.raises(Interrupt):
        run(tmp_path, "b", cfg, loss=CountingLoss(raise_at=ITERS_PER_EPOCH + 2))  # mid epoch 2
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 1
    assert not (tmp_path / "b.pt").exists()
    _, out_b, loss = run(tmp_path, "b", cfg)
    assert loss.calls == 2 * ITERS_PER_EPOCH
    assert_same_weights(load_trained(out_a)[0], load_trained(out_b)[0])


def test_resume_with_another_configuration_raises_naming_the_file(tmp_path):
    with pytest.raises(Interrupt):
        run(tmp_path, "b", make_cfg(), loss=CountingLoss(raise_at=ITERS_PER_EPOCH + 1))
    last = tmp_path / "b" / "last.pt"
    assert last.exists()
    with pytest.raises(CheckpointMismatch, match="lr") as err:
        run(tmp_path, "b", make_cfg(lr=0.01))
    assert str(last) in str(err.value) and "delete" in str(err.value)
    with pytest.raises(CheckpointMismatch, match="dataset_size"):
        run(tmp_path, "b", make_cfg(), dataset=ToyDataset(n=N_IMAGES + 4))
    assert not (tmp_path / "b.pt").exists()
    # num_workers is an execution detail: changing it does not block the resume
    _, out, loss = run(tmp_path, "b", make_cfg(num_workers=1))
    assert out.exists() and loss.calls == 3 * ITERS_PER_EPOCH


# --- checkpoint files --------------------------------------------------------------------------

def test_truncated_or_foreign_checkpoint_raises_corrupt(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"model": ToyNet().state_dict(), "epoch": 3})
    assert load_checkpoint(path)["epoch"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]  # no temp file left
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptCheckpoint) as err:
        load_checkpoint(path, rebuild_hint="results/voc/model.pt")
    assert str(path) in str(err.value) and "snakemake results/voc/model.pt" in str(err.value)
    assert isinstance(err.value, ValueError)

    path.write_text("not a checkpoint\n")
    with pytest.raises(CorruptCheckpoint, match="ck.pt"):
        load_checkpoint(path)
    torch.save([1, 2, 3], path)
    with pytest.raises(CorruptCheckpoint, match="not a checkpoint dict"):
        load_checkpoint(path)
    torch.save({"x": Interrupt("pickled object")}, path)  # refused by weights_only
    with pytest.raises(CorruptCheckpoint, match="ck.pt"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_corrupt_resume_state_names_the_file_and_target(tmp_path):
    work = tmp_path / "b"
    work.mkdir()
    (work / "last.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CorruptCheckpoint) as err:
        run(tmp_path, "b", make_cfg())
    assert str(work / "last.pt") in str(err.value) and str(tmp_path / "b.pt") in str(err.value)


def test_rng_states_roundtrip_through_weights_only_checkpoint(tmp_path):
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    np.random.normal()  # leaves a cached gaussian in numpy's state
    state = capture_rng_state()
    expected = (torch.rand(3), np.random.rand(3), np.random.normal(), random.random())
    save_checkpoint(tmp_path / "rng.pt", {"rng": state})
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    got = (torch.rand(3), np.random.rand(3), np.random.normal(), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])
    assert expected[2:] == got[2:]


# --- the child job of the SIGKILL test ---------------------------------------------------------

if __name__ == "__main__" and sys.argv[1:2] == ["child"]:
    work_dir, out_path, kill_at, threads = sys.argv[2:6]
    torch.set_num_threads(int(threads))  # the same CPU kernels' reduction order as the parent
    train_segmenter(new_model(), ToyDataset(kill_at=int(kill_at)), CountingLoss(Path(out_path)), make_cfg(),
                    work_dir=work_dir, out_path=out_path, device="cpu")
    sys.exit("the child should have been killed")
