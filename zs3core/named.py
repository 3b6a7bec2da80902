"""Classes named at prediction time (`predict.classes`): a trained split's model extended by names.

A name becomes a class the way ZS3Net makes its unseen classes: its word vector (the configured
source, `embeddings.aliases` for several words), features generated from it by the split's GMMN,
and the 1x1 classifier retrained on the seen classes' real rows plus the generated rows of the
split's unseen classes and of the new names (`zs3core.retrain`, method `named`).

The named model's classes are the dataset's, in their order, then the new names, sorted. A name
that is already one of the dataset's classes (compared case-insensitively):
- a seen class of the split is refused: the model learned it from real pixels, and a generated
  twin would split its pixels between two outputs;
- an unseen class of the split is merged: the model already generates it from its name, exactly
  as it would a new name's. So naming a split's own unseen classes (`[cow, motorbike]` at VOC's
  K = 2) gives ZS3Net's classifier.

The files of a named model carry `named_tag(new names)`: one set of new names, one table and one
classifier per split, whatever the order or the merged names it was given in.
Torch-free: the workflow checks the names while it builds the DAG.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

KEY = "predict.classes"


@dataclass(frozen=True)
class NamedModel:
    """The classes of a split's model extended by names."""
    classes: list[str]  # the dataset's classes, then `new`
    unseen: list[str]  # the generated classes: the split's unseen (config order), then `new`
    new: list[str]  # the names that are no class of the dataset, sorted
    merged: list[str]  # the names that are unseen classes of the split already (in the split's order)

    @property
    def tag(self) -> str:
        return named_tag(self.new)


def new_names(dataset_classes: Sequence[str], names: Sequence[str]) -> list[str]:
    """The names that are no class of the dataset, sorted; ValueError for none given or one given twice."""
    if not names:
        raise ValueError(f"{KEY} is empty: name the classes to add, e.g. --config "
                         "'predict={images: my_images, classes: [giraffe]}'")
    spaced = [n for n in names if not n.strip() or any(ch.isspace() or ch in ",/" for ch in n)]
    if spaced:
        raise ValueError(f"{KEY}: {', '.join(map(repr, spaced))}: a class name is one word (no space, comma or "
                         "slash); name a class of several words by a key of embeddings.aliases that lists them, "
                         "e.g. classes: [trafficlight] with embeddings.aliases.trafficlight: [traffic, light]")
    folded = [n.casefold() for n in names]
    twice = sorted({n for n, f in zip(names, folded) if folded.count(f) > 1})
    if twice:
        raise ValueError(f"{KEY} names the same class more than once: {', '.join(twice)}")
    known = {c.casefold() for c in dataset_classes}
    return sorted((n for n in names if n.casefold() not in known), key=lambda n: (n.casefold(), n))


def named_model(dataset_classes: Sequence[str], unseen: Sequence[str], names: Sequence[str]) -> NamedModel:
    """The classes of the split (seen = `dataset_classes` minus `unseen`) extended by `names`;
    ValueError naming each seen class named (see the module docstring)."""
    new = new_names(dataset_classes, names)
    by_fold = {c.casefold(): c for c in dataset_classes}
    unseen_fold = {c.casefold() for c in unseen}
    existing = [by_fold[n.casefold()] for n in names if n.casefold() in by_fold]
    seen = [c for c in existing if c.casefold() not in unseen_fold]
    if seen:
        raise ValueError(
            f"{KEY}: {', '.join(seen)} {'is a seen class' if len(seen) == 1 else 'are seen classes'} of this "
            f"split (unseen: {', '.join(unseen)}); the model learned {'it' if len(seen) == 1 else 'them'} from "
            "real pixels, and a generated twin would split those pixels between two classes: remove "
            f"{'it' if len(seen) == 1 else 'them'} from {KEY}")
    named_fold = {c.casefold() for c in existing}
    return NamedModel(list(dataset_classes) + new, list(unseen) + new, new,
                      [c for c in unseen if c.casefold() in named_fold])


def named_tag(new: Sequence[str]) -> str:
    """12 hex digits identifying a set of new names (order-free): the `{tag}` of its files."""
    return hashlib.sha256("\n".join(sorted(new)).encode("utf-8")).hexdigest()[:12]
