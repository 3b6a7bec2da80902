"""The files a run reads that no rule makes: dataset folders, backbone weights, word vectors.

Each kind of external file is one entry of `KINDS`: a function of the config and a dataset that
lists what that dataset's jobs of this kind read, as `External(key, path, hint, tracked)`: the
config key that names or implies the path, the path, where to get it, and whether the path is
also a job input (a replaced file reruns what read it). `rules/common.smk`'s `external_inputs`
checks a job's entries when the DAG is built, so that a dry run stops naming the key and path of
every missing one before any job is submitted; `require` is that check. Torch-free and without
Snakemake, so that the Snakefile imports it cheaply and tests call it directly.

A new kind of external file (another init's weights, another embedding source) is one more
branch in the entry of its kind, or one more entry in `KINDS` used by the rules that read it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from zs3core.authors import RELEASES, file_name, resolve_architecture, with_authors_backbone
from zs3core.config import ConfigError, embedding_source, stage_config

# torchvision's ImageNet checkpoints (`IMAGENET1K_V1` of each model; tests compare with torchvision).
IMAGENET_URLS = {
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    "resnet101": "https://download.pytorch.org/models/resnet101-63fe2227.pth",
}
DATASET_FOLDERS = ("root", "sbd_root", "labels", "splits")  # the folder keys of a dataset, where set
WORD_VECTOR_HINTS = {
    "word2vec_binary": "word2vec's GoogleNews-vectors-negative300.bin (gunzip the .bin.gz of "
                       "code.google.com/archive/p/word2vec)",
    "word2vec_text": "a word2vec text file (a 'count dim' header line, then one word and its vector a line)",
    "glove_text": "a GloVe text file (nlp.stanford.edu/projects/glove: one word and its vector a line)",
}


@dataclass(frozen=True)
class External:
    """One file or folder a job reads that no rule makes."""
    key: str            # the config key that names the path, or implies it (`segmenter.init`)
    path: str | None    # None: the key that should name it is unset
    hint: str           # what it is and where to get it
    tracked: bool       # also a job input, so that a replaced file reruns what read it

    def problem(self) -> str | None:
        """Why the run cannot read it, or None."""
        if self.path is None:
            return f"{self.key} is not set: {self.hint}"
        if not Path(self.path).expanduser().exists():
            return f"{self.key}: {self.path} does not exist ({self.hint})"
        return None


def torch_hub_dir() -> Path:
    """`torch.hub.get_dir()` without importing torch: $TORCH_HOME/hub, by default ~/.cache/torch/hub."""
    xdg = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(xdg, "torch")))) / "hub"


def imagenet_weights_path(backbone: str) -> Path:
    """Where `segmenter.init: imagenet` reads `backbone`'s ImageNet checkpoint (torch's hub cache)."""
    if backbone not in IMAGENET_URLS:
        raise ConfigError(f"segmenter.init: imagenet has no ImageNet weights for backbone {backbone!r} "
                          f"(only {', '.join(IMAGENET_URLS)}): use init none or file")
    return torch_hub_dir() / "checkpoints" / os.path.basename(IMAGENET_URLS[backbone])


def _key(config: dict, dataset: str, section: str, name: str) -> str:
    """The config key a setting comes from: the dataset's override where it has one."""
    override = config["datasets"][dataset].get(section, {})
    return f"datasets.{dataset}.{section}.{name}" if name in override else f"{section}.{name}"


def dataset_folders(config: dict, dataset: str, **_) -> list[External]:
    """The dataset's folders that its config sets (`root`, `sbd_root`, `labels`, `splits`)."""
    ds = config["datasets"][dataset]
    return [External(f"datasets.{dataset}.{field}", str(ds[field]),
                     f"a folder of the {ds['format']} dataset; see docs/real-datasets.md", tracked=False)
            for field in DATASET_FOLDERS if ds.get(field)]


