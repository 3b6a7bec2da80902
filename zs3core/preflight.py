"""Preflight of a real dataset: every file the index and training will read, decoded once,
before the first GPU job.

Building the index stops at the first bad file; here every problem becomes a `Finding` (named
by path), so one pass lists all of them. Only what makes a run impossible from the start (a
missing root folder, no image at all) raises `PreflightError`.

`scan` plans the records of the dataset's layout (`zs3core.data.layouts`) through `scan_voc` /
`scan_context` / `scan_context_png` (ids listed twice, missing files, class names absent from
Context's labels.txt), `decode_all` reads each image and label once in a pool of worker
processes, and `class_table` / `split_table` sum what the stages will get.
"""
from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from zs3core.data.context import (IMAGES_LAYOUT, LABELS_LAYOUT, MMSEG_LAYOUT, SPLITS_LAYOUT, apply_lut,
                                  lut_outside, mmseg_names, read_context_names, read_label_map)
from zs3core.data.index import SPLITS, require_layout, verify_image
from zs3core.data.labels import VOID, read_label, read_png_label
from zs3core.data.layouts import OFFICIAL_COUNTS, Layout
from zs3core.data.voc import voc_records


class PreflightError(RuntimeError):
    """Nothing to check: a root folder is missing or no image is listed."""


@dataclass(frozen=True)
class Finding:
    """One problem: `severity` error (a job would fail on it) or warning (the run would go on,
    differently from what the paper did), the `check` that found it, the file, what is wrong."""
    severity: str
    check: str
    path: str
    message: str


@dataclass
class Plan:
    """What the run would read: records (image_id, split, image, label) of files present, the
    per-split count of listed ids, the Context lookup table (459-class index, or the value of
    mmsegmentation's PNGs, -> class index)."""
    records: list[dict]
    listed: dict[str, int]
    official: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    lut: np.ndarray | None = None


def listed_ids(path: Path) -> tuple[list[str], list[str]]:
    """(ids in first-seen order, ids listed more than once) of a split file."""
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    seen, twice = set(), []
    for i in ids:
        if i in seen and i not in twice:
            twice.append(i)
        seen.add(i)
    return list(dict.fromkeys(ids)), twice


def _read_split(path: Path, findings: list[Finding]) -> list[str]:
    ids, twice = listed_ids(path)
    for i in twice:
        findings.append(Finding("warning", "listed twice", str(path), f"id {i} is listed more than once"))
    return ids


def _present(records: Iterable[dict], findings: list[Finding]) -> list[dict]:
    """Records whose image and label both exist; a finding for each missing file."""
    kept = []
    for r in records:
        missing = [r[k] for k in ("image", "label") if not Path(r[k]).is_file()]
        for path in missing:
            findings.append(Finding("error", "missing file", path,
                                    f"{r['split']} id {r['image_id']} is listed but the file does not exist"))
        if not missing:
            kept.append(r)
    return kept


def scan_voc(root, sbd_root=None, aug_list=None, layout: str | None = None) -> Plan:
    """VOC 2012 (+ SBD's `.mat` or the SegmentationClassAug/ PNGs of `aug_list`): the records of
    `zs3core.data.voc.voc_records`, the index's own, with what it would pass over as findings.
    `layout` picks the official counts (by default the one the paths imply)."""
    records = voc_records(root, sbd_root, aug_list)
    findings: list[Finding] = []
    lists = [Path(root) / "ImageSets" / "Segmentation" / f"{s}.txt" for s in SPLITS]
    lists += [Path(sbd_root) / f"{s}.txt" for s in SPLITS] if sbd_root is not None else []
    lists += [Path(aug_list)] if aug_list is not None else []
    for path in lists:
        _read_split(path, findings)
    listed = {s: sum(r["split"] == s for r in records) for s in SPLITS}
    layout = layout or ("voc_sbd_mat" if sbd_root is not None else "voc_aug_png" if aug_list is not None else "voc")
    return Plan(_present(records, findings), listed, OFFICIAL_COUNTS[layout], findings)


