"""Throughput of the paper-scale stages: DeepLabv3+ training, feature extraction, the generator.

Measures, on CUDA when present (else a small CPU configuration):
1. DeepLabv3+ training images/s (ResNet-101, output stride 16, crop 312, batch 16), fp32 and
   bf16 autocast;
2. feature extraction images/s against the bare model forward on the same images (VOC-sized
   375x500 JPEGs in the real on-disk layout), and the bytes written per image. Extraction is
   reported with its one-time start-up (worker processes, file creation) over n images, and in
   steady state as n / (t(2n images) - t(n images)), in which the start-up cancels, after a
   short warm-up run;
3. the generator stage for VOC-sized banks: GMMN training iterations/s at D=256 over 15 seen
   classes, and the time to write a bank of 15,000 features for each of 5 unseen classes.

Usage: python bench/step0_throughput.py [--quick] [--only-extraction]   (prints a Markdown table)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures import VOC_CLASSES, config_section, make_voc  # noqa: E402
from zs3core.data.dataset import SegmentationDataset  # noqa: E402
from zs3core.data.index import index_rows, write_index  # noqa: E402
from zs3core.data.transforms import EvalTransform  # noqa: E402
from zs3core.data.voc import voc_records  # noqa: E402
from zs3core.device import resolve_device  # noqa: E402
from zs3core.feature_extraction import (BATCH_SIZE, _normalised, equal_size_batches,  # noqa: E402
                                        extract_features)
from zs3core.features import FeatureWriter  # noqa: E402
from zs3core.models.deeplab import DeepLabV3Plus  # noqa: E402
from zs3core.train.generator import train_gmmn, write_bank  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def training_rate(model, device, batch, crop, dtype, steps):
    model.train().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(batch, 3, crop, crop, device=device)
    y = torch.randint(0, 21, (batch, crop, crop), device=device)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=255)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return batch * steps / (time.perf_counter() - t)


@torch.no_grad()
def forward_rate(model, dataset, device, batch):
    """The bare model on images already decoded and on the device, `batch` per forward pass, the
    feature maps left there: the ceiling extraction is held to."""
    model.eval().to(device)
    images = [dataset[i][0] for i in range(len(dataset))]
    batches = [torch.stack(images[i:i + batch]).to(device) for i in range(0, len(images), batch)]
    for x in batches[:2]:
        model.features(x)
    sync(device)
    t = time.perf_counter()
    for x in batches:
        model.features(x)
    sync(device)
    return len(images) / (time.perf_counter() - t)


@torch.no_grad()
def loaded_forward_time(model, index, workers, device):
    """Seconds for the bare model over a split read from disk as extraction reads it (same
    workers, same equal-size batches), with nothing sampled or written."""
    loader = torch.utils.data.DataLoader(SegmentationDataset(index, "train"), batch_size=None,
                                         num_workers=workers, pin_memory=device.type == "cuda")
    t = time.perf_counter()
    for batch in equal_size_batches(loader, BATCH_SIZE):
        model.features(_normalised([item[0].as_subclass(torch.Tensor) for item in batch], device))
    sync(device)
    return time.perf_counter() - t


def toy_feature_file(path, n_images, dim, classes, rng):
    with FeatureWriter(path, dim, classes, classes[16:], max_per_class=100) as w:
        for i in range(n_images):
            label = rng.integers(0, 16, (32, 32)).astype(np.uint8)
            w.add(f"im{i}", rng.standard_normal((dim, 32, 32)).astype(np.float32), label, rng)


def write_first_rows(path, rows, n):
    """An index of the first n train rows (and no others): same images, smaller split."""
    write_index(path, [r for r in rows if r["split"] == "train"][:n])
    return path


def timed_extraction(model, index, out, workers, device):
    t = time.perf_counter()
    extract_features(model, index, "train", VOC_CLASSES, ["cow", "motorbike"], out,
                     max_per_class=100, seed=0, num_workers=workers, device=str(device))
    sync(device)
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a CPU smoke run)")
    parser.add_argument("--only-extraction", action="store_true",
                        help="skip the training-rate and generator measurements")
    parser.add_argument("--workers", type=int, default=6, help="DataLoader workers of the extraction")
    args = parser.parse_args()
    device = resolve_device()
    quick = args.quick or device.type == "cpu"
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    rows = []
    torch.backends.cudnn.benchmark = True

    crop, batch, steps = (97, 2, 2) if quick else (312, 16, 10)
    for label, dtype in () if args.only_extraction else (("fp32", None), ("bf16 autocast", torch.bfloat16)):
        model = DeepLabV3Plus(21, backbone="resnet101")
        rate = training_rate(model, device, batch, crop, dtype, steps)
        rows.append((f"DeepLabv3+ R101 training, crop {crop}, batch {batch}, {label}", f"{rate:.1f} images/s"))
        del model

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = 8 if quick else 320
        size = (120, 160) if quick else (375, 500)
        root, _ = make_voc(tmp, [f"t{i:03d}" for i in range(2 * n)], ["v0"], size=size)
        all_rows = list(index_rows(voc_records(root), VOC_CLASSES))
        index2 = write_first_rows(tmp / "index2n.csv", all_rows, 2 * n)
        index = write_first_rows(tmp / "index.csv", all_rows, n)
        warm_index = write_first_rows(tmp / "warm.csv", all_rows, min(n, 16))
        model = DeepLabV3Plus(21, backbone="resnet101")
        model.train()
        with torch.no_grad():  # settle the batch-norm statistics so eval features are finite
            for _ in range(30):
                model(torch.randn(2, 3, 65, 65))
        dataset = SegmentationDataset(index, "train", EvalTransform())
        bare1 = forward_rate(model, dataset, device, 1)
        bare = forward_rate(model, dataset, device, BATCH_SIZE)
        out = tmp / "train.h5"
        workers = 0 if quick else args.workers
        t = time.perf_counter()
        for _ in torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=workers):
            pass
        loading = n / (time.perf_counter() - t)
        timed_extraction(model, warm_index, tmp / "warm.h5", workers, device)
        f_n, f_2n = (loaded_forward_time(model, i, workers, device) for i in (index, index2))
        loaded = n / (f_2n - f_n)
        t_n = timed_extraction(model, index, out, workers, device)
        t_2n = timed_extraction(model, index2, tmp / "train2n.h5", workers, device)
        extract, steady = n / t_n, n / (t_2n - t_n)
        rows.append((f"bare R101 features(), {size[1]}x{size[0]} images on the device, batch 1", f"{bare1:.1f} images/s"))
        rows.append((f"bare R101 features(), same images, batch {BATCH_SIZE} (= 100% below)", f"{bare:.1f} images/s"))
        rows.append((f"data loading alone ({workers} workers)", f"{loading:.1f} images/s"))
        rows.append((f"feature extraction, {n} images (load + forward + sample + HDF5, start-up included)",
                     f"{extract:.1f} images/s = {100 * extract / bare:.0f}% of bare"))
        rows.append((f"feature extraction, steady state: {n} / (t({2 * n} images) - t({n} images))",
                     f"{steady:.1f} images/s = {100 * steady / bare:.0f}% of bare"))
        rows.append((f"bare features() on images read from disk, steady state, {workers} workers",
                     f"{loaded:.1f} images/s; extraction = {100 * steady / loaded:.0f}% of it"))
        rows.append(("feature file size", f"{out.stat().st_size / n / 1024:.1f} KiB per image"))

        if not args.only_extraction:
            classes = [f"c{i}" for i in range(21)]
            feats = tmp / "toy.h5"
            toy_feature_file(feats, 20 if quick else 200, 256, classes, np.random.default_rng(0))
            iterations = 20 if quick else 1000
            emb = np.random.default_rng(1).standard_normal((21, 300)).astype(np.float32)
            t = time.perf_counter()
            train_gmmn(feats, emb, {**config_section("generator"), "iterations": iterations, "device": device.type},
                       tmp / "g.pt", seed=0)
            gen_s = time.perf_counter() - t
            rows.append(("GMMN training, D=256, 16 seen classes x 128 + 128",
                         f"{iterations / gen_s:.1f} iterations/s"))
            t = time.perf_counter()
            write_bank(tmp / "g.pt", emb, [16, 17, 18, 19, 20], 15000, tmp / "bank.h5", seed=0,
                       class_names=classes, device=device)
            rows.append(("bank of 5 x 15,000 features", f"{time.perf_counter() - t:.2f} s"))

    print_table(name, rows)


def print_table(name, rows):
    print(f"| measurement on {name} | result |\n|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")


if __name__ == "__main__":
    main()
