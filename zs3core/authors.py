"""The authors' published models (valeoai/ZS3 GitHub releases), as far as the workflow needs them
before a file is opened: their architecture, the file names, their splits and class order, and
which config settings use them. Torch-free, so that the Snakefile can import it;
`zs3core.authors_checkpoints` reads the files.

The pipeline never downloads: the user puts the files in one folder, `segmenter.authors_dir`.
"""
from __future__ import annotations

from pathlib import Path

FORMATS = ("voc", "context")  # dataset formats the authors published models for
# Their DeepLabv3+ (ResNet-101, output stride 16, layer4 rates 2/4/8, ASPP 6/12/18 with batch norm
# in the pooling branch, dropouts 0.5/0.1, align_corners=True): `segmenter.architecture: authors`.
AUTHORS_ARCHITECTURE = {"backbone": "resnet101", "output_stride": 16, "multi_grid": [1, 2, 4],
                        "aspp_rates": [6, 12, 18], "aspp_channels": 256, "feature_dim": 256,
                        "low_level_channels": 48, "decoder_dropout": [0.5, 0.1], "align_corners": True}
ARCHITECTURES = ("deeplabv3plus", "authors")
# Their split K leaves the first K of these unseen (the paper's nested splits).
UNSEEN_ORDER = {
    "voc": ["cow", "motorbike", "aeroplane", "sofa", "cat", "tvmonitor", "train", "bottle", "chair", "pottedplant"],
    "context": ["cow", "motorbike", "sofa", "cat", "boat", "fence", "bird", "tvmonitor", "keyboard", "aeroplane"],
}
# Output channel c of their networks is class CLASSES[format][c]. Context: their `CLASSES_NAMES`
# (zs3/exp_data.py, the order their evaluation indexes by), VOC's 20 classes first, not alphabetical.
CLASSES = {
    "voc": ("background aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse "
            "motorbike person pottedplant sheep sofa train tvmonitor").split(),
    "context": ("background aeroplane bicycle bird boat bottle bus car cat chair cow table dog horse "
                "motorbike person pottedplant sheep sofa train tvmonitor bag bed bench book building "
                "cabinet ceiling cloth computer cup door fence floor flower food grass ground keyboard "
                "light mountain mouse curtain platform sign plate road rock shelves sidewalk sky snow "
                "bedclothes track tree truck wall water window wood").split(),
}
# What each published file stands for in this workflow.
KINDS = ("seenonly", "authorszs3", "authorszs3gc", "backbone")
NO_GC_FILE_FOR = (2,)  # the K=2 Context GC model was never published


def resolve_architecture(seg: dict) -> dict:
    """Segmenter settings as built: with `architecture: authors` the authors' values replace the
    architecture keys (whatever the rest of the config says); otherwise unchanged."""
    architecture = seg.get("architecture", "deeplabv3plus")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"segmenter.architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    if architecture == "deeplabv3plus":
        return seg
    return {**{k: v for k, v in seg.items() if not k.startswith("tiny_")}, **AUTHORS_ARCHITECTURE}


def file_name(fmt: str, kind: str, k: int | str | None = None) -> str:
    """The published name of a file: stage 1 (`seenonly`), stage-2 finals, or the ImageNet backbone."""
    if kind == "backbone":
        return f"resnet_backbone_pretrained_imagenet_wo_pascal{fmt}.pth.tar"
    kk = f"{int(k):02d}"
    if kind == "seenonly":
        return f"deeplab_pretrained_pascal_{fmt}_{kk}_unseen.pth.tar"
    return f"deeplab_pascal_{fmt}_{kk}_unseen_GMMN{'_GC' if kind == 'authorszs3gc' else ''}_final.pth.tar"


def published(fmt: str, kind: str, k: int | str | None = None) -> bool:
    """Whether the authors published that file at all."""
    if fmt not in FORMATS or kind not in KINDS:
        return False
    if kind == "backbone":
        return True
    if int(k) not in range(2, len(UNSEEN_ORDER[fmt]) + 1, 2):
        return False
    return kind != "authorszs3gc" or (fmt == "context" and int(k) not in NO_GC_FILE_FOR)


