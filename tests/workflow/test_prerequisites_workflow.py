"""A dry run of a real-data target stops before any job, naming the config key and the path of a
file the plan reads that no rule makes (backbone weights, word vectors); with them in place it plans."""
from conftest import run_snakemake
from fixtures import make_voc

TARGET = "results/table1_voc.md"


def test_missing_weights_or_word_vectors_stop_the_dry_run_naming_key_and_path(workdir, tmp_path, monkeypatch):
    root, _ = make_voc(tmp_path / "raw", ["a", "b"], ["c"])
    weights, vectors = tmp_path / "r101_wo_pascal.pth", tmp_path / "GoogleNews-vectors-negative300.bin"
    overrides = {"datasets": {"voc": {"root": str(root), "ks": [2], "embeddings": {"source": "word2vec"},
                                      "segmenter": {"init": "file", "backbone_weights": str(weights)}}},
                 "embeddings": {"sources": {"word2vec": {"path": str(vectors)}}}}

    def stops_naming(message):
        result = run_snakemake(workdir, [TARGET], overrides, "-n", check=False)
        assert result.returncode != 0 and message in result.stdout + result.stderr, result.stderr[-3000:]

    vectors.touch()
    stops_naming(f"segmenter.backbone_weights: {weights} does not exist")
    weights.touch()
    vectors.unlink()
    stops_naming(f"embeddings.sources.word2vec.path: {vectors} does not exist")
    vectors.touch()
    plan = run_snakemake(workdir, [TARGET], overrides, "-n").stdout
    assert "rule train_step0:" in plan and "rule class_embeddings:" in plan

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty torch cache
    overrides["datasets"]["voc"]["segmenter"] = {"init": "imagenet"}
    stops_naming(f"segmenter.init: {tmp_path}/torch/hub/checkpoints/resnet101-63fe2227.pth does not exist")
    assert sorted(p.name for p in workdir.iterdir()) == [".snakemake", "overrides.yaml"]  # no job ran
