"""Config validation: the schema plus the cross-checks, each error naming its key."""
import pytest

from conftest import REPO
from zs3core.config import ConfigError, check_config, require_paths, stage_config, unseen_classes
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


def test_missing_roots_name_the_key(base_config, tmp_path):
    config = checked(base_config)
    config["datasets"]["context"]["root"] = str(tmp_path)
    config["datasets"]["context"]["labels"] = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"datasets\.context\.labels = '.*nowhere' does not exist"):
        require_paths(config, "context", ["root", "labels"])
    require_paths(config, "context", ["root"])  # an existing folder passes


def test_ks_narrow_the_splits_and_must_exist(base_config):
    from zs3core.config import split_ks

    base_config["datasets"]["voc"]["ks"] = [4, 2]
    assert split_ks(checked(base_config), "voc") == [2, 4]
    assert split_ks(base_config, "context") == [2, 4, 6, 8, 10]
    base_config["datasets"]["voc"]["ks"] = [3]
    with pytest.raises(ConfigError, match=r"datasets\.voc\.ks lists K = \[3\]"):
        checked(base_config)
