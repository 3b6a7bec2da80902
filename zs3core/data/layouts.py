"""Which on-disk layout a real dataset is read from: named by `datasets.<name>.layout`, or found
from the config's paths and what `root` holds (`layout: auto`). Only a few `stat` calls: the
Snakefile asks it while it builds the DAG, so it imports nothing heavy.

| layout | what is on disk | official train / val |
| --- | --- | --- |
| `voc` | VOC 2012 alone: SegmentationClass/ palette PNGs, ImageSets/Segmentation/{train,val}.txt | 1,464 / 1,449 |
| `voc_sbd_mat` | VOC 2012 + SBD's cls/*.mat (`sbd_root`) | 10,582 / 1,449 |
| `voc_aug_png` | VOC 2012 + SegmentationClassAug/ grey PNGs and a list of them (below) | 10,582 / 1,449 |
| `context_mat` | VOC2010 JPEGs + the 459-class .mat LabelMaps (`labels`) + train/val lists (`splits`) | 4,998 / 5,105 |
| `context_mmseg_png` | VOC2010 + SegmentationClassContext/ PNGs + ImageSets/SegmentationContext/{train,val}.txt | 4,998 / 5,105 |

The choice under `auto`, first match wins:
1. a path the config sets names its layout: `sbd_root` -> `voc_sbd_mat`; `labels` and `splits`
   -> `context_mat` (what the user wrote outranks what a folder happens to hold);
2. else what `root` holds, the fuller first: `voc_aug_png` before `voc` (VOC alone trains on
   1,464 images, not the paper's 10,582); `context_mmseg_png`;
3. else VOC alone (`voc`); for Context nothing is left, and the error names both ways.
For `voc_aug_png` the list is the first present of `AUG_LISTS`: mmsegmentation's `aug.txt` (the
augmented ids outside VOC train and val; its voc12aug config reads it beside VOC's train.txt),
its `trainaug.txt` (the same set with VOC train), then DeepLab's `train_aug.txt` (10,582 lines of
'/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png') in ImageSets/SegmentationAug/ (DeepLab-
PyTorch) or ImageSets/Segmentation/. All give the same membership. Every other layout found is
kept in `Layout.others`, for the preflight report to name.

What mmsegmentation's tools/dataset_converters/voc_aug.py writes (github.com/open-mmlab/
mmsegmentation): each SBD cls/*.mat's `GTcls.Segmentation` as a uint8 grey PNG
(`Image.fromarray`, lines 14-18) into VOC2012/SegmentationClassAug/ (line 43); `trainaug.txt` =
(VOC train + SBD train + SBD val) - VOC val, asserted 10,582 long (lines 69-77); `aug.txt` = (SBD
train + SBD val) - (VOC train + VOC val) (lines 79-86). Both are written from Python sets, so
their order is arbitrary. Only SBD's masks are converted: VOC's own ids keep SegmentationClass/.
The Context PNGs: `zs3core.data.context`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

OFFICIAL_COUNTS = {
    "voc": {"train": 1464, "val": 1449},
    "voc_sbd_mat": {"train": 10582, "val": 1449},
    "voc_aug_png": {"train": 10582, "val": 1449},
    "context_mat": {"train": 4998, "val": 5105},
    "context_mmseg_png": {"train": 4998, "val": 5105},
}
LAYOUTS = {"voc": ("voc", "voc_sbd_mat", "voc_aug_png"), "context": ("context_mat", "context_mmseg_png")}
# The dataset keys each layout reads (the rest of its paths lie under the root).
KEYS = {"voc": ("root",), "voc_sbd_mat": ("root", "sbd_root"), "voc_aug_png": ("root",),
        "context_mat": ("root", "labels", "splits"), "context_mmseg_png": ("root",)}
AUG_LABELS = "SegmentationClassAug"
AUG_LISTS = ("ImageSets/Segmentation/aug.txt", "ImageSets/Segmentation/trainaug.txt",
             "ImageSets/SegmentationAug/train_aug.txt", "ImageSets/Segmentation/train_aug.txt")
CONTEXT_PNGS = "SegmentationClassContext"
CONTEXT_LISTS = "ImageSets/SegmentationContext"
ROOTS = {"voc": "VOCdevkit/VOC2012 with JPEGImages/, SegmentationClass/ and ImageSets/Segmentation/",
         "context": "VOCdevkit/VOC2010 with JPEGImages/"}
DESCRIPTIONS = {
    "voc": "VOC 2012 alone (SegmentationClass/ palette PNGs)",
    "voc_sbd_mat": "VOC 2012 + SBD's cls/*.mat",
    "voc_aug_png": "VOC 2012 + SegmentationClassAug/ grey PNGs",
    "context_mat": "VOC2010 JPEGs + the 459-class .mat LabelMaps",
    "context_mmseg_png": "VOC2010 + mmsegmentation's SegmentationClassContext/ PNGs",
}


class LayoutError(ValueError):
    """The configured or found layout cannot be read; the message names the config key."""


@dataclass(frozen=True)
class Layout:
    """A dataset's layout: `name` (a key of OFFICIAL_COUNTS), why it was chosen, the paths its
    reader takes (root, sbd_root, aug_list, labels, splits), the config keys those come from,
    and the other layouts found and not used."""
    name: str
    reason: str
    paths: Mapping[str, str | None]
    keys: tuple[str, ...]
    others: tuple[str, ...] = field(default=())

    @property
    def official(self) -> dict[str, int]:
        return OFFICIAL_COUNTS[self.name]

    def describe(self) -> str:
        """One line: the layout and the files it reads."""
        where = ", ".join(f"{k} `{v}`" for k, v in self.paths.items() if v is not None)
        return f"`{self.name}`: {DESCRIPTIONS[self.name]} ({where})"


def _aug_lists(root: Path) -> list[Path]:
    """The lists of AUG_LISTS present beside a SegmentationClassAug/ folder, in that order."""
    if not (root / AUG_LABELS).is_dir():
        return []
    return [root / rel for rel in AUG_LISTS if (root / rel).is_file()]


def _found(fmt: str, root: Path) -> dict[str, dict]:
    """{layout: paths} of what `root` holds on its own, in the order of preference (VOC alone,
    which every VOC tree holds, only when nothing fuller is there)."""
    if fmt == "voc":
        lists = _aug_lists(root)
        if lists:
            return {"voc_aug_png": {"root": str(root), "aug_list": str(lists[0])}}
        return {"voc": {"root": str(root)}} if (root / "SegmentationClass").is_dir() else {}
    if (root / CONTEXT_PNGS).is_dir() and all((root / CONTEXT_LISTS / f"{s}.txt").is_file()
                                              for s in ("train", "val")):
        return {"context_mmseg_png": {"root": str(root), "labels": str(root / CONTEXT_PNGS),
                                      "splits": str(root / CONTEXT_LISTS)}}
    return {}


def _configured(fmt: str, ds: Mapping) -> dict[str, dict]:
    """{layout: paths} that the config's own paths name."""
    if fmt == "voc" and ds.get("sbd_root"):
        return {"voc_sbd_mat": {"root": ds["root"], "sbd_root": ds["sbd_root"]}}
    if fmt == "context" and ds.get("labels") and ds.get("splits"):
        return {"context_mat": {"root": ds["root"], "labels": ds["labels"], "splits": ds["splits"]}}
    return {}


