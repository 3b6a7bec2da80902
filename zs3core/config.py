"""Semantic checks of the workflow configuration, beyond what its JSON schema can say.

The schema (`schemas/config.schema.yaml`) checks types and names; this module checks that the
pieces agree with each other (splits name known classes, K matches the list, sources exist),
so that a bad config stops with one message listing every problem before any job runs.
"""
from __future__ import annotations

from zs3core import authors, authors_embeddings
from zs3core.data.layouts import LAYOUTS
from zs3core.generator_grid import grid_problems


class ConfigError(ValueError):
    """The configuration is inconsistent; the message names each offending key."""


def config_problems(config: dict) -> list[str]:
    """Every inconsistency found, one message per problem (empty when the config is sound)."""
    problems: list[str] = []
    datasets = config["datasets"]
    for name in config["default_datasets"]:
        if name not in datasets:
            problems.append(f"default_datasets names '{name}', which is not a key of datasets")
    for name, ds in datasets.items():
        problems += _dataset_problems(name, ds)
        problems += authors.config_problems(name, ds, stage_config(config, "segmenter", name))
        problems += authors.backbone_problems(name, stage_config(config, "segmenter", name))
        for section in ("generator", "gc"):
            budget = [k for k in ("iterations", "epochs") if stage_config(config, section, name).get(k) is not None]
            if len(budget) != 1:
                problems.append(f"datasets.{name}.{section} (merged over {section}) sets "
                                f"{' and '.join(budget) or 'neither iterations nor epochs'}: set exactly one, the other null")
    problems += grid_problems(config)
    emb = config["embeddings"]
    if emb["source"] not in emb["sources"]:
        problems.append(f"embeddings.source is '{emb['source']}', expected one of {sorted(emb['sources'])}")
    for name, ds in datasets.items():
        used = {f"datasets.{name}.embeddings.source": ds.get("embeddings", {}).get("source"),
                f"datasets.{name}.world.embedding_source": ds.get("world", {}).get("embedding_source")}
        for key, source in used.items():
            if source is not None and source not in emb["sources"]:
                problems.append(f"{key} is '{source}', expected one of embeddings.sources {sorted(emb['sources'])}")
        for source in {embedding_source(config, name), *(s for s in used.values() if s)} & set(emb["sources"]):
            if emb["sources"][source]["format"] == authors_embeddings.FORMAT:
                problems += authors_embeddings.coverage_problems(name, ds["format"], ds["classes"], source)
    for src_name, src in emb["sources"].items():
        if src["format"] not in ("spacy_md", authors_embeddings.FORMAT) and "path" not in src:
            problems.append(f"embeddings.sources.{src_name}: format {src['format']} needs a 'path'")
        if src["format"] == authors_embeddings.FORMAT and source_normalisation(config, src_name) != "none":
            problems.append(f"embeddings.sources.{src_name}.normalisation is '{src['normalisation']}': the "
                            f"authors' tables are used exactly as published (none)")
    return problems


def embedding_source(config: dict, dataset: str) -> str:
    """The embedding source a dataset's methods read: `datasets.<name>.embeddings.source`, else
    the global `embeddings.source`."""
    return stage_config(config, "embeddings", dataset)["source"]


def source_normalisation(config: dict, source_name: str) -> str:
    """A source's normalisation: its own `normalisation` key, else `none` for the authors'
    tables (used as published) and the global `embeddings.normalisation` for word vectors."""
    source = config["embeddings"]["sources"][source_name]
    default = "none" if source["format"] == authors_embeddings.FORMAT else config["embeddings"]["normalisation"]
    return source.get("normalisation", default)