def backbone_file(seg: dict, fmt: str) -> tuple[str, str | None, str] | None:
    """(the segmenter setting that names or implies the file, its path, what it is and where to get
    it) of the weights a segmenter built from `seg` (a dataset's section as built) starts from:
    torchvision's ImageNet file in the torch cache (`init: imagenet`), `backbone_weights`
    (`init: file`), or the authors' ImageNet backbone without Pascal classes (`init: authors_imagenet`,
    and `init: authors` for what is still trained); None when it starts from nothing (`init: none`)."""
    init = seg.get("init", "none")
    if init == "imagenet":
        path = imagenet_weights_path(seg["backbone"])
        return "init", str(path), (f"torchvision's {seg['backbone']} ImageNet weights: download "
                                   f"{IMAGENET_URLS[seg['backbone']]} into {path.parent}/, or set TORCH_HOME to the "
                                   f"folder above hub/; nothing is downloaded by the workflow")
    if init == "file":
        return "backbone_weights", seg.get("backbone_weights"), (
            "a ResNet checkpoint for segmenter.init: file, e.g. the authors' ImageNet backbone without "
            "Pascal classes (docs/authors-checkpoints.md)")
    if init in ("authors", "authors_imagenet") and seg.get("backbone_weights"):
        implied = seg.get("authors_dir") and \
            Path(seg["backbone_weights"]) == Path(seg["authors_dir"]) / file_name(fmt, "backbone")
        return "authors_dir" if implied else "backbone_weights", seg["backbone_weights"], (
            f"the authors' ImageNet ResNet-101 trained without the Pascal classes, {file_name(fmt, 'backbone')}, "
            f"published in the valeoai/ZS3 GitHub releases ({RELEASES}, v0.1): download it there (nothing is "
            f"downloaded by the workflow), or set segmenter.init: imagenet, torchvision's full ImageNet weights, "
            f"whose classes include the unseen ones (rows and table cells are then marked; "
            f"docs/authors-checkpoints.md)")
    return None


def backbone_weights(config: dict, dataset: str, **_) -> list[External]:
    """The weights the dataset's trained segmenters start from (`backbone_file`). Not tracked: a
    re-downloaded cache file must not retrain every segmenter."""
    fmt = config["datasets"][dataset]["format"]
    seg = with_authors_backbone(resolve_architecture(stage_config(config, "segmenter", dataset)), fmt)
    found = backbone_file(seg, fmt)
    if found is None:
        return []
    setting, path, hint = found
    return [External(_key(config, dataset, "segmenter", setting), path, hint, tracked=False)]


def word_vectors(config: dict, dataset: str, source: str | None = None, **_) -> list[External]:
    """The word-vector file of embedding source `source` (default: the dataset's,
    `datasets.<name>.embeddings.source` or `embeddings.source`); none for the authors' tables
    (package data) and the embedded spacy_md. Tracked: a new file reruns the class tables and
    everything built from them."""
    name = source or embedding_source(config, dataset)
    spec = config["embeddings"]["sources"][name]
    if spec["format"] not in WORD_VECTOR_HINTS:
        return []
    return [External(f"embeddings.sources.{name}.path", spec.get("path"),
                     f"{WORD_VECTOR_HINTS[spec['format']]}; word vectors are never downloaded", tracked=True)]


KINDS: dict[str, Callable[..., list[External]]] = {
    "dataset_folders": dataset_folders,
    "backbone_weights": backbone_weights,
    "word_vectors": word_vectors,
}


def external_files(config: dict, dataset: str, kinds=tuple(KINDS), **context) -> list[External]:
    """What the dataset's jobs of `kinds` read from outside the workflow (`context`: wildcards
    an entry uses, e.g. `source`)."""
    return [f for kind in kinds for f in KINDS[kind](config, dataset, **context)]


def require(files: list[External]) -> None:
    """A ConfigError listing every file of `files` that is missing, with its key and where to get it."""
    problems = [p for p in (f.problem() for f in files) if p]
    if problems:
        raise ConfigError("files the run reads are missing (set the key in your --configfile, or put the "
                          "file there):\n  - " + "\n  - ".join(problems))