def choose_layout(dataset: str, ds: Mapping) -> Layout:
    """The layout of `datasets.<dataset>` (its config `ds`), by the rule of the module docstring.

    Raises FileNotFoundError naming `datasets.<dataset>.root` when it is not a folder, and
    LayoutError when the named layout is not there or nothing readable is.
    """
    fmt, key = ds["format"], f"datasets.{dataset}"
    if not ds.get("root") or not Path(ds["root"]).is_dir():
        raise FileNotFoundError(f"config {key}.root: folder {ds.get('root')} not found; expected {ROOTS[fmt]}")
    root = Path(ds["root"])
    configured, found = _configured(fmt, ds), _found(fmt, root)
    candidates = {**configured, **{k: v for k, v in found.items() if k not in configured}}
    forced = ds.get("layout", "auto")
    if forced != "auto":
        if forced == "voc":  # VOC alone: the root is all it reads
            candidates.setdefault("voc", {"root": str(root)})
        if forced not in candidates:
            raise LayoutError(f"{key}.layout is {forced!r} but {_missing(forced, key, root)}")
        name, reason = forced, f"{key}.layout names it"
    elif configured:
        (name,) = configured
        named = " and ".join(f"{key}.{k}" for k in KEYS[name][1:])
        reason = f"{named} {'are' if name == 'context_mat' else 'is'} set: a path the config names " \
                 f"wins over what {key}.root holds"
    elif found:
        name = next(iter(found))
        reason = f"found under {key}.root"
        if name == "voc":
            reason += f" (no {AUG_LABELS}/ with a list and no {key}.sbd_root: VOC train alone, not the paper's 10,582)"
    elif fmt == "voc":  # not even VOC: its reader names the missing files
        name, reason = "voc", f"nothing else under {key}.root and no {key}.sbd_root"
        candidates["voc"] = {"root": str(root)}
    else:
        raise LayoutError(f"{key}: {root} holds no {CONTEXT_PNGS}/ with {CONTEXT_LISTS}/{{train,val}}.txt "
                          f"(mmsegmentation's converter) and {key}.labels / {key}.splits are not both set "
                          f"(the 459-class .mat release); expected one of them")
    others = [n for n in candidates if n not in (name, "voc")]
    if name == "voc_aug_png":
        lists = [str(p.relative_to(root)) for p in _aug_lists(root)]
        reason += f"; list {lists[0]}" + (f" (the first of {', '.join(lists)}: the same membership)"
                                          if len(lists) > 1 else "")
    paths = {"root": ds["root"], **{k: v for k, v in candidates[name].items() if k != "root"}}
    return Layout(name, reason, paths, KEYS[name], tuple(others))


def _missing(name: str, key: str, root: Path) -> str:
    """What the named layout lacks, for the error message."""
    return {
        "voc_sbd_mat": f"{key}.sbd_root is not set",
        "voc_aug_png": f"{root} holds no {AUG_LABELS}/ with one of {', '.join(AUG_LISTS)}",
        "context_mat": f"{key}.labels and {key}.splits are not both set",
        "context_mmseg_png": f"{root} holds no {CONTEXT_PNGS}/ with {CONTEXT_LISTS}/{{train,val}}.txt",
    }[name]
