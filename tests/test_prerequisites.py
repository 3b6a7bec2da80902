"""The files a run reads that no rule makes: each kind lists its config key, path and source,
and `require` names every missing one."""
from pathlib import Path

import pytest

from zs3core.config import ConfigError
from zs3core.prerequisites import IMAGENET_URLS, External, external_files, imagenet_weights_path, require


def problems(config, dataset, *kinds, **context):
    return [f.problem() for f in external_files(config, dataset, kinds or ("dataset_folders", "backbone_weights",
                                                                          "word_vectors"), **context)]


def test_imagenet_file_is_where_torch_and_torchvision_put_it(monkeypatch, tmp_path):
    import torch
    from torchvision.models import get_model_weights

    for name, url in IMAGENET_URLS.items():
        assert url == get_model_weights(name).IMAGENET1K_V1.url
    for env in ({"TORCH_HOME": str(tmp_path / "th")}, {"XDG_CACHE_HOME": str(tmp_path / "xdg")}, {}):
        for var in ("TORCH_HOME", "XDG_CACHE_HOME"):
            monkeypatch.delenv(var, raising=False)
        for var, value in env.items():
            monkeypatch.setenv(var, value)
        assert imagenet_weights_path("resnet101") == Path(torch.hub.get_dir()) / "checkpoints" / "resnet101-63fe2227.pth"
    with pytest.raises(ConfigError, match="resnet_tiny"):
        imagenet_weights_path("resnet_tiny")


def test_dataset_folders_name_the_key_of_each_missing_one(base_config, tmp_path):
    ctx = base_config["datasets"]["context"]
    ctx.update(root=str(tmp_path), labels=str(tmp_path / "nowhere"), splits=str(tmp_path / "nosplits"))
    assert problems(base_config, "context", "dataset_folders") == [
        None, f"datasets.context.labels: {tmp_path / 'nowhere'} does not exist (a folder of the context "
              f"dataset; see docs/real-datasets.md)",
        f"datasets.context.splits: {tmp_path / 'nosplits'} does not exist (a folder of the context dataset; "
        f"see docs/real-datasets.md)"]
    base_config["datasets"]["voc"].update(root=str(tmp_path), sbd_root=None)  # an unset optional folder
    assert [f.key for f in external_files(base_config, "voc", ["dataset_folders"])] == ["datasets.voc.root"]


def test_imagenet_init_reads_the_torch_cache(base_config, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    del base_config["datasets"]["voc"]["segmenter"]  # the global section: init imagenet, resnet101
    (file,) = external_files(base_config, "voc", ["backbone_weights"])
    cached = tmp_path / "hub" / "checkpoints" / "resnet101-63fe2227.pth"
    assert (file.key, file.path, file.tracked) == ("segmenter.init", str(cached), False)
    assert IMAGENET_URLS["resnet101"] in file.problem() and str(cached) in file.problem()
    cached.parent.mkdir(parents=True)
    cached.touch()
    assert file.problem() is None


def test_file_init_names_backbone_weights_where_it_is_set(base_config, tmp_path):
    del base_config["datasets"]["voc"]["segmenter"]
    base_config["segmenter"].update(init="file", backbone_weights=None)
    (unset,) = external_files(base_config, "voc", ["backbone_weights"])
    assert unset.problem().startswith("segmenter.backbone_weights is not set: a ResNet checkpoint")
    base_config["datasets"]["voc"]["segmenter"] = {"backbone_weights": str(tmp_path / "r101.pth")}
    (mine,) = external_files(base_config, "voc", ["backbone_weights"])
    assert (mine.key, mine.path) == ("datasets.voc.segmenter.backbone_weights", str(tmp_path / "r101.pth"))
    assert external_files(base_config, "synthvoc", ["backbone_weights"]) == []  # init: none


def test_authors_init_reads_their_backbone_from_authors_dir(base_config, tmp_path):
    del base_config["datasets"]["context"]["segmenter"]
    base_config["segmenter"].update(init="authors", authors_dir=str(tmp_path))
    (theirs,) = external_files(base_config, "context", ["backbone_weights"])
    assert (theirs.key, theirs.path) == \
        ("segmenter.authors_dir", str(tmp_path / "resnet_backbone_pretrained_imagenet_wo_pascalcontext.pth.tar"))
    base_config["segmenter"]["backbone_weights"] = str(tmp_path / "other.pth")
    (other,) = external_files(base_config, "context", ["backbone_weights"])
    assert (other.key, other.path) == ("segmenter.backbone_weights", str(tmp_path / "other.pth"))


def test_word_vectors_of_the_configured_or_named_source(base_config, tmp_path):
    assert external_files(base_config, "voc", ["word_vectors"]) == []  # the authors' tables are shipped
    assert external_files(base_config, "synthvoc", ["word_vectors"]) == []  # spacy_md is embedded
    base_config["embeddings"]["source"] = "word2vec"
    base_config["embeddings"]["sources"]["word2vec"]["path"] = str(tmp_path / "GoogleNews.bin")
    (w2v,) = external_files(base_config, "voc", ["word_vectors"])
    assert (w2v.key, w2v.path, w2v.tracked) == ("embeddings.sources.word2vec.path", str(tmp_path / "GoogleNews.bin"), True)
    assert "GoogleNews-vectors-negative300.bin" in w2v.problem()
    assert external_files(base_config, "voc", ["word_vectors"], source="spacy_md") == []  # a job's own source


def test_require_lists_every_missing_file_at_once(tmp_path):
    (tmp_path / "here").touch()
    files = [External("a.key", str(tmp_path / "here"), "x", False), External("b.key", str(tmp_path / "gone"), "y", True),
             External("c.key", None, "z", False)]
    with pytest.raises(ConfigError) as err:
        require(files)
    lines = str(err.value).splitlines()
    assert lines[1:] == [f"  - b.key: {tmp_path / 'gone'} does not exist (y)", "  - c.key is not set: z"]
    require(files[:1])  # present: no error
