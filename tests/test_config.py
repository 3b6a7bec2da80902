"""Config validation: the schema plus the cross-checks, each error naming its key; one key order."""
import copy

import pytest
import yaml
from snakemake.cli import parse_config
from snakemake.utils import update_config

from conftest import REPO
from zs3core.config import ConfigError, canonical, canonicalise, check_config, stage_config, unseen_classes
from zs3core.config_schema import validate_config

SCHEMA = REPO / "schemas" / "config.schema.yaml"


def checked(config, command_line=None):
    validate_config(config, SCHEMA, command_line)
    check_config(config)
    return config


def test_shipped_config_is_valid(base_config):
    config = checked(base_config)
    assert unseen_classes(config, "voc", 2) == ["cow", "motorbike"]
    assert len(unseen_classes(config, "context", 10)) == 10


def test_the_real_datasets_carry_the_papers_backbone_and_the_authors_budgets(base_config):
    config = checked(base_config)
    for ds, passes in (("voc", 30), ("context", 20)):
        assert stage_config(config, "segmenter", ds)["init"] == "authors_imagenet"
        for section in ("generator", "gc"):
            assert (stage_config(config, section, ds)["iterations"], stage_config(config, section, ds)["epochs"]) == \
                (None, passes)
        assert stage_config(config, "classifier", ds)["epochs"] == passes
    for ds in ("synthvoc", "synthcontext"):  # the synthetic worlds keep their own budgets
        assert stage_config(config, "segmenter", ds)["init"] == "none"
        assert "epochs" not in stage_config(config, "generator", ds)
        assert stage_config(config, "classifier", ds) == config["classifier"]
        assert stage_config(config, "features", ds) == config["features"]


def test_a_generator_budget_is_iterations_or_epochs(base_config):
    base_config["datasets"]["synthvoc"]["generator"]["epochs"] = 3
    base_config["datasets"]["voc"]["gc"]["epochs"] = None
    with pytest.raises(ConfigError) as err:
        checked(base_config)
    assert "datasets.synthvoc.generator (merged over generator) sets iterations and epochs: set exactly one" in str(err.value)
    assert "datasets.voc.gc (merged over gc) sets neither iterations nor epochs" in str(err.value)


def test_splits_are_nested_as_in_the_paper(base_config):
    config = checked(base_config)
    for ds in ("voc", "context"):
        ks = sorted(config["datasets"][ds]["unseen"], key=int)
        assert ks == ["2", "4", "6", "8", "10"]
        for small, large in zip(ks, ks[1:]):
            assert set(unseen_classes(config, ds, small)) < set(unseen_classes(config, ds, large))


def test_unknown_class_in_split_is_named(base_config):
    base_config["datasets"]["voc"]["unseen"][2] = ["cow", "unicorn"]
    with pytest.raises(ConfigError, match=r"datasets\.voc\.unseen\.2 names unknown classes \['unicorn'\]"):
        checked(base_config)


def test_split_size_must_equal_k(base_config):
    base_config["datasets"]["voc"]["unseen"][4] = ["cow", "motorbike", "sofa"]
    with pytest.raises(ConfigError, match=r"datasets\.voc\.unseen\.4 lists 3 classes, expected K = 4"):
        checked(base_config)


def test_all_problems_reported_at_once(base_config):
    base_config["datasets"]["voc"]["unseen"][2] = ["cow", "unicorn"]
    base_config["embeddings"]["source"] = "fasttext"
    with pytest.raises(ConfigError) as err:
        checked(base_config)
    assert "unicorn" in str(err.value) and "embeddings.source is 'fasttext'" in str(err.value)


def test_absent_k_is_named(base_config):
    config = checked(base_config)
    with pytest.raises(ConfigError, match=r"datasets\.voc\.unseen has no split K=3"):
        unseen_classes(config, "voc", 3)


def test_schema_rejects_bad_values(base_config):
    base_config["embeddings"]["normalisation"] = "unit"
    with pytest.raises(ConfigError, match=r"embeddings\.normalisation is 'unit', expected one of"):
        checked(base_config)


def test_schema_rejects_unknown_keys(base_config):
    base_config["datasets"]["voc"]["rooot"] = "/x"
    with pytest.raises(ConfigError, match=r"datasets\.voc\.rooot: unknown key; allowed: \["):
        checked(base_config)


