"""The strict schema (every section, top level and per dataset) and the command line's types."""
import re
import textwrap

import pytest

from conftest import REPO
from zs3core.config import ConfigError
from zs3core.config_schema import load_schema, normalise_types, schema_problems, validate_config

SCHEMA_PATH = REPO / "schemas" / "config.schema.yaml"
SCHEMA = load_schema(SCHEMA_PATH)

# Sections whose keys are checked, as paths; the per-dataset overrides take the same checks.
# (synthvoc and synthcontext share their segmenter and baseline through YAML anchors: voc stands in.)
TOP = ["segmenter", "segmenter.train", "baseline", "ale", "features", "generator", "gc", "holdout", "bank",
       "classifier", "classifier.calibration", "selftrain", "selftrain.finetune", "evaluation",
       "figures", "predict", "compute", "embeddings"]
PER_DATASET = ["datasets.voc.segmenter", "datasets.voc.segmenter.train",
               "datasets.voc.baseline", "datasets.synthvoc.generator", "datasets.synthcontext.gc",
               "datasets.voc.selftrain", "datasets.voc.selftrain.finetune", "datasets.synthvoc.world",
               "datasets.synthcontext.world"]


def put(config, path, value):
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def problems(config):
    normalise_types(config, SCHEMA)
    return schema_problems(config, SCHEMA)


def test_shipped_config_has_no_problem(base_config):
    assert problems(base_config) == []


@pytest.mark.parametrize("section", TOP + PER_DATASET)
def test_unknown_key_is_named_with_the_allowed_ones(base_config, section):
    put(base_config, f"{section}.iterationz", 10)
    found = problems(base_config)
    assert len(found) == 1 and found[0].startswith(f"{section}.iterationz: unknown key; allowed: [")


def test_typo_in_generator_lists_the_real_key(base_config):
    put(base_config, "datasets.synthvoc.generator.iterationz", 10)
    assert "'iterations'" in problems(base_config)[0]


@pytest.mark.parametrize("path, value, allowed", [
    ("segmenter.backbone", "resnet18", "resnet_tiny"), ("baseline.loss", "hinge", "cosine"),
    ("generator.bandwidth_mode", "author", "authors"), ("generator.noise", "normal", "gaussian"),
    ("generator.device", "gpu", "cuda"), ("gc.bandwidth_mode", "author", "authors"),
    ("selftrain.mode", "both", "finetune"), ("holdout.scope", "some", "classifier_only"),
    ("classifier.protocol", "loose", "strict"), ("embeddings.normalisation", "unit", "l2"),
    ("segmenter.output_stride", 32, 16),
    ("datasets.synthvoc.generator.bandwidth_mode", "author", "authors"),
    ("datasets.synthcontext.gc.noise", "normal", "uniform"), ("datasets.voc.segmenter.init", "random", "none"),
    ("datasets.voc.baseline.init", "warm", "seenonly"), ("datasets.context.selftrain.mode", "both", "classifier"),
    ("datasets.synthvoc.world.kind", "scene", "scenes"), ("gc.adjacency", "normalised", "kipf"),
    ("gc.node_term", "per_image", "per_graph"),
])
def test_bad_enum_value_is_named_with_the_allowed_ones(base_config, path, value, allowed):
    put(base_config, path, value)
    found = problems(base_config)
    assert len(found) == 1 and found[0].startswith(f"{path} is {value!r}, expected one of [")
    assert repr(allowed) in found[0]