def context_lookup(names: Mapping[int, str], class_names: Sequence[str], renames: Mapping[str, str] | None,
                   names_path: str, source: str = "labels.txt") -> tuple[np.ndarray, list[Finding]]:
    """As `zs3core.data.context.context_lut`, but a class of the list absent from the names
    (`source`: labels.txt, or the 59 of mmsegmentation's PNGs) is a finding (its pixels would all
    be background) instead of an error."""
    renames = renames or {}
    position = {name: i for i, name in enumerate(class_names)}
    lut = np.zeros(max(names, default=0) + 1, dtype=np.uint8)
    for index, name in names.items():
        name = renames.get(name, name)
        if position.get(name, 0):
            lut[index] = position[name]
    matched = {renames.get(n, n) for n in names.values()}
    findings = [Finding("error", f"class not in {source}", names_path,
                        f"class {c!r} of datasets.context.classes matches no name in {source} "
                        f"(set datasets.context.label_renames)")
                for c in class_names[1:] if c not in matched]
    return lut, findings


def scan_context(root, labels, splits, class_names: Sequence[str], renames=None) -> Plan:
    """Pascal-Context: VOC2010 JPEGs, the 459-class `.mat` LabelMaps, the split files."""
    root = require_layout(root, "datasets.context.root", ["JPEGImages"], IMAGES_LAYOUT)
    labels = require_layout(labels, "datasets.context.labels", [], LABELS_LAYOUT)
    splits = require_layout(splits, "datasets.context.splits", ["train.txt", "val.txt"], SPLITS_LAYOUT)
    findings: list[Finding] = []
    names_txt = next((p for p in (labels / "labels.txt", labels.parent / "labels.txt") if p.is_file()), None)
    if names_txt is None:
        raise PreflightError(f"config datasets.context.labels: no labels.txt in {labels} or its parent")
    lut, lut_findings = context_lookup(read_context_names(names_txt), class_names, renames, str(names_txt))
    findings += lut_findings
    records, listed = _context_records(root, splits, labels, ".mat", findings)
    return Plan(_present(records, findings), listed, OFFICIAL_COUNTS["context_mat"], findings, lut)


def _context_records(root: Path, splits: Path, labels: Path, suffix: str, findings: list) -> tuple[list[dict], dict]:
    """Pascal-Context's listed records (image under root/JPEGImages, label `labels`/<id><suffix>) and
    the count listed per split; an id in both lists is a finding."""
    ids = {s: _read_split(splits / f"{s}.txt", findings) for s in SPLITS}
    for i in sorted(set(ids["train"]) & set(ids["val"])):
        findings.append(Finding("error", "listed twice", str(splits), f"id {i} is in both train.txt and val.txt"))
    records = [{"image_id": i, "split": s, "image": str(root / "JPEGImages" / f"{i}.jpg"),
                "label": str(labels / f"{i}{suffix}")} for s in SPLITS for i in ids[s]]
    return records, {s: len(ids[s]) for s in SPLITS}


def scan_context_png(root, class_names: Sequence[str], renames=None) -> Plan:
    """Pascal-Context as mmsegmentation's converter left it under the VOC2010 `root`:
    SegmentationClassContext/<id>.png (0 = background, k = the k-th of the 59 classes by name)
    and ImageSets/SegmentationContext/{train,val}.txt."""
    root = require_layout(root, "datasets.context.root", ["JPEGImages", "SegmentationClassContext",
                          "ImageSets/SegmentationContext/train.txt", "ImageSets/SegmentationContext/val.txt"],
                          MMSEG_LAYOUT)
    pngs, splits = root / "SegmentationClassContext", root / "ImageSets" / "SegmentationContext"
    lut, findings = context_lookup(mmseg_names(), class_names, renames, str(pngs),
                                   "the 59 classes of mmsegmentation's PNGs")
    records, listed = _context_records(root, splits, pngs, ".png", findings)
    return Plan(_present(records, findings), listed, OFFICIAL_COUNTS["context_mmseg_png"], findings, lut)


