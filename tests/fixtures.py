"""Tiny datasets written in the REAL on-disk formats of Pascal-VOC 2012, SBD and Pascal-Context.

Each `make_*` writes under `tmp` and returns the root(s) plus the label arrays it wrote, so tests
compare what the code reads against ground truth. Files are written with PIL / scipy directly,
not with zs3core's writers, so a bug there cannot hide a bug in its readers.

Labels are a background with 1-3 random rectangles; VOC PNGs carry a 1-pixel void (255)
outline around each object, as the real masks do.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.io
import scipy.sparse
import yaml
from PIL import Image

from zs3core.data.labels import voc_palette

VOC_CLASSES = ("background aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog "
               "horse motorbike person pottedplant sheep sofa train tvmonitor").split()
CONTEXT_CLASSES = ("background aeroplane bag bed bedclothes bench bicycle bird boat book bottle building "
                   "bus cabinet car cat ceiling chair cloth computer cow cup curtain dog door fence floor "
                   "flower food grass ground horse keyboard light motorbike mountain mouse person plate "
                   "platform pottedplant road rock sheep shelves sidewalk sign sky snow sofa table track "
                   "train tree truck tvmonitor wall water window wood").split()
# Real names of the 459-class release that are not among the 59 (multi-word ones included).
CONTEXT_DISTRACTORS = (
    "accordion", "air conditioner", "antenna", "artillery", "ashtray", "atrium", "baby carriage",
    "ball", "ballon", "bamboo weaving", "barrel", "baseball bat", "basket", "basketball backboard",
    "bathtub", "beer", "bell", "binoculars", "bird cage", "bird feeder", "bird nest", "blackboard",
    "board", "bone", "bottle opener", "bowl", "box", "bracelet", "brick", "bridge", "broom", "brush",
    "bucket", "bulletin board", "cage", "cake", "calculator", "calendar", "camel", "camera",
    "camera lens", "can", "candle", "candle holder", "cap", "card", "cart", "case",
    "cash register", "cd", "cellphone", "cello", "chain", "chessboard", "chicken", "chopstick",
    "clock", "closet", "clothes", "clothes tree", "coffee", "coffee machine", "comb", "concrete",
    "cone", "container", "counter", "court", "crocodile", "crutch", "cuttingboard", "deer", "desk",
    "dice", "dish", "dishwasher", "drawer", "dress", "drum", "duck", "elephant", "engine",
    "fan", "faucet", "ferris wheel", "fire extinguisher", "fire hydrant", "fire place", "fish",
    "fish tank", "flag", "flagstaff", "flame", "flashlight", "fork", "frame", "fruit", "glass",
    "guitar", "hat", "helmet", "kite", "ladder", "lamp", "laptop", "mat", "microphone", "mirror",
    "pillar", "pillow", "pipe", "plant", "pole", "poster", "rope", "sand", "screen", "sculpture",
    "stair", "stone", "tent", "toilet", "towel", "toy", "umbrella", "vase", "wheel", "window blinds",
)



def config_section(name: str) -> dict:
    """A section of the shipped config.yaml: the one source of every stage's defaults."""
    with open(Path(__file__).resolve().parents[1] / "config.yaml") as f:
        return yaml.safe_load(f)[name]