def _dataset_problems(name: str, ds: dict) -> list[str]:
    key = f"datasets.{name}"
    problems = []
    classes = ds["classes"]
    if classes[0] != "background":
        problems.append(f"{key}.classes must start with 'background' (class 0, always seen), got '{classes[0]}'")
    for k, unseen in ds["unseen"].items():
        where = f"{key}.unseen.{k}"
        if len(unseen) != int(k):
            problems.append(f"{where} lists {len(unseen)} classes, expected K = {k}")
        unknown = [c for c in unseen if c not in classes]
        if unknown:
            problems.append(f"{where} names unknown classes {unknown}; known: {key}.classes")
        if "background" in unseen:
            problems.append(f"{where}: background is always seen")
    unknown_ks = [k for k in ds.get("ks", []) if str(k) not in ds["unseen"]]
    if unknown_ks:
        problems.append(f"{key}.ks lists K = {unknown_ks} with no split in {key}.unseen")
    required = {"voc": ["root"], "context": ["root"], "synthetic": ["world"]}[ds["format"]]
    for field in required:
        if ds.get(field) in (None, ""):
            problems.append(f"{key}.{field} is required for format '{ds['format']}'")
    return problems + _layout_problems(key, ds)


def _layout_problems(key: str, ds: dict) -> list[str]:
    """A `layout` of another format, or one whose paths the config lacks (zs3core/data/layouts.py)."""
    fmt, layout = ds["format"], ds.get("layout", "auto")
    problems = []
    if layout != "auto" and layout not in LAYOUTS.get(fmt, ()):
        problems.append(f"{key}.layout is '{layout}', expected auto or one of {list(LAYOUTS.get(fmt, ()))} "
                        f"for format '{fmt}'")
    if fmt == "context" and bool(ds.get("labels")) != bool(ds.get("splits")):
        problems.append(f"{key}.labels and {key}.splits go together (the 459-class .mat release): set both or neither")
    needs = {"voc_sbd_mat": ["sbd_root"], "context_mat": ["labels", "splits"]}.get(layout, [])
    problems += [f"{key}.layout '{layout}' needs {key}.{field}" for field in needs if not ds.get(field)]
    return problems


def deep_merge(base: dict, override: dict) -> dict:
    """`base` with `override` merged in, recursively for nested mappings (neither is modified)."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = deep_merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def canonical(value, reference=None):
    """`value` with the keys of every mapping in one order, whatever order they arrived in.

    Snakemake merges `--configfile` files and `--config` values before config.yaml, so a setting's
    route decides its keys' place, and a rule's params (compared by their repr) would change with
    it. The order: the keys `reference` holds at the same place (config.yaml), in its order, then
    the others by name, numbers by value (K = 2 before 10). Values and list orders are kept; the
    result is new, `value` unchanged."""
    if isinstance(value, dict):
        ref = {str(k): v for k, v in reference.items()} if isinstance(reference, dict) else {}
        place = {k: i for i, k in enumerate(ref)}
        keys = sorted(value, key=lambda k: (place.get(str(k), len(place)), _by_name(str(k))))
        return {k: canonical(value[k], ref.get(str(k))) for k in keys}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def _by_name(key: str) -> tuple:
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def canonicalise(config: dict, reference: dict) -> None:
    """Put `config` in `canonical` order in place (the object Snakemake's rules read)."""
    ordered = canonical(config, reference)
    config.clear()
    config.update(ordered)


def stage_config(config: dict, stage: str, dataset: str) -> dict:
    """A stage's settings for one dataset: the global `<stage>` section, overridden by
    `datasets.<dataset>.<stage>` (e.g. a small backbone for the synthetic default)."""
    return deep_merge(config[stage], config["datasets"][dataset].get(stage, {}))


def check_config(config: dict) -> None:
    """Raise ConfigError listing every problem, if any."""
    problems = config_problems(config)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


def unseen_classes(config: dict, dataset: str, k: int | str) -> list[str]:
    """The unseen class names of split K, or a ConfigError naming the key to add."""
    splits = config["datasets"][dataset]["unseen"]
    if str(k) not in splits:
        raise ConfigError(f"datasets.{dataset}.unseen has no split K={k}; "
                          f"defined: {sorted(splits, key=int)}")
    return list(splits[str(k)])


def split_ks(config: dict, dataset: str) -> list[int]:
    """The splits K that tables use, ascending: `datasets.<ds>.ks`, or every K in `unseen`.

    (Config files merge into each other, so a user narrows the splits with `ks` rather than by
    redefining `unseen`.)"""
    ds = config["datasets"][dataset]
    return sorted(int(k) for k in ds.get("ks", ds["unseen"]))
