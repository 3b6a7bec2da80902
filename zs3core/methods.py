"""What each method is: the one table the rules, provenance, tables, claims, curves and preflight read.

A method is what a results file `results/{dataset}_k{K}_{method}.csv` evaluates (or
`{dataset}_supervised.csv` for the oracle, which has no split). Each entry says how its rows are
made and where they are shown, so that adding a method is one entry here plus its model, trainer
and rules (docs/architecture.md, "Add a generator", "Add a baseline"); nothing else lists method
names. The entries' order is the order of the tables' rows. Torch-free: the DAG imports it.
"""
from __future__ import annotations

from dataclasses import dataclass

FOLLOWS_CLASSIFIER = "classifier"  # `protocol` of methods whose protocol is `classifier.protocol`
EVALUATIONS = ("step0", "supervised", "retrained", "authors")  # the rule that writes a method's results


@dataclass(frozen=True)
class Method:
    """One method.

    `label`: its rows' name in the tables and figures. `protocol`: the ground truth of unseen
    classes its training reads (`zs3core.provenance`), or FOLLOWS_CLASSIFIER. `evaluation`: how its
    results are made (`step0`: a step-0 network's checkpoint; `supervised`: the oracle;
    `retrained`: the seen-only segmenter with a retrained classifier; `authors`: the authors'
    published model); None for a classifier that has no results rows. `tables`: the paper's
    tables (1-4) whose layout shows its rows, in datasets that list that table. `generator`: the
    config section of its generator, None without one. `bank`: the stem of the generator's files
    (`generators/.../{bank}.pt`, `{bank}_loss.csv`, `banks/.../{bank}.h5`). `classifier_rows`: what
    its retrained classifier trains on (None: no retrained classifier). `cv_gamma`: the method
    whose cross-validated gamma (`cv/.../gamma_{cv_gamma}.json`) it applies; a method naming
    itself has a cross-validation of its own. `in_paper`: the paper reports its rows (their
    `_paper` columns are filled), `paper_method` the paper's method whose numbers it sits beside.
    `per_p`: also built per ZS5Net p (`{name}_p{p}`). `figures`: may be drawn in the qualitative
    figure and predicted (`figures.methods`). `step0_embeddings`: a step-0 network that reads the
    class table (trained and evaluated with it: the embedding baselines).
    """
    name: str
    label: str
    protocol: str
    evaluation: str | None
    tables: tuple[int, ...] = ()
    generator: str | None = None
    bank: str | None = None
    classifier_rows: str | None = None
    cv_gamma: str | None = None
    in_paper: bool = False
    paper_method: str | None = None
    per_p: bool = False
    figures: bool = False
    step0_embeddings: bool = False

    @property
    def retrains_classifier(self) -> bool:
        return self.classifier_rows is not None


METHODS = (
    Method("supervised", "Supervised", "supervised", "supervised", tables=(1, 3), in_paper=True),
    Method("baseline", "Baseline", "strict", "step0", tables=(1, 2, 3), in_paper=True, step0_embeddings=True),
    Method("ale", "ALE baseline", "strict", "step0", tables=(1,), in_paper=True, step0_embeddings=True),
    Method("zs3", "ZS3Net", FOLLOWS_CLASSIFIER, "retrained", tables=(1, 2, 3), generator="generator", bank="gmmn",
           classifier_rows="real seen rows + the GMMN's unseen bank (or its features at unseen masks, "
                           "classifier.protocol: authors)", cv_gamma="zs3", in_paper=True, figures=True),
    Method("authorszs3", "ZS3Net (authors' model)", "authors", "authors", tables=(1, 3), in_paper=True,
           paper_method="zs3"),
    Method("zs3gan", "ZS3Net (GAN)", "strict", "retrained", tables=(1, 3), generator="gan", bank="gan",
           classifier_rows="real seen rows + the GAN's unseen bank", cv_gamma="zs3gan"),
    Method("zs3gc", "ZS3Net + GC", "unseen_masks", "retrained", tables=(3,), generator="gc", bank="gc",
           classifier_rows="real seen rows + the GC generator's unseen bank", cv_gamma="zs3", in_paper=True),
    Method("authorszs3gc", "ZS3Net + GC (authors' model)", "authors", "authors", tables=(3,), in_paper=True,
           paper_method="zs3gc"),
    Method("seenonly", "Seen-only", "strict", "step0", tables=(1, 3), figures=True),
    Method("ceiling", "Real-feature ceiling (diagnostic)", "real_unseen", "retrained", tables=(1, 3),
           classifier_rows="real rows of every class", cv_gamma="ceiling", figures=True),
    Method("zs5", "ZS5Net", FOLLOWS_CLASSIFIER, "retrained", tables=(4,), generator="generator", bank="gmmn",
           classifier_rows="ZS3Net's rows + pseudo-labelled unseen rows of the pool (selftrain.mode: classifier), "
                           "or the decoder fine-tuned on seen labels + pseudo-labels (finetune)",
           cv_gamma="zs3", in_paper=True, per_p=True, figures=True),
    Method("named", "Named classes", FOLLOWS_CLASSIFIER, None, generator="generator", bank="gmmn",
           classifier_rows="real seen rows + the GMMN's rows of the unseen and the named classes", cv_gamma="zs3"),
)
BY_NAME = {m.name: m for m in METHODS}