def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _label(rng: np.random.Generator, size: tuple[int, int], values: Sequence[int], outline: bool,
           dtype=np.uint8) -> np.ndarray:
    """Background 0 with 1-3 rectangles of values drawn from `values` (optional 255 outline)."""
    h, w = size
    label = np.zeros(size, dtype=dtype)
    for _ in range(rng.integers(1, 4)):
        y0, x0 = rng.integers(1, h // 2), rng.integers(1, w // 2)
        y1, x1 = rng.integers(y0 + 3, h), rng.integers(x0 + 3, w)
        if outline:
            label[y0 - 1:y1 + 1, x0 - 1:x1 + 1] = 255
        label[y0:y1, x0:x1] = rng.choice(values)
    return label


def _write_jpeg(path: Path, size: tuple[int, int], rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path, quality=90)


def _write_ids(path: Path, ids: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i}\n" for i in ids))


def write_voc_png(path: Path, label: np.ndarray) -> None:
    """A palette PNG as in VOC's SegmentationClass/ (mode 'P', pixel value = class index)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.ascontiguousarray(label, np.uint8).tobytes()
    img = Image.frombytes("P", (label.shape[1], label.shape[0]), data)
    img.putpalette(voc_palette().tobytes())  # colours only; the pixel values are the classes
    img.save(path)


def make_voc(tmp, ids_train: Sequence[str], ids_val: Sequence[str], size=(24, 32), rng=0,
             num_classes: int = 21) -> tuple[Path, dict[str, np.ndarray]]:
    """Write `tmp/VOCdevkit/VOC2012` (JPEGImages, SegmentationClass, ImageSets/Segmentation).

    `size` is (height, width); `rng` a seed or Generator. Returns (root, {id: uint8 label}).
    """
    rng = _rng(rng)
    root = Path(tmp) / "VOCdevkit" / "VOC2012"
    labels = {}
    for image_id in dict.fromkeys([*ids_train, *ids_val]):
        labels[image_id] = _label(rng, size, range(1, num_classes), outline=True)
        _write_jpeg(root / "JPEGImages" / f"{image_id}.jpg", size, rng)
        write_voc_png(root / "SegmentationClass" / f"{image_id}.png", labels[image_id])
    _write_ids(root / "ImageSets" / "Segmentation" / "train.txt", ids_train)
    _write_ids(root / "ImageSets" / "Segmentation" / "val.txt", ids_val)
    return root, labels


def write_sbd_mat(path: Path, label: np.ndarray, num_classes: int = 21) -> None:
    """An SBD cls/*.mat: MATLAB v5 struct GTcls with Boundaries (cell of sparse edge maps, one per
    object class), Segmentation (uint8) and CategoriesPresent (uint8 column), as in the release."""
    path.parent.mkdir(parents=True, exist_ok=True)
    boundaries = np.empty((num_classes - 1, 1), dtype=object)
    for c in range(1, num_classes):
        mask = label == c
        edge = mask & ~np.pad(mask, 1)[1:-1, 2:] | mask & ~np.pad(mask, 1)[2:, 1:-1]
        boundaries[c - 1, 0] = scipy.sparse.csc_matrix(edge)
    present = np.unique(label[(label > 0) & (label < 255)]).astype(np.uint8).reshape(-1, 1)
    scipy.io.savemat(path, {"GTcls": {"Boundaries": boundaries, "Segmentation": label.astype(np.uint8),
                                      "CategoriesPresent": present}})


def make_sbd(tmp, ids_train: Sequence[str], ids_val: Sequence[str], size=(24, 32), rng=1,
             num_classes: int = 21) -> tuple[Path, dict[str, np.ndarray]]:
    """Write `tmp/benchmark_RELEASE/dataset` (img/, cls/, train.txt, val.txt).

    SBD masks have no void border. Returns (root, {id: uint8 label}).
    """
    rng = _rng(rng)
    root = Path(tmp) / "benchmark_RELEASE" / "dataset"
    labels = {}
    for image_id in dict.fromkeys([*ids_train, *ids_val]):
        labels[image_id] = _label(rng, size, range(1, num_classes), outline=False)
        _write_jpeg(root / "img" / f"{image_id}.jpg", size, rng)
        write_sbd_mat(root / "cls" / f"{image_id}.mat", labels[image_id], num_classes)
    _write_ids(root / "train.txt", ids_train)
    _write_ids(root / "val.txt", ids_val)
    return root, labels


def write_grey_png(path: Path, label: np.ndarray) -> None:
    """A greyscale PNG (mode 'L'), as mmsegmentation's converters write them (`Image.fromarray`
    of a uint8 array): SegmentationClassAug/ and SegmentationClassContext/."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(label, np.uint8)).save(path)


def make_voc_aug(tmp, ids_train: Sequence[str], ids_val: Sequence[str], listed: Sequence[str],
                 style: str = "mmseg", size=(24, 32), rng=3) -> tuple[Path, dict[str, np.ndarray]]:
    """VOC 2012 (`make_voc`) + SegmentationClassAug/: a grey PNG (with a void 255 outline) and a
    JPEG for every id of `listed`, and the list in `style`:
    - "mmseg": ImageSets/Segmentation/aug.txt, one id per line (mmsegmentation's voc_aug.py);
    - "deeplab": ImageSets/SegmentationAug/train_aug.txt, '/JPEGImages/<id>.jpg
      /SegmentationClassAug/<id>.png' lines (DeepLab-PyTorch).
    Returns (root, {id: label}): the VOC PNG's label for VOC ids, the aug PNG's for the others.
    A listed VOC id gets an aug PNG that differs from its VOC PNG, so a test can tell them apart."""
    rng = _rng(rng)
    root, labels = make_voc(tmp, ids_train, ids_val, size=size, rng=rng)
    for image_id in listed:
        aug = _label(rng, size, range(1, 21), outline=True)
        if image_id in labels:
            aug = np.where(aug == 0, 20, aug).astype(np.uint8)  # never equal to the VOC PNG
        else:
            labels[image_id] = aug
            _write_jpeg(root / "JPEGImages" / f"{image_id}.jpg", size, rng)
        write_grey_png(root / "SegmentationClassAug" / f"{image_id}.png", aug)
    if style == "mmseg":
        _write_ids(root / "ImageSets" / "Segmentation" / "aug.txt", listed)
    else:
        lines = [f"/JPEGImages/{i}.jpg /SegmentationClassAug/{i}.png" for i in listed]
        _write_ids(root / "ImageSets" / "SegmentationAug" / "train_aug.txt", lines)
    return root, labels


def make_context_mmseg(tmp, ids_train: Sequence[str], ids_val: Sequence[str], size=(24, 32), rng=4
                       ) -> tuple[Path, dict[str, np.ndarray]]:
    """VOC2010 as mmsegmentation's pascal_context.py leaves it: JPEGImages/, grey PNGs in
    SegmentationClassContext/ (0 = background, 1..59; no 255) and ImageSets/SegmentationContext/
    {train,val}.txt (sorted, as it writes them). Returns (root, {id: PNG values})."""
    rng = _rng(rng)
    root = Path(tmp) / "VOCdevkit" / "VOC2010"
    values = {}
    for image_id in dict.fromkeys([*ids_train, *ids_val]):
        values[image_id] = _label(rng, size, range(1, 60), outline=False)
        _write_jpeg(root / "JPEGImages" / f"{image_id}.jpg", size, rng)
        write_grey_png(root / "SegmentationClassContext" / f"{image_id}.png", values[image_id])
    _write_ids(root / "ImageSets" / "SegmentationContext" / "train.txt", sorted(ids_train))
    _write_ids(root / "ImageSets" / "SegmentationContext" / "val.txt", sorted(ids_val))
    return root, values


def context_names(class_names: Sequence[str] = CONTEXT_CLASSES, total: int = 459) -> dict[int, str]:
    """A 459-line labels.txt table: the class names (less background), real distractors, and
    fillers, sorted by name as in the release, so late names (wall, window...) get indices > 255."""
    names = sorted({*class_names[1:], *CONTEXT_DISTRACTORS})
    names = sorted(names + [f"misc item {i:03d}" for i in range(total - len(names))])
    return {i: name for i, name in enumerate(names, start=1)}


@dataclass
class ContextFixture:
    root: Path  # VOCdevkit/VOC2010 (JPEGImages/)
    labels_dir: Path  # trainval/ with <id>.mat; labels.txt beside it, as in the archive
    splits_dir: Path  # train.txt, val.txt
    names: dict[int, str]  # the labels.txt table
    label_maps: dict[str, np.ndarray] = field(default_factory=dict)  # id -> uint16 459-class LabelMap
    expected: dict[str, np.ndarray] = field(default_factory=dict)  # id -> uint8 map onto class_names


def make_context(tmp, ids_train: Sequence[str], ids_val: Sequence[str],
                 class_names: Sequence[str] = CONTEXT_CLASSES, size=(24, 32), rng=2) -> ContextFixture:
    """Write VOC2010 JPEGs, the 459-class release (pascal-context/labels.txt and
    pascal-context/trainval/<id>.mat holding a uint16 `LabelMap`) and pascal-context/splits/.

    LabelMaps mix listed classes, distractors and unlabelled 0; `expected` is their by-name
    mapping onto `class_names` (no renames; everything else -> 0).
    """
    rng = _rng(rng)
    tmp = Path(tmp)
    fx = ContextFixture(tmp / "VOCdevkit" / "VOC2010", tmp / "pascal-context" / "trainval",
                        tmp / "pascal-context" / "splits", context_names(class_names))
    fx.labels_dir.mkdir(parents=True, exist_ok=True)
    (fx.labels_dir.parent / "labels.txt").write_text("".join(f"{i}: {n}\n" for i, n in fx.names.items()))
    to_class = {i: class_names.index(n) if n in class_names else 0 for i, n in fx.names.items()}
    # Draw listed classes about as often as all other names together.
    listed = [i for i, n in fx.names.items() if n in class_names]
    values = listed * (len(fx.names) // len(listed)) + list(fx.names)
    for image_id in dict.fromkeys([*ids_train, *ids_val]):
        label_map = _label(rng, size, values, outline=False, dtype=np.uint16)
        label_map[rng.random(size) < 0.05] = 0  # scattered unlabelled pixels
        fx.label_maps[image_id] = label_map
        fx.expected[image_id] = np.vectorize(lambda v: to_class.get(v, 0), otypes=[np.uint8])(label_map)
        _write_jpeg(fx.root / "JPEGImages" / f"{image_id}.jpg", size, rng)
        scipy.io.savemat(fx.labels_dir / f"{image_id}.mat", {"LabelMap": label_map})
    _write_ids(fx.splits_dir / "train.txt", ids_train)
    _write_ids(fx.splits_dir / "val.txt", ids_val)
    return fx


def make_voc_index(tmp, ids_train: Sequence[str], ids_val: Sequence[str], size=(24, 32), rng=0
                   ) -> tuple[Path, dict[str, np.ndarray]]:
    """A VOC fixture and its `index.csv` (built by the project's indexer): (index path, labels)."""
    from zs3core.data.index import index_rows, write_index
    from zs3core.data.voc import voc_records

    root, labels = make_voc(tmp, ids_train, ids_val, size=size, rng=rng)
    index = Path(tmp) / "index.csv"
    write_index(index, index_rows(voc_records(root), VOC_CLASSES))
    return index, labels


# The rehearsal overlay (config/rehearsal.yaml) on real-format trees: what it builds, from what.
REHEARSAL_TABLES = ["results/table1_voc.md", "results/table2_voc.md", "results/table4_voc.md",
                    "results/table3_context.md", "results/table4_context.md"]


def rehearsal_configs(tmp) -> list[Path]:
    """VOC and Context trees of 20 training + 3 validation images (40x48) under `tmp/raw`, and
    the config files that point the rehearsal at them: the user's dataset roots, then crops that
    fit the images and no loader processes (CPU)."""
    tmp = Path(tmp)
    voc_root, _ = make_voc(tmp / "raw", [f"t{i}" for i in range(20)], ["v0", "v1", "v2"], size=(40, 48))
    ctx = make_context(tmp / "raw", [f"c{i}" for i in range(20)], ["d0", "d1", "d2"], size=(40, 48))
    my, cpu = tmp / "my.yaml", tmp / "cpu.yaml"
    my.write_text(yaml.safe_dump({"datasets": {
        "voc": {"root": str(voc_root)},
        "context": {"root": str(ctx.root), "labels": str(ctx.labels_dir), "splits": str(ctx.splits_dir)}}}))
    cpu.write_text(yaml.safe_dump({"segmenter": {"train": {"base_size": 40, "crop_size": 33, "num_workers": 0}}}))
    return [my, cpu]


def assert_rehearsal_outputs(workdir) -> None:
    """Every table written, from the overlay's first 16 + 3 images of each dataset, by ResNet-101."""
    workdir = Path(workdir)
    for table in REHEARSAL_TABLES:
        assert (workdir / table).stat().st_size > 0, table
    with open(workdir / "data/voc/index.csv", newline="") as f:
        assert [r["image_id"] for r in csv.DictReader(f)] == [f"t{i}" for i in range(16)] + ["v0", "v1", "v2"]
    assert len(list((workdir / "data/context/labels").glob("*.png"))) == 16 + 3
    with open(workdir / "results/voc_k2_seenonly.csv", newline="") as f:
        assert next(csv.DictReader(f))["backbone"] == "resnet101"