@pytest.mark.parametrize("path, value, expected", [
    ("generator.iterations", 0, ">= 1"), ("generator.dropout", 1.0, "< 1"), ("generator.lr", 0, "> 0"),
    ("generator.median_sample", 1, ">= 2"), ("generator.classes_per_step", 0, ">= 1"),
    ("gc.weight", -0.1, ">= 0"), ("gc.nodes_per_class", 0, ">= 1"),
    ("holdout.fraction", 0, "> 0"), ("holdout.fraction", 1, "< 1"), ("selftrain.p", 0, "> 0"),
    ("selftrain.p", 101, "<= 100"), ("selftrain.p_sweep", [0, 5], ">= 1"), ("selftrain.finetune.lr", 0, "> 0"),
    ("segmenter.train.batch_size", 0, ">= 1"), ("segmenter.train.lr", -1, "> 0"),
    ("segmenter.train.momentum", 1, "< 1"), ("segmenter.decoder_dropout", [0.5, 1], "< 1"),
    ("baseline.margin", 0, "> 0"), ("ale.margin", 0, "> 0"), ("features.max_per_class", 0, ">= 1"), ("bank.n_per_class", 0, ">= 1"),
    ("classifier.batch_size", 0, ">= 1"), ("classifier.calibration.max_unseen_rate", 1.5, "<= 1"),
    ("evaluation.short_side", 0, ">= 1"), ("figures.n_images", 0, ">= 1"), ("compute.threads", 0, ">= 1"),
    ("classifier.calibration.gammas", [0, -1], ">= 0"), ("figures.ks", [0], ">= 1"),
    ("embeddings.sources.word2vec.limit", 0, ">= 1"), ("seed", -1, ">= 0"),
    ("datasets.synthvoc.generator.iterations", 0, ">= 1"), ("datasets.synthvoc.generator.dropout", -0.1, ">= 0"),
    ("datasets.synthcontext.gc.lr", 0, "> 0"), ("datasets.voc.selftrain.p", 0, "> 0"),
    ("datasets.voc.segmenter.train.batch_size", 0, ">= 1"), ("datasets.voc.baseline.epochs", 0, ">= 1"),
    ("datasets.voc.ale.margin", 0, "> 0"),
    ("datasets.synthvoc.world.n_train", 0, ">= 1"), ("datasets.synthvoc.world.shading", 2, "<= 1"),
    ("datasets.synthcontext.world.in_scene_prob", -0.5, ">= 0"),
])
def test_out_of_range_is_named_with_its_bound(base_config, path, value, expected):
    put(base_config, path, value)
    found = problems(base_config)
    assert len(found) == 1 and found[0].startswith(path) and f"expected {expected}" in found[0], found


def test_p_is_cv_or_a_percentage(base_config):
    put(base_config, "selftrain.p", "cv")
    put(base_config, "datasets.voc.selftrain", {"p": 25})
    assert problems(base_config) == []
    put(base_config, "selftrain.p", "xv")
    assert problems(base_config) == ["selftrain.p is 'xv', expected 'cv' or a number"]


def test_unknown_dataset_and_split_names_are_named(base_config):
    base_config["datasets"]["vocc"] = base_config["datasets"].pop("voc")
    context = base_config["datasets"]["context"]
    context["unseen"] = {**context["unseen"], "two": ["cow", "motorbike"]}  # unshared from synthcontext
    assert set(problems(base_config)) == {
        "datasets.context.unseen.two: unknown name; allowed: names matching ^[0-9]+$",
        "datasets.vocc: unknown name; allowed: ['voc', 'context', 'synthvoc', 'synthcontext']"}


def test_a_section_that_has_no_per_dataset_override_is_refused_there(base_config):
    put(base_config, "datasets.synthvoc.bank", {"n_per_class": 1})
    found = problems(base_config)
    assert len(found) == 1 and found[0].startswith("datasets.synthvoc.bank: unknown key; allowed: [")


def test_a_dataset_overrides_the_classifier_budget_but_not_its_protocol(base_config):
    put(base_config, "datasets.synthvoc.classifier", {"epochs": 1, "unseen_weight": 10})
    put(base_config, "datasets.synthvoc.features", {"max_per_class": 50})
    assert problems(base_config) == []
    put(base_config, "datasets.synthvoc.classifier", {"protocol": "authors"})
    found = problems(base_config)
    assert len(found) == 1 and found[0].startswith("datasets.synthvoc.classifier.protocol: unknown key; allowed: [")


def test_scenes_keys_are_refused_for_an_objects_world(base_config):
    put(base_config, "datasets.synthvoc.world.n_scene_types", 4)
    assert problems(base_config) == ["datasets.synthvoc.world.n_scene_types: allowed only with kind: scenes"]


def test_every_problem_is_listed_at_once(base_config):
    put(base_config, "generator.iterationz", 10)
    put(base_config, "datasets.synthvoc.gc.bandwidth_mode", "absolut")
    put(base_config, "holdout.fraction", 2)
    with pytest.raises(ConfigError) as err:
        validate_config(base_config, SCHEMA_PATH)
    text = str(err.value)
    assert all(s in text for s in ["generator.iterationz", "datasets.synthvoc.gc.bandwidth_mode", "holdout.fraction"])


# ------------------------------------------------ types: what the command line gives as strings


def test_command_line_split_key_wins_over_the_config_files(base_config):
    # snakemake merges --config {voc: {unseen: {'2': ...}}} beside config.yaml's integer key 2
    base_config["datasets"]["voc"]["unseen"]["2"] = ["cow", "sofa"]
    normalise_types(base_config, SCHEMA, {"datasets": {"voc": {"unseen": {"2": ["cow", "sofa"]}}}})
    unseen = base_config["datasets"]["voc"]["unseen"]
    assert unseen["2"] == ["cow", "sofa"] and sorted(unseen, key=int) == ["2", "4", "6", "8", "10"]