def scan(layout: Layout, class_names: Sequence[str], renames=None) -> Plan:
    """The plan of a dataset in its layout (`zs3core.data.layouts.choose_layout`)."""
    p = layout.paths
    if layout.name == "context_mat":
        return scan_context(p["root"], p["labels"], p["splits"], class_names, renames)
    if layout.name == "context_mmseg_png":
        return scan_context_png(p["root"], class_names, renames)
    return scan_voc(p["root"], p.get("sbd_root"), p.get("aug_list"), layout.name)


def layout_findings(layout: Layout) -> list[Finding]:
    """A VOC run on VOC train alone: not the paper's training set."""
    if layout.name != "voc":
        return []
    return [Finding("warning", "layout", layout.paths["root"],
                    "VOC train alone (1,464 images): the paper trained on 10,582 (VOC train + SBD); set "
                    "datasets.voc.sbd_root or put SegmentationClassAug/ with its list under the root")]


def inspect(record: dict, num_classes: int, lut: np.ndarray | None = None) -> dict:
    """Decode one image and its label: pixel counts per class, or the problems found (as
    (check, path, message)); `lut` maps Context's 459-class LabelMap (`.mat`) or
    mmsegmentation's PNG values (void 255 kept) onto the classes."""
    problems, counts = [], None
    try:
        width, height = verify_image(record["image"])
    except Exception as exc:  # any decoder failure is a finding about this file
        problems.append(("unreadable image", record["image"], str(exc)))
        width = height = None
    try:
        if lut is None:
            label = read_label(record["label"])
        else:
            png = record["label"].endswith(".png")
            raw = read_png_label(record["label"]) if png else read_label_map(record["label"])
            outside = lut_outside(raw, lut, keep_void=png)
            if outside.size:
                where = f"mmsegmentation's Context classes (0..{len(lut) - 1}) nor void {VOID}" if png \
                    else f"in labels.txt (max {len(lut) - 1})"
                problems.append(("label value", record["label"],
                                 f"{'values' if png else 'LabelMap values'} {outside.tolist()} are not {where}"))
            label = apply_lut(raw, lut, keep_void=png)
    except Exception as exc:
        problems.append(("unreadable label", record["label"], str(exc)))
        return {"image_id": record["image_id"], "split": record["split"], "problems": problems, "counts": None}
    values = np.bincount(label.ravel(), minlength=256)
    bad = [int(v) for v in np.flatnonzero(values) if v >= num_classes and v != VOID]
    if bad:
        problems.append(("label value", record["label"],
                         f"values {bad} are neither a class (0..{num_classes - 1}) nor void {VOID}"))
    if height is not None and label.shape != (height, width):
        problems.append(("size mismatch", record["label"],
                         f"label is {label.shape[1]}x{label.shape[0]}, image {record['image']} is {width}x{height}"))
    if not problems:
        counts = values[:num_classes]
    return {"image_id": record["image_id"], "split": record["split"], "problems": problems, "counts": counts,
            "size": (height, width)}


def _inspect_star(args):
    return inspect(*args)


def decode_all(records: Sequence[dict], num_classes: int, lut: np.ndarray | None = None,
               workers: int = 1) -> list[dict]:
    """`inspect` every record once, in `workers` processes, with a progress bar on stderr.

    Workers are forked: spawned ones would re-run the calling Snakemake script (its `__main__`)."""
    jobs = [(r, num_classes, lut) for r in records]
    with tqdm(total=len(jobs), desc="decoded", mininterval=10) as progress:
        if workers <= 1:
            results = []
            for job in jobs:
                results.append(_inspect_star(job))
                progress.update()
            return results
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = []
            for result in pool.imap(_inspect_star, jobs, chunksize=8):
                results.append(result)
                progress.update()
            return results


