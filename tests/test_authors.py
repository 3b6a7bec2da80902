"""What the workflow knows of the authors' files before opening one: names, splits, config checks."""
import pytest

from zs3core import authors, prerequisites
from conftest import REPO
from zs3core.config import ConfigError, check_config, stage_config
from zs3core.config_schema import load_schema, normalise_types


def authors_config(base, **segmenter):
    normalise_types(base, load_schema(REPO / "schemas" / "config.schema.yaml"))
    base["datasets"]["voc"]["segmenter"] = {"init": "authors", "architecture": "authors",
                                           "authors_dir": "/downloads", **segmenter}
    return base


def test_published_names():
    assert authors.file_name("voc", "seenonly", 2) == "deeplab_pretrained_pascal_voc_02_unseen.pth.tar"
    assert authors.file_name("context", "authorszs3", 10) == "deeplab_pascal_context_10_unseen_GMMN_final.pth.tar"
    assert authors.file_name("context", "authorszs3gc", 4) == "deeplab_pascal_context_04_unseen_GMMN_GC_final.pth.tar"
    assert authors.file_name("voc", "backbone") == "resnet_backbone_pretrained_imagenet_wo_pascalvoc.pth.tar"
    assert [k for k in range(1, 13) if authors.published("voc", "seenonly", k)] == [2, 4, 6, 8, 10]
    assert [k for k in range(1, 13) if authors.published("context", "authorszs3gc", k)] == [4, 6, 8, 10]
    assert not authors.published("voc", "authorszs3gc", 4) and not authors.published("synthvoc", "seenonly", 2)


def test_authors_file_errors_name_the_file_and_the_key(tmp_path):
    seg = {"authors_dir": str(tmp_path)}
    with pytest.raises(FileNotFoundError, match=r"deeplab_pascal_voc_04_unseen_GMMN_final.pth.tar not found.*authors_dir"):
        authors.authors_file(seg, "voc", "authorszs3", "4")
    with pytest.raises(ValueError, match="never published"):
        authors.authors_file(seg, "context", "authorszs3gc", 2)
    with pytest.raises(ValueError, match="set segmenter.authors_dir"):
        authors.authors_file({}, "voc", "seenonly", 2)
    (tmp_path / authors.file_name("voc", "seenonly", 2)).touch()
    assert authors.authors_file(seg, "voc", "seenonly", "2") == tmp_path / "deeplab_pretrained_pascal_voc_02_unseen.pth.tar"


def test_architecture_and_backbone_resolution():
    tiny = {"backbone": "resnet_tiny", "tiny_widths": [8, 8, 8, 8], "align_corners": False, "init": "authors",
            "authors_dir": "/d"}
    assert authors.resolve_architecture(tiny) is tiny
    seg = authors.resolve_architecture({**tiny, "architecture": "authors"})
    assert {k: seg[k] for k in authors.AUTHORS_ARCHITECTURE} == authors.AUTHORS_ARCHITECTURE and "tiny_widths" not in seg
    with pytest.raises(ValueError, match="segmenter.architecture"):
        authors.resolve_architecture({"architecture": "xception"})
    assert authors.with_authors_backbone(seg, "context")["backbone_weights"] == \
        "/d/resnet_backbone_pretrained_imagenet_wo_pascalcontext.pth.tar"
    assert authors.with_authors_backbone({**seg, "backbone_weights": "/mine.pth"}, "voc")["backbone_weights"] == "/mine.pth"
    assert authors.with_authors_backbone({**seg, "init": "file"}, "voc") == {**seg, "init": "file"}


def test_config_with_authors_init_is_checked(base_config):
    check_config(authors_config(base_config))  # the shipped splits and classes are the authors'
    cfg = authors_config(base_config, architecture="deeplabv3plus", authors_dir=None)
    cfg["datasets"]["voc"]["unseen"]["2"] = ["cow", "sheep"]
    cfg["datasets"]["synthvoc"]["segmenter"]["init"] = "authors"
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    for text in ("datasets.voc: segmenter.init 'authors' needs segmenter.architecture 'authors'",
                 "datasets.voc: segmenter.init 'authors' needs segmenter.authors_dir",
                 "datasets.voc.unseen.2 is ['cow', 'sheep'], but the authors' K=2 model leaves ['cow', 'motorbike']",
                 "datasets.synthvoc: segmenter.init 'authors' needs format voc or context"):
        assert text in str(err.value)
    assert stage_config(base_config, "segmenter", "context")["init"] == "authors_imagenet"  # other datasets untouched


def test_class_names_must_be_theirs(base_config):
    cfg = authors_config(base_config)
    cfg["datasets"]["voc"]["classes"] = ["table" if c == "diningtable" else c for c in cfg["datasets"]["voc"]["classes"]]
    with pytest.raises(ConfigError, match=r"only ours \['table'\], only theirs \['diningtable'\]"):
        check_config(cfg)


def test_a_missing_authors_backbone_names_key_path_and_where_they_published_it(tmp_path, base_config):
    base_config["datasets"]["voc"]["segmenter"]["authors_dir"] = str(tmp_path)
    [backbone] = prerequisites.backbone_weights(base_config, "voc")
    path = tmp_path / "resnet_backbone_pretrained_imagenet_wo_pascalvoc.pth.tar"
    assert backbone.path == str(path)
    for text in (f"datasets.voc.segmenter.authors_dir: {path} does not exist", "valeoai/ZS3 GitHub releases",
                 authors.RELEASES, "segmenter.init: imagenet"):
        assert text in backbone.problem()
    path.touch()
    assert backbone.problem() is None
    base_config["datasets"]["voc"]["segmenter"] |= {"init": "file", "backbone_weights": str(tmp_path / "mine.pth")}
    [mine] = prerequisites.backbone_weights(base_config, "voc")
    assert mine.problem().startswith(f"datasets.voc.segmenter.backbone_weights: {tmp_path / 'mine.pth'} does not exist")
    base_config["datasets"]["voc"]["segmenter"]["init"] = "none"
    assert prerequisites.backbone_weights(base_config, "voc") == []

def test_config_with_authors_imagenet_is_checked(base_config):
    normalise_types(base_config, load_schema(REPO / "schemas" / "config.schema.yaml"))
    check_config(base_config)  # the shipped voc and context start from the authors' backbone
    assert stage_config(base_config, "segmenter", "voc")["init"] == "authors_imagenet"
    base_config["datasets"]["voc"]["segmenter"] = {"init": "authors_imagenet", "backbone": "resnet50"}
    with pytest.raises(ConfigError) as err:
        check_config(base_config)
    assert "datasets.voc: segmenter.init 'authors_imagenet' needs segmenter.backbone resnet101" in str(err.value)
    assert "datasets.voc: segmenter.init 'authors_imagenet' needs segmenter.authors_dir" in str(err.value)
