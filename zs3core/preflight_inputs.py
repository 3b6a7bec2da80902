"""Preflight of the files a run reads besides the dataset: class embeddings and network weights.

Each check uses the loader the run itself would use (`zs3core.embeddings`, the backbone and the
authors' loaders, all `weights_only=True`), so a file that passes here loads there; a failure
is a `Finding` naming the file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from zs3core import authors_embeddings
from zs3core.authors import authors_file, file_name, published
from zs3core.config import ConfigError
from zs3core.embeddings import load_vectors, words_for
from zs3core.preflight import Finding
from zs3core.prerequisites import backbone_file


def authors_rows(class_names: Sequence[str], source_name: str, source: dict, dataset: str
                 ) -> tuple[list[dict], list[Finding]]:
    """Per class: the authors' row name it takes (`words`; `alias` where they spell it otherwise);
    a class their table lacks, or a format without a table, is a finding."""
    table = source.get("table")
    problems = authors_embeddings.coverage_problems(dataset, table, class_names, source_name)
    names = {c: authors_embeddings.row_name(table, c) if table in authors_embeddings.FILES else None
             for c in class_names}
    rows = [{"class": c, "words": [n] if n else [], "alias": n not in (None, c), "missing": [] if n else [c]}
            for c, n in names.items()]
    return rows, [Finding("error", "class embeddings", f"embeddings.sources.{source_name}", p) for p in problems]


def embedding_rows(class_names: Sequence[str], source_name: str, source: dict, aliases: Mapping | None,
                   dataset: str = "?") -> tuple[list[dict], list[Finding]]:
    """Per class: the words averaged into its vector, whether an alias chose them, whether the
    source has each; a missing vector file or word is a finding. The authors' tables: `authors_rows`."""
    if source.get("format") == authors_embeddings.FORMAT:
        return authors_rows(class_names, source_name, source, dataset)
    words = {c: words_for(c, aliases) for c in class_names}
    rows = [{"class": c, "words": ws, "alias": c in (aliases or {})} for c, ws in words.items()]
    key = f"embeddings.sources.{source_name}"
    try:
        kv = load_vectors(source, [w for ws in words.values() for w in ws], source_name=source_name)
    except (OSError, ValueError, ModuleNotFoundError) as exc:
        return rows, [Finding("error", "word vectors", str(source.get("path", key)), str(exc))]
    findings = []
    for row in rows:
        row["missing"] = [w for w in row["words"] if w not in kv]
        if row["missing"]:
            findings.append(Finding("error", "word vectors", key, f"class {row['class']!r}: no vector for "
                                    f"{row['missing']} -> set embeddings.aliases.{row['class']}"))
    return rows, findings


def _backbone_check(seg: dict, path, what: str) -> list[Finding]:
    """Load `path` into the configured ResNet as the segmenter would; a finding if it does not fit."""
    from zs3core.models.backbones import load_authors_backbone, load_backbone_weights, torchvision_resnet

    try:
        backbone = torchvision_resnet(seg["backbone"], seg["output_stride"], seg["multi_grid"])
        (load_authors_backbone if seg.get("init") == "authors_imagenet" else load_backbone_weights)(backbone, path)
    except Exception as exc:  # whatever the loader refuses is the finding
        return [Finding("error", what, str(path), str(exc))]
    return []


def weight_findings(seg: dict, fmt: str, ks: Sequence[int], class_names: Sequence[str],
                    trains_backbone: bool = True) -> tuple[list[str], list[Finding]]:
    """(files checked, findings) for the segmenter's initialisation (`seg`: the dataset's segmenter
    section as built): the backbone file of its init (`zs3core.prerequisites.backbone_file`: the
    ImageNet cache file, `backbone_weights`, the authors' backbone), or the authors' files of every
    split. `trains_backbone`: a network is still trained from the backbone (the oracle)."""
    init, checked, findings = seg.get("init", "none"), [], []
    what = {"imagenet": "ImageNet weights", "authors_imagenet": "authors' ImageNet backbone"}.get(init, "backbone weights")
    try:
        found = backbone_file(seg, fmt) if init != "authors" or trains_backbone else None
    except ConfigError as exc:
        return checked, [Finding("error", what, "segmenter.init", str(exc))]
    if found:
        setting, path, hint = found
        if path is None or not Path(path).is_file():
            findings.append(Finding("error", what, path or f"segmenter.{setting}",
                                    f"segmenter.{setting}: {'not set' if path is None else 'no such file'}; {hint}"))
        else:
            checked.append(path)
            findings += _backbone_check(seg, path, what)
    if init == "authors":
        for k in ks:
            try:
                path = authors_file(seg, fmt, "seenonly", k)
            except (ValueError, FileNotFoundError) as exc:
                findings.append(Finding("error", "authors' file", file_name(fmt, "seenonly", k)
                                        if published(fmt, "seenonly", k) else f"K={k}", str(exc)))
                continue
            checked.append(str(path))
            findings += _authors_check(path, fmt, class_names)
    return checked, findings


def _authors_check(path, fmt: str, class_names: Sequence[str]) -> list[Finding]:
    """Convert one of the authors' DeepLab files as `convert_authors_step0` would."""
    from zs3core.authors_checkpoints import load_authors_state
    from zs3core.models.deeplab import build_segmenter

    try:
        model = build_segmenter(len(class_names), {"architecture": "authors", "init": "none"})
        load_authors_state(path, class_names, fmt, model)
    except Exception as exc:
        return [Finding("error", "authors' file", str(path), str(exc))]
    return []