def decode_findings(results: Iterable[dict]) -> list[Finding]:
    """The problems of `decode_all`, as errors (the index would stop on each)."""
    return [Finding("error", check, path, message) for r in results for check, path, message in r["problems"]]


def count_findings(plan: Plan) -> list[Finding]:
    """Splits whose listed count differs from the official one (a partial download, a wrong list)."""
    return [Finding("warning", "split count", split, f"{plan.listed[split]} ids listed, the official "
                    f"{split} split has {plan.official[split]}")
            for split in SPLITS if plan.listed[split] != plan.official[split]]


def class_table(results: Iterable[dict], class_names: Sequence[str]) -> list[dict]:
    """Per class and split: the images containing it and its pixels (decoded labels only)."""
    images = {s: np.zeros(len(class_names), np.int64) for s in SPLITS}
    pixels = {s: np.zeros(len(class_names), np.int64) for s in SPLITS}
    for r in results:
        if r["counts"] is not None:
            images[r["split"]] += r["counts"] > 0
            pixels[r["split"]] += r["counts"]
    return [{"class": c, **{f"{s}_{what}": int(table[s][i]) for s in SPLITS
                            for what, table in (("images", images), ("pixels", pixels))}}
            for i, c in enumerate(class_names)]


def split_table(results: Sequence[dict], class_names: Sequence[str], unseen_by_k: Mapping[int, Sequence[str]],
                holdout: frozenset[str] = frozenset()) -> list[dict]:
    """Per split K: the training images step 0 keeps (no unseen pixel), those of them in the
    calibration `holdout` (gamma is chosen on their pixels), the (image, class) pairs of the kept
    images outside it (the generators' unit of `epochs`), the pool ZS5 labels (the images with an
    unseen pixel), and each unseen class's test pixels."""
    rows = []
    for k, unseen in sorted(unseen_by_k.items()):
        ids = [class_names.index(c) for c in unseen]
        train = [r for r in results if r["split"] == "train" and r["counts"] is not None]
        held = sum(r["image_id"] in holdout and not r["counts"][ids].any() for r in train)
        has_unseen = [bool(r["counts"][ids].any()) for r in train]
        pairs = sum(int((r["counts"] > 0).sum()) for r, u in zip(train, has_unseen)
                    if not u and r["image_id"] not in holdout)
        val_pixels = sum((r["counts"][ids] for r in results if r["split"] == "val" and r["counts"] is not None),
                         np.zeros(len(ids), np.int64))
        rows.append({"K": k, "seen_only_train_images": len(train) - sum(has_unseen),
                     "seen_only_held_out": int(held), "generator_pairs": pairs, "zs5_pool_images": sum(has_unseen),
                     "unseen_val_pixels": {c: int(p) for c, p in zip(unseen, val_pixels)}})
    return rows


def split_findings(rows: Iterable[dict], batch_size: int) -> list[Finding]:
    """Splits that would train on too little or test nothing."""
    findings = []
    for row in rows:
        if row["seen_only_train_images"] < batch_size:
            findings.append(Finding("error", "seen-only images", f"K={row['K']}",
                                    f"{row['seen_only_train_images']} training images without an unseen class, "
                                    f"fewer than one batch ({batch_size})"))
        if row["seen_only_held_out"] == 0:
            findings.append(Finding("error", "seen-only images", f"K={row['K']}",
                                    "no held-out training image without an unseen class: calibration has "
                                    "nothing to choose gamma on (raise holdout.fraction)"))
        for c, p in row["unseen_val_pixels"].items():
            if p == 0:
                findings.append(Finding("warning", "unseen class untested", f"K={row['K']}",
                                        f"unseen class {c!r} has no pixel in the val split"))
    return findings