def authors_file(seg: dict, fmt: str, kind: str, k: int | str | None = None) -> Path:
    """The path of a published file in `authors_dir`; an error names the file and what to do."""
    what = f"the authors' {kind} file for {fmt}" + (f" K={k}" if k is not None else "")
    if not published(fmt, kind, k):
        raise ValueError(f"{what} was never published (they released K = 2..10 for voc and context, "
                         f"GC models for context K = 4..10 only)")
    if not seg.get("authors_dir"):
        raise ValueError(f"{what} is needed: set segmenter.authors_dir to the folder of the downloaded files")
    path = Path(seg["authors_dir"]) / file_name(fmt, kind, k)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {what} (segmenter.authors_dir); download it from the "
                                f"valeoai/ZS3 GitHub releases (docs/authors-checkpoints.md); "
                                f"nothing is downloaded by the pipeline")
    return path


def with_authors_backbone(seg: dict, fmt: str) -> dict:
    """With `init: authors_imagenet` step 0, and with `init: authors` what is still trained (the
    supervised oracle, a DeViSE baseline from scratch), start from their ImageNet ResNet-101
    without Pascal classes in `authors_dir`, unless `backbone_weights` names another file."""
    if seg.get("init") not in ("authors", "authors_imagenet") or seg.get("backbone_weights") or not seg.get("authors_dir"):
        return seg
    return {**seg, "backbone_weights": str(Path(seg["authors_dir"]) / file_name(fmt, "backbone"))}


RELEASES = "https://github.com/valeoai/ZS3/releases"  # where the authors published their files (v0.1)


def backbone_problems(name: str, seg: dict) -> list[str]:
    """Inconsistencies of `segmenter.init: authors_imagenet` for dataset `name` (`seg`: its segmenter section)."""
    if seg.get("init") != "authors_imagenet":
        return []
    key, problems = f"datasets.{name}", []
    if resolve_architecture(seg).get("backbone") != "resnet101":
        problems.append(f"{key}: segmenter.init 'authors_imagenet' needs segmenter.backbone resnet101 (the authors' "
                        f"ImageNet backbone), got {seg.get('backbone')!r}")
    if not seg.get("backbone_weights") and not seg.get("authors_dir"):
        problems.append(f"{key}: segmenter.init 'authors_imagenet' needs segmenter.authors_dir (the folder of the "
                        f"authors' resnet_backbone_pretrained_imagenet_wo_pascal{{voc,context}}.pth.tar) or "
                        f"segmenter.backbone_weights (the file)")
    return problems


def split_problems(fmt: str, k: int | str, unseen: list[str], classes: list[str], key: str) -> list[str]:
    """Why the config's split K (`key`: its dataset's config key) cannot use the authors' model of
    split K: another unseen set, or class names that are not theirs. Empty if it can."""
    if not published(fmt, "seenonly", k):
        return [f"{key}.unseen.{k}: the authors published no {fmt} K={k} model"]
    problems = []
    expected = UNSEEN_ORDER[fmt][:int(k)]
    if set(unseen) != set(expected):
        problems.append(f"{key}.unseen.{k} is {sorted(unseen)}, but the authors' K={k} model leaves "
                        f"{sorted(expected)} unseen")
    if sorted(classes) != sorted(CLASSES[fmt]):
        problems.append(f"{key}.classes differ from the authors' {fmt} classes by name: "
                        f"only ours {sorted(set(classes) - set(CLASSES[fmt]))}, "
                        f"only theirs {sorted(set(CLASSES[fmt]) - set(classes))}")
    return problems


def config_problems(name: str, ds: dict, seg: dict) -> list[str]:
    """Inconsistencies of `segmenter.init: authors` for dataset `name` (`seg`: its segmenter section)."""
    key = f"datasets.{name}"
    if seg.get("init") != "authors":
        return []
    if ds["format"] not in FORMATS:
        return [f"{key}: segmenter.init 'authors' needs format voc or context (the authors' models), "
                f"got {ds['format']!r}"]
    problems = []
    if seg.get("architecture") != "authors":
        problems.append(f"{key}: segmenter.init 'authors' needs segmenter.architecture 'authors' (their network)")
    if not seg.get("authors_dir"):
        problems.append(f"{key}: segmenter.init 'authors' needs segmenter.authors_dir (the downloaded files)")
    for k, unseen in ds["unseen"].items():
        problems += [p for p in split_problems(ds["format"], k, unseen, ds["classes"], key) if p not in problems]
    return problems