def method(name: str) -> Method:
    """The entry of `name`, or of the method `name` is a per-p variant of (`zs5_p25` -> zs5)."""
    base = name.partition("_p")[0]
    if base not in BY_NAME:
        raise ValueError(f"unknown method {name!r}, expected one of {list(BY_NAME)}")
    return BY_NAME[base]


def names(**where) -> tuple[str, ...]:
    """The names of the methods whose fields equal `where` (e.g. `evaluation="step0"`), in table order."""
    return tuple(m.name for m in METHODS if all(getattr(m, k) == v for k, v in where.items()))


def table_methods(table: int) -> tuple[str, ...]:
    """The methods whose rows table `table` shows, in row order."""
    return tuple(m.name for m in METHODS if table in m.tables)


def split_methods(tables) -> tuple[str, ...]:
    """The methods, with one results file per split, that this project builds for a dataset showing
    `tables`: not the oracle (one file, no split) nor the authors' models (only where their files are)."""
    return tuple(m.name for m in METHODS if set(m.tables) & set(tables) and m.evaluation in ("step0", "retrained"))


def classifier_methods() -> tuple[str, ...]:
    """The methods whose classifier is retrained on feature rows and evaluated."""
    return tuple(m.name for m in METHODS if m.retrains_classifier and m.evaluation == "retrained")


def generator_sections() -> dict[str, str]:
    """{method: its generator's config section} of the methods with a generator."""
    return {m.name: m.generator for m in METHODS if m.generator}


def fixed_protocols() -> dict[str, str]:
    """{method: protocol} of the methods whose protocol does not follow `classifier.protocol`."""
    return {m.name: m.protocol for m in METHODS if m.protocol != FOLLOWS_CLASSIFIER}


def cv_kinds() -> tuple[str, ...]:
    """The methods that have a gamma cross-validation of their own (`cv/.../gamma_{kind}.json`)."""
    return tuple(m.name for m in METHODS if m.cv_gamma == m.name)


def evaluated_pattern(evaluation: str) -> str:
    """The `method` wildcard pattern of the results that `evaluation`'s rule writes (per-p variants
    as `{name}_p<digits>`)."""
    if evaluation not in EVALUATIONS:
        raise ValueError(f"unknown evaluation {evaluation!r}, expected one of {EVALUATIONS}")
    chosen = [m for m in METHODS if m.evaluation == evaluation]
    return "|".join([m.name for m in chosen] + [rf"{m.name}_p\d+" for m in chosen if m.per_p])


def figure_pattern() -> str:
    """The pattern of a method the figures may draw (`figures.methods`, the `predict` rule): also
    the per-p variants, with ZS5Net's `cv` p spelled by its path (`{name}_p{p}` with digits)."""
    chosen = [m for m in METHODS if m.figures]
    return "|".join([m.name for m in chosen] + [rf"{m.name}_p\d+" for m in chosen if m.per_p])
