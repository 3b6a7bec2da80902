"""`segmenter.init: authors`: the seen-only checkpoint is converted from the authors' file, not trained,
and both it and their stage-2 model evaluate through the usual rules (ResNet-101, tiny images)."""
import csv
import os

from authors_layout import authors_state_dict, write_authors_file
from conftest import run_snakemake
from fixtures import make_voc


def job_counts(result):
    """{rule: jobs} from a dry run's job table."""
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("job ")) + 2
    rows = [line.split() for line in lines[start:] if line.strip()]
    return {r[0]: int(r[1]) for r in rows[:next(i for i, r in enumerate(rows) if r[0] == "total")]}


def test_authors_files_replace_step0_training(workdir, tmp_path):
    root, _ = make_voc(tmp_path / "raw", [f"t{i}" for i in range(4)], ["v0", "v1"], size=(40, 48))
    downloads = tmp_path / "downloads"
    stage1 = write_authors_file(downloads / "deeplab_pretrained_pascal_voc_02_unseen.pth.tar", authors_state_dict(21))
    os.link(stage1, downloads / "deeplab_pascal_voc_02_unseen_GMMN_final.pth.tar")  # same weights: same numbers
    # their ImageNet backbone, which the oracle and the baseline still train from: checked by the dry run
    (downloads / "resnet_backbone_pretrained_imagenet_wo_pascalvoc.pth.tar").touch()
    overrides = {
        "datasets": {"voc": {"root": str(root), "ks": [2], "segmenter": {
            "init": "authors", "architecture": "authors", "authors_dir": str(downloads)}}},
        "evaluation": {"short_side": 48},
    }

    jobs = job_counts(run_snakemake(workdir, ["results/table1_voc.md"], overrides, "-n"))
    assert (jobs["convert_authors_step0"], jobs["train_step0"], jobs["evaluate_authors"]) == (1, 2, 1)  # 2 = the DeViSE and ALE baselines
    missing = run_snakemake(workdir, ["checkpoints/voc/k4/seenonly.pt"], overrides, "-n", check=False)
    assert missing.returncode != 0
    assert str(downloads / "deeplab_pretrained_pascal_voc_04_unseen.pth.tar") + " not found" in missing.stdout + missing.stderr

    run_snakemake(workdir, ["results/voc_k2_seenonly.csv", "results/voc_k2_authorszs3.csv"], overrides)
    rows = {}
    for method in ("seenonly", "authorszs3"):
        with open(workdir / f"results/voc_k2_{method}.csv", newline="") as f:
            (rows[method],) = csv.DictReader(f)
    assert rows["authorszs3"]["protocol"] == "authors" and rows["seenonly"]["backbone"] == "resnet101"
    assert rows["seenonly"]["eval_short_side"] == rows["authorszs3"]["eval_short_side"] == "48"
    metrics = [k for k in rows["seenonly"] if k.endswith(("_pa", "_miou"))]
    assert [rows["seenonly"][k] for k in metrics] == [rows["authorszs3"][k] for k in metrics]
    log = (workdir / "logs/convert_authors/voc_k2.log").read_text()
    assert f"converted {stage1}" in log and "best_pred 0.6873" in log