def test_ks_narrow_the_splits_and_must_exist(base_config):
    from zs3core.config import split_ks

    base_config["datasets"]["voc"]["ks"] = [4, 2]
    assert split_ks(checked(base_config), "voc") == [2, 4]
    assert split_ks(base_config, "context") == [2, 4, 6, 8, 10]
    base_config["datasets"]["voc"]["ks"] = [3]
    with pytest.raises(ConfigError, match=r"datasets\.voc\.ks lists K = \[3\]"):
        checked(base_config)


def test_layouts_that_cannot_be_read_are_named(base_config):
    datasets = base_config["datasets"]
    datasets["voc"]["layout"] = "context_mmseg_png"
    datasets["context"]["labels"] = "/data/pascal-context/trainval"  # without splits
    with pytest.raises(ConfigError) as error:
        checked(base_config)
    message = str(error.value)
    assert "datasets.voc.layout is 'context_mmseg_png', expected auto or one of ['voc', 'voc_sbd_mat', " \
           "'voc_aug_png'] for format 'voc'" in message
    assert "datasets.context.labels and datasets.context.splits go together" in message
    datasets["voc"]["layout"] = "voc_sbd_mat"
    datasets["context"]["splits"] = "/data/pascal-context/splits"
    with pytest.raises(ConfigError, match=r"datasets\.voc\.layout 'voc_sbd_mat' needs datasets\.voc\.sbd_root"):
        checked(base_config)
    datasets["voc"]["layout"] = "bogus"
    with pytest.raises(Exception, match="bogus"):
        checked(base_config)


# ------------------------------------------------ one key order, whatever route the settings came by


def shipped():
    with open(REPO / "config.yaml") as f:
        return yaml.safe_load(f)


def reversed_keys(value):
    return {k: reversed_keys(value[k]) for k in reversed(list(value))} if isinstance(value, dict) else value


def merged(configfiles=(), entries=()):
    """The config as Snakemake builds it (snakemake.settings.types, workflow.configfile): the
    --configfile files and --config values first, config.yaml merged into them, then them again."""
    command_line = parse_config(list(entries))
    overwrite = {}
    for file in configfiles:
        update_config(overwrite, copy.deepcopy(file))
    update_config(overwrite, command_line)
    config = copy.deepcopy(overwrite)
    update_config(config, shipped())
    update_config(config, overwrite)
    validate_config(config, SCHEMA, command_line)
    return config


def test_canonical_order_is_the_references_then_by_name():
    reference = {"b": 0, "a": {"y": 0, "x": 0}, 2: 0}
    value = {"z": 1, "10": 2, "a": {"w": 3, "x": 4, "y": 5}, "2": 6, "b": [{"q": 7, "p": 8}]}
    result = canonical(value, reference)
    assert list(result) == ["b", "a", "2", "10", "z"]  # the reference's keys, then numbers by value, names
    assert list(result["a"]) == ["y", "x", "w"] and list(result["b"][0]) == ["p", "q"]
    assert result == value and list(value) == ["z", "10", "a", "2", "b"]  # the same settings; input untouched


def test_the_shipped_config_is_canonical_already():
    # runs made before the canonical order keep their params: they rerun nothing
    config = merged()
    assert repr(canonical(config, shipped())) == repr(config)


@pytest.mark.parametrize("configfiles, entries", [
    ([], ["segmenter={train: {amp: true}}"]),  # defaults restated on the command line
    ([], ["generator={iterations: 800}", "classifier={epochs: 20.0}"]),
    ([reversed_keys(shipped())], []),  # every default, keys reversed, in a --configfile
    ([{"classifier": {"epochs": 20}}], ["segmenter={train: {amp: true, epochs: 200}}"]),
])
def test_the_same_settings_by_any_route_give_the_same_params(configfiles, entries):
    plain = merged()
    config = merged(configfiles, entries)
    assert config == plain and repr(config) != repr(plain)  # Snakemake's params compare reprs
    canonicalise(config, shipped())
    assert repr(config) == repr(plain)
    assert repr(stage_config(config, "segmenter", "synthvoc")) == repr(stage_config(plain, "segmenter", "synthvoc"))