def test_twin_keys_from_files_alone_stop_naming_both(base_config):
    base_config["datasets"]["voc"]["unseen"]["2"] = ["cow", "sofa"]  # e.g. a quoted '2' in a --configfile
    with pytest.raises(ConfigError, match=r"datasets\.voc\.unseen\.2 is given twice, as 2 and '2'"):
        normalise_types(base_config, SCHEMA, {})


def test_file_integer_keys_become_strings(base_config):
    normalise_types(base_config, SCHEMA)
    assert list(base_config["datasets"]["context"]["unseen"]) == ["2", "4", "6", "8", "10"]


@pytest.mark.parametrize("path, given, typed", [
    ("seeds", ["0", "1"], [0, 1]),
    ("seeds", "null", None),
    ("datasets.voc.ks", ["2", "10"], [2, 10]),
    ("datasets.voc.tables", ["1", "4"], [1, 4]),
    ("generator.lr", "0.001", 0.001),
    ("generator.lr", "1e-3", 0.001),
    ("generator.iterations", "10", 10),
    ("generator.iterations", "800.0", 800),
    ("generator.bandwidths", ["2", "5.5"], [2, 5.5]),
    ("generator.output_relu", "true", True),
    ("evaluation.short_side", "null", None),
    ("evaluation.short_side", "513", 513),
    ("datasets.voc.sbd_root", "null", None),
    ("datasets.synthvoc.segmenter.output_stride", "8", 8),
    ("datasets.synthvoc.world.object_radius", ["0.1", "0.2"], [0.1, 0.2]),
    ("selftrain.p", "75", 75),
    ("selftrain.p", "cv", "cv"),
    ("datasets.voc.root", "/data/2012", "/data/2012"),  # a string where a string is expected stays
    ("datasets.voc.classes", ["background", "1", "2"], ["background", "1", "2"]),
])
def test_command_line_strings_get_the_schemas_type(base_config, path, given, typed):
    put(base_config, path, given)
    normalise_types(base_config, SCHEMA)
    node = base_config
    for key in path.split("."):
        node = node[key]
    assert node == typed and type(node) is type(typed)


def test_a_whole_float_where_an_integer_is_expected_becomes_that_integer(base_config):
    put(base_config, "classifier.epochs", 20.0)  # YAML's 20.0: the same setting as 20, and its params
    put(base_config, "generator.classes_per_step", 16.0)  # integer or null
    put(base_config, "classifier.unseen_weight", 100)  # a number stays as written
    normalise_types(base_config, SCHEMA)
    typed = [base_config["classifier"]["epochs"], base_config["generator"]["classes_per_step"],
             base_config["classifier"]["unseen_weight"]]
    assert typed == [20, 16, 100] and all(type(v) is int for v in typed)


def test_a_string_the_schema_cannot_type_is_reported(base_config):
    put(base_config, "generator.real_per_class", "ten")
    assert problems(base_config) == ["generator.real_per_class is 'ten' (str), expected integer"]


def test_the_sample_message_of_the_docs_is_the_real_one(base_config):
    """docs/configuration.md's sample error, `...` standing for text it leaves out."""
    doc = (REPO / "docs" / "configuration.md").read_text()
    sample = textwrap.dedent(re.search(r"```\n(\s*invalid configuration.*?)^\s*```", doc, re.S | re.M).group(1))
    put(base_config, "datasets.synthvoc.generator.iterationz", 10)
    put(base_config, "generator.bandwidth_mode", "absolut")
    put(base_config, "holdout.fraction", 1)
    with pytest.raises(ConfigError) as err:
        validate_config(base_config, SCHEMA_PATH)
    pattern = ".*?".join(map(re.escape, sample.strip().split("...")))
    assert re.fullmatch(pattern, str(err.value).strip(), re.S), f"the docs say:\n{sample}\nthe code says:\n{err.value}"


def test_generator_grid_values_from_the_command_line_are_typed_as_in_config_yaml(base_config):
    # --config gives text: a grid of "256" would train a network of width "256"
    put(base_config, "generator_cv.grids", {"generator": {"hidden": ["256", "512"], "bandwidths": ["null", ["4", "0.5"]]},
                                            "gan": {"n_critic": ["5", "2"]}})
    assert problems(base_config) == []
    assert base_config["generator_cv"]["grids"] == {"generator": {"hidden": [256, 512], "bandwidths": [None, [4, 0.5]]},
                                                    "gan": {"n_critic": [5, 2]}}
    put(base_config, "generator_cv.grids.gan", {"noise": ["gaussian"]})
    assert any("generator_cv.grids.gan.noise" in p for p in problems(base_config))  # numbers, not words
