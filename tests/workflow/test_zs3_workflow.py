"""ZS3Net through Snakemake on a tiny synthetic world: tables, partial reruns, determinism, report."""
import json
import re
import subprocess
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, run_snakemake, small_synthetic, workflow_command
from zs3core import metrics
from zs3core.config import deep_merge
from zs3core.banks import default_bank_size, read_bank
from zs3core.claims import CLAIMS
from zs3core.data.index import read_index
from zs3core.holdout import read_holdout



# Figures drawn from the rerun models also rerun, and so do their training curves.
FIGURE_RULES = {"qualitative_figure", "confusion_heatmap", "fig5", "training_curves"}


def tiny_config():
    overrides = small_synthetic()
    overrides["datasets"]["synthvoc"].update(ks=[2, 4], segmenter={"train": {"epochs": 2, "batch_size": 8}},
                                             generator={"iterations": 30})  # synthvoc sets its own
    overrides["classifier"] = {"epochs": 2}
    overrides["selftrain"] = {"p_sweep": [25, 50]}
    overrides["default_datasets"] = ["synthvoc"]
    return overrides


def planned_jobs(workdir, overrides):
    """{rule: count} of what `snakemake -n` would run now."""
    return jobs_listed(run_snakemake(workdir, [], overrides, "-n", "--quiet", "rules").stdout)


def jobs_listed(out):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("zs3") / "work"
    workdir.mkdir()
    run_snakemake(workdir, [], tiny_config())
    return workdir


def test_default_target_builds_the_tables(built):
    table1 = pd.read_csv(built / "results/table1_synthvoc.csv")
    assert list(table1["Model"][:5]) == ["Supervised", "Baseline", "ALE baseline", "ZS3Net", "ZS3Net (calibrated)"]
    assert set(table1["K"]) == {0, 2, 4}
    md = (built / "results/table1_synthvoc.md").read_text()
    assert "Real-feature ceiling" in md and "ZS3Net (calibrated)" in md
    zs3 = pd.read_csv(built / "results/synthvoc_k2_zs3.csv")
    assert list(zs3["calibration"])[:2] == ["raw", "calibrated"] and zs3["gamma"][0] == 0
    assert set(zs3["protocol"]) == {"strict"}
    table2 = pd.read_csv(built / "results/table2_synthvoc.csv")
    assert set(table2["K"]) == {4}
    zs5 = pd.read_csv(built / "results/synthvoc_k4_zs5.csv")
    chosen = json.loads((built / "cv/synthvoc/k4/p_zs5.json").read_text())  # selftrain.p: cv, the default
    assert set(zs5["method"]) == {"zs5"} and set(zs5["pseudo_p"]) == {chosen["p"]}
    assert set(zs5["pseudo_p_rule"]) == {"cv"} and chosen["p"] in (5, 10, 25, 50, 75, 100)
    sweep = pd.read_csv(built / "results/synthvoc_k2_zs5_p50.csv")  # Figure 5's fixed p
    assert set(sweep["pseudo_p"]) == {50} and set(sweep["pseudo_p_rule"]) == {"fixed"}
    table4 = pd.read_csv(built / "results/table4_synthvoc.csv")
    assert set(table4["K"]) == {2, 4} and len(table4) == 4  # raw and calibrated ZS5Net per K
    assert (built / "pseudo/synthvoc/k2/p25/index.csv").exists()
    claims = pd.read_csv(built / "results/claims_synthvoc.csv")
    assert set(claims["calibration"]) == {"raw", "calibrated"} and len(claims) == len(CLAIMS) * 2 * 2  # claims x K x cal.
    gc = claims[claims["method"] == "zs3gc"]
    assert (gc["verdict"] == "not measured").all()  # no Table 3 on synthvoc: said, not dropped
    # one seed: nothing is tested, and the seen-only comparison is a sanity check
    assert set(claims["verdict"]) == {"not tested", "not measured"} and claims["p_value"].isna().all()
    assert set(claims.loc[claims["sanity_check"], "reference"]) == {"seenonly"}
    assert "single-run" in (built / "results/claims_synthvoc.md").read_text()


def test_every_training_stage_keeps_a_curve_and_the_default_target_draws_them(built):
    from zs3core.curves import read_curves
    run = "synthvoc/k2"
    inputs = {"seenonly": f"checkpoints/{run}/seenonly.pt", "baseline": f"checkpoints/{run}/baseline.pt",
              "supervised": "checkpoints/synthvoc/supervised.pt", "gmmn": f"generators/{run}/gmmn_loss.csv",
              "zs3": f"classifiers/{run}/zs3.pt", "ceiling": f"classifiers/{run}/ceiling.pt",
              "zs5_p25": f"classifiers/{run}/zs5_p25.pt", "zs5_p50": f"classifiers/{run}/zs5_p50.pt",
              "cv_zs3": f"cv/{run}/gamma_zs3.json", "cv_ceiling": f"cv/{run}/gamma_ceiling.json"}
    curves, unrecorded = read_curves({stage: built / path for stage, path in inputs.items()})
    assert unrecorded == []
    epochs = {c.tag: len(c.steps) for c in curves}
    assert epochs["seenonly/loss"] == 2 and epochs["classifiers/zs3"] == 2 and epochs["cv_classifiers/ceiling"] == 2
    assert epochs["gmmn/loss"] == epochs["cv_gmmn/zs3"] == 4  # iterations 1, 10, 20, 30
    for name in ("synthvoc_k2_curves.png", "synthvoc_k4_curves.png", "synthvoc_supervised_curves.png"):
        assert (built / "results/curves" / name).stat().st_size > 10_000


def test_scripts_pass_the_hold_out_and_the_bank_settings_on(built):
    """The ZS5Net pool leaves the hold-out out; the banks are generated with dropout
    (bank.dropout_at_generation: true, where `write_bank`'s own default is false) and, with
    bank.n_per_class null, hold the mean number of real rows per seen class."""
    held = read_holdout(built / "data/synthvoc/holdout.txt")
    index = read_index(built / "data/synthvoc/index.csv")
    unseen_of = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"]["synthvoc"]["unseen"]
    held_candidates = 0
    for K in (2, 4):
        candidates = [r["image_id"] for r in index if r["split"] == "train" and set(unseen_of[K]) & set(r["classes"])]
        pool = [r["image_id"] for r in read_index(built / f"pseudo/synthvoc/k{K}/pcv/index.csv")]
        assert pool == [i for i in candidates if i not in held]
        held_candidates += len(held & set(candidates))
        bank = read_bank(built / f"banks/synthvoc/k{K}/gmmn.h5")
        assert bool(bank.attrs["dropout_at_generation"]) is True
        assert bank.n_per_class == default_bank_size(built / f"features/synthvoc/k{K}/train.h5")
    assert held_candidates > 0  # the hold-out holds pool candidates: the first assertion means something


def test_every_results_csv_is_the_summary_of_its_confusion_matrices(built):
    confusions = sorted((built / "results").glob("synthvoc*_confusion.npy"))
    assert len(confusions) >= 10
    for path in confusions:
        rows = pd.read_csv(path.with_name(path.name.replace("_confusion.npy", ".csv")))
        per_class = pd.read_csv(path.with_name(path.name.replace("_confusion.npy", "_per_class.csv")))
        cms = np.load(path)
        assert cms.shape[0] == len(rows), path.name  # one matrix per row, in the rows' order
        for cm, (_, row) in zip(cms, rows.iterrows()):
            split = per_class[per_class["calibration"] == row["calibration"]]["split"].tolist()
            unseen = [c for c, s in enumerate(split) if s == "unseen"]
            want = metrics.summarize(cm, unseen, absent_as_zero=bool(row["absent_as_zero"]))
            for key, value in want.items():
                assert row[key] == pytest.approx(100 * value, nan_ok=True), (path.name, row["calibration"], key)


def test_changing_a_generator_parameter_reruns_only_what_depends_on_it(built):
    overrides = tiny_config()
    overrides["datasets"]["synthvoc"]["generator"]["iterations"] = 31
    jobs = planned_jobs(built, overrides)
    assert jobs.pop("train_generator") == 2 and jobs.pop("generate_bank") == 2
    assert jobs.pop("cross_validate") == 2  # ZS3Net's CV trains a GMMN as step 1; not the ceiling's
    assert jobs.pop("cross_validate_generator") == 2  # its grid points are the section's at other values
    assert jobs.pop("cross_validate_p") == 2  # so does the CV of ZS5Net's p
    # ZS5Net's pseudo-labels come from the ZS3 model, so self-training reruns too: at the
    # cross-validated p for both splits and, for Figure 5's sweep at K=2, at p = 25 and 50
    assert jobs.pop("retrain_zs3") == 2 and jobs.pop("retrain_zs5") == 4
    assert jobs.pop("pseudo_label") == 4 and jobs.pop("extract_pseudo_features") == 4
    assert jobs.pop("evaluate_retrained") == 6  # zs3, zs5 and the two sweep rows; not the ceiling
    assert "train_step0" not in jobs and "extract_features" not in jobs and "retrain_ceiling" not in jobs
    assert set(jobs) <= {"table1", "table2", "table4", "claims", "cv_report", "all"} | FIGURE_RULES


def test_changing_a_cv_setting_reruns_the_cv_and_what_reads_its_gamma(built):
    overrides = tiny_config()
    overrides["cv"] = {"max_pseudo_fraction": 0.3}
    jobs = planned_jobs(built, overrides)
    assert jobs.pop("cross_validate") == 6  # zs3, zs3gan and ceiling at K = 2, 4
    # the generator's settings are chosen on the same pseudo split: the generators and banks follow
    assert jobs.pop("cross_validate_generator") == 2 and jobs.pop("train_generator") == 2
    assert jobs.pop("generate_bank") == 2
    assert jobs.pop("cross_validate_p") == 2
    assert jobs.pop("retrain_zs3") == 2 and jobs.pop("retrain_ceiling") == 2 and jobs.pop("retrain_zs5") == 4
    assert jobs.pop("retrain_zs3gan") == 2  # its own CV's gamma; its GAN trains with no grid here
    assert jobs.pop("evaluate_retrained") == 10  # zs3, zs3gan, ceiling, zs5 and the two sweep rows
    # the pseudo-labels come from the calibrated ZS3 model
    assert jobs.pop("pseudo_label") == 4 and jobs.pop("extract_pseudo_features") == 4
    assert set(jobs) <= {"table1", "table2", "table4", "claims", "cv_report", "all"} | FIGURE_RULES


def test_the_chosen_generator_settings_reach_the_generator_and_every_row_built_from_it(built):
    from zs3core.train.generator import load_generator
    for K in (2, 4):
        record = json.loads((built / f"cv/synthvoc/k{K}/settings_generator.json").read_text())
        sweep = pd.read_csv(built / f"cv/synthvoc/k{K}/sweep_settings_generator.csv")
        assert len(sweep) == 4 and list(sweep["point"]) == [0, 1, 2, 3]  # hidden {256, 512} x 2 bandwidth lists
        assert record["point"] in range(4) and set(record["chosen"]) == {"hidden", "bandwidths"}
        _, state = load_generator(built / f"generators/synthvoc/k{K}/gmmn.pt")
        assert state["config"]["hidden"] == record["chosen"]["hidden"]
        assert state["config"]["bandwidths"] == record["chosen"]["bandwidths"]
        assert state["provenance"] == record["columns"] and record["columns"]["generator_settings"] == "cv"
        for method in ("zs3", "zs5"):
            rows = pd.read_csv(built / f"results/synthvoc_k{K}_{method}.csv")
            for column, value in record["columns"].items():
                assert set(rows[column]) == {value}, (K, method, column)
    ceiling = pd.read_csv(built / "results/synthvoc_k2_ceiling.csv")
    assert "generator_settings" not in ceiling.columns  # no generator


def test_the_generator_and_the_gamma_cv_train_with_the_cross_validated_settings(built):
    listing = run_snakemake(built, ["classifiers/synthvoc/k2/zs5_pcv.pt"], tiny_config(), "-n", "--forceall").stdout
    inputs = {}
    for rule, files in re.findall(r"^rule (\w+):\n(?:    .*\n)*?    input: (.*)$", listing, re.M):
        inputs.setdefault(rule, []).append(files.split(", "))
    for rule in ("train_generator", "cross_validate", "cross_validate_p"):
        assert inputs[rule] == [inputs[rule][0]] and "cv/synthvoc/k2/settings_generator.json" in inputs[rule][0], rule


def test_changing_only_the_generator_grid_reruns_its_cv_and_what_reads_it(built):
    overrides = tiny_config()
    overrides["generator_cv"] = {"grids": {"generator": {"hidden": [256, 128]}}}
    listing = run_snakemake(built, [], overrides, "-n", "--quiet", "rules", "--rerun-triggers", "params").stdout
    jobs = jobs_listed(listing)
    assert jobs.pop("cross_validate_generator") == 2
    assert jobs.pop("train_generator") == 2 and jobs.pop("generate_bank") == 2
    assert jobs.pop("cross_validate") == 2 and jobs.pop("cross_validate_p") == 2  # zs3's, not the ceiling's
    assert jobs.pop("retrain_zs3") == 2 and jobs.pop("retrain_zs5") == 4
    assert jobs.pop("pseudo_label") == 4 and jobs.pop("extract_pseudo_features") == 4
    assert jobs.pop("evaluate_retrained") == 6  # zs3, zs5 and the two sweep rows; not the ceiling
    assert "train_step0" not in jobs and "extract_features" not in jobs and "retrain_ceiling" not in jobs
    assert set(jobs) <= {"table1", "table2", "table4", "claims", "cv_report", "all"} | FIGURE_RULES


def test_cv_report_and_gamma_rule_columns(built):
    zs3 = pd.read_csv(built / "results/synthvoc_k2_zs3.csv")
    assert list(zs3["calibration"]) == ["raw", "calibrated", "calibrated_rate"]
    assert list(zs3["gamma_rule"]) == ["none", "cv", "rate"]
    chosen = json.loads((built / "cv/synthvoc/k2/gamma_zs3.json").read_text())
    assert zs3["gamma"][1] == chosen["gamma"] and len(chosen["pseudo_unseen"]) == 2
    assert not set(chosen["pseudo_unseen"]) & {"background", "cow", "motorbike"}
    report = pd.read_csv(built / "results/cv_synthvoc.csv")
    assert len(report) == 4 and set(report["K"]) == {2, 4}
    row = report[(report["K"] == 2) & (report["model"] == "zs3")].iloc[0]
    assert row["test_hiou_cv"] == pytest.approx(zs3["hiou"][1]) and row["cv_gamma"] == chosen["gamma"]


def test_changing_one_split_leaves_the_other_untouched(built):
    overrides = tiny_config()
    overrides["datasets"]["synthvoc"]["unseen"] = {4: ["cow", "motorbike", "aeroplane", "cat"]}
    jobs = planned_jobs(built, overrides)
    assert jobs["train_step0"] == 3  # K=4's seen-only segmenter, DeViSE and ALE baselines
    listing = run_snakemake(built, [], overrides, "-n").stdout
    assert "k2" not in "".join(line for line in listing.splitlines() if line.strip().startswith("output:"))
    assert "k4" in listing


# The same settings by another route give the same params, so nothing reruns. A --configfile or
# --config alone is where the order differs: Snakemake merges config.yaml into them, their keys first.
# (These run before the second seed's test below, which adds to `built`.)
class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def reversed_keys(value):
    return {k: reversed_keys(value[k]) for k in reversed(list(value))} if isinstance(value, dict) else value


def every_setting():
    """The built run's settings (config.yaml's and the tiny ones), every mapping's keys reversed."""
    with open(REPO / "config.yaml") as f:
        return reversed_keys(deep_merge(yaml.safe_load(f), tiny_config()))


def by_route(settings, route, folder):
    """The arguments that give `settings` through `route`: one --configfile, or --config per section."""
    if route == "--configfile":
        path = folder / "settings.yaml"
        path.write_text(yaml.dump(settings, Dumper=_NoAliases, sort_keys=False))
        return ["--configfile", str(path)]
    return ["--config", *(f"{section}={json.dumps(value)}" for section, value in settings.items())]


def planned_by(workdir, *args):
    """{rule: count} that `snakemake -n` plans with these arguments alone, config.yaml read only by
    the Snakefile's `configfile:` (from the working directory, as in a user's checkout)."""
    if not (workdir / "config.yaml").exists():
        (workdir / "config.yaml").symlink_to(REPO / "config.yaml")
    result = subprocess.run(workflow_command(workdir, "-n", *args), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    jobs = jobs_listed(result.stdout)
    assert bool(jobs) != ("Nothing to be done" in result.stdout + result.stderr), result.stdout[-3000:]
    return jobs


@pytest.mark.parametrize("route", ["--configfile", "--config"])
def test_every_setting_restated_through_another_route_reruns_nothing(built, tmp_path, route):
    assert planned_by(built, *by_route(every_setting(), route, tmp_path)) == {}


def test_defaults_restated_on_the_command_line_rerun_nothing(built, tmp_path):
    tiny = by_route(reversed_keys(tiny_config()), "--configfile", tmp_path)  # the tiny settings alone
    restated = ["segmenter={train: {amp: true}}", "generator={iterations: 800}", "classifier={epochs: 2}"]
    assert planned_by(built, *tiny, "--config", *restated) == {}


def test_a_change_through_another_route_reruns_what_it_reruns_through_config_files(built, tmp_path):
    settings, overrides = every_setting(), tiny_config()
    settings["datasets"]["synthvoc"]["generator"]["iterations"] = 31
    overrides["datasets"]["synthvoc"]["generator"]["iterations"] = 31
    jobs = planned_by(built, *by_route(settings, "--config", tmp_path))
    assert jobs == planned_jobs(built, overrides) and jobs["train_generator"] == 2 and "train_step0" not in jobs


def test_same_seed_same_csvs(built, tmp_path):
    again = tmp_path / "again"
    again.mkdir()
    run_snakemake(again, ["results/synthvoc_k2_zs3.csv", "results/synthvoc_k2_baseline.csv"], tiny_config())
    for name in ("synthvoc_k2_zs3.csv", "synthvoc_k2_baseline.csv"):
        assert (again / "results" / name).read_bytes() == (built / "results" / name).read_bytes(), name


def test_zs5_finetune_mode_reuses_the_pseudo_labels(built):
    overrides = tiny_config()
    overrides["selftrain"]["mode"] = "finetune"
    jobs = planned_jobs(built, overrides)
    assert jobs.pop("retrain_zs5") == 4 and jobs.pop("evaluate_retrained") == 4  # zs5 and the sweep only
    assert "pseudo_label" not in jobs and "train_step0" not in jobs and "retrain_zs3" not in jobs
    assert "cross_validate_p" not in jobs  # the mode is no setting of the p cross-validation
    assert set(jobs) <= {"table4", "claims", "all"} | FIGURE_RULES


def test_report_holds_the_tables_and_every_runs_metrics_with_captions(built, tmp_path):
    run_snakemake(built, [], tiny_config(), "--report", str(tmp_path / "report.zip"))
    with zipfile.ZipFile(tmp_path / "report.zip") as archive:
        files = {name.rsplit("/", 1)[-1] for name in archive.namelist()}
        html = archive.read(next(n for n in archive.namelist() if n.endswith("/report.html"))).decode()
    results = built / "results"
    # the metrics and per-class CSV of every run of the default target
    runs = {p.name for pattern in ("synthvoc_k*.csv", "synthvoc_supervised*.csv") for p in results.glob(pattern)}
    assert {"synthvoc_supervised.csv", "synthvoc_k2_zs3.csv", "synthvoc_k4_zs3_per_class.csv"} <= runs
    assert runs | {p.name for p in results.glob("table*_synthvoc.md")} <= files
    assert {"synthvoc_k2_curves.png", "synthvoc_supervised_curves.png"} <= files  # the training curves
    for caption in ("reimplemented as a Snakemake workflow", "The metrics of one run", "Per-class results of one run",
                    "The training curves of one split"):
        assert caption in html


def test_a_second_seed_adds_tagged_runs_and_tables_average_them(built):
    overrides = tiny_config()
    overrides["seeds"] = [0, 1]
    jobs = planned_jobs(built, overrides)
    # seed 0's runs exist already: only seed 1's models are planned, each once
    assert jobs["train_step0"] == 6 and jobs["train_supervised"] == 1 and jobs["retrain_zs3"] == 2
    listing = run_snakemake(built, [], overrides, "-n").stdout
    outputs = [line for line in listing.splitlines() if line.strip().startswith("output:") and "checkpoints/" in line]
    assert outputs and all("synthvoc_seed1/" in line for line in outputs)
    run_snakemake(built, ["results/table2_synthvoc.csv"], overrides)
    seed1 = pd.read_csv(built / "results/synthvoc_seed1_k4_zs3.csv")
    assert list(seed1["seed"]) == [1, 1, 1]  # raw, calibrated, and the other gamma rule's row
    table2 = pd.read_csv(built / "results/table2_synthvoc.csv")
    zs3 = table2[table2["Model"] == "ZS3Net"].iloc[0]
    runs = [pd.read_csv(built / f"results/synthvoc{tag}_k4_zs3.csv").iloc[0]["unseen_miou"] for tag in ("", "_seed1")]
    assert zs3["unseen_miou"] == pytest.approx(sum(runs) / 2, abs=0.05)
    assert "\u00b1" in (built / "results/table2_synthvoc.md").read_text()


def test_zs5_reads_the_cross_validated_p_only_under_p_cv(workdir):
    def zs5_jobs(overrides):
        listing = run_snakemake(workdir, ["results/table4_synthvoc.md"], overrides, "-n").stdout
        blocks = re.findall(r"^rule (retrain_zs5|pseudo_label|cross_validate_p):\n((?:\s+\S.*\n)+)", listing, re.M)
        return {(rule, re.search(r"output: (\S+)", body).group(1).rstrip(",")):
                re.search(r"input: (.*)", body).group(1).split(", ") for rule, body in blocks}

    cross_validated = zs5_jobs(tiny_config())
    for K in (2, 4):
        p_file = f"cv/synthvoc/k{K}/p_zs5.json"
        assert p_file in cross_validated[("retrain_zs5", f"classifiers/synthvoc/k{K}/zs5_pcv.pt")]
        assert p_file in cross_validated[("pseudo_label", f"pseudo/synthvoc/k{K}/pcv")]
        assert ("cross_validate_p", p_file) in cross_validated
    fixed = tiny_config()
    fixed["selftrain"]["p"] = 25
    planned = zs5_jobs(fixed)
    assert {o for r, o in planned if r == "retrain_zs5"} == {f"classifiers/synthvoc/k{K}/zs5_p25.pt" for K in (2, 4)}
    assert not any(r == "cross_validate_p" or any("p_zs5.json" in i for i in inputs)
                   for (r, _), inputs in planned.items())


def test_authors_protocol_plans_the_generator_in_place_of_the_bank(workdir):
    overrides = tiny_config()
    overrides["classifier"]["protocol"] = "authors"
    jobs = planned_jobs(workdir, overrides)
    # ZS3Net's classifier runs the generator at the unseen images' pixels (zs3core.retrain.authors_rows):
    # per split one generator, one ZS3Net classifier; banks only for what still reads one (ZS5Net)
    assert jobs["train_generator"] == 2 and jobs["retrain_zs3"] == 2 and jobs["retrain_ceiling"] == 2
    listing = run_snakemake(workdir, ["results/table1_synthvoc.md"], overrides, "-n").stdout
    zs3_inputs = re.findall(r"^rule retrain_zs3:\n\s+input: (.*)$", listing, re.M)
    assert sorted(i.split(", ")[2] for i in zs3_inputs) == [f"generators/synthvoc/k{k}/gmmn.pt" for k in (2, 4)]
    assert not any("banks/" in i for i in zs3_inputs)
    assert "rule generate_bank:" not in listing  # Table 1 reads no bank under this protocol


def test_the_gan_grid_reaches_the_gan_its_gamma_cv_and_its_rows(workdir):
    """With a GAN grid the GAN, the zs3gan gamma CV (its own pseudo-split GAN) and the zs3gan rows'
    evaluation read `settings_gan.json`; without one none does, and none is built."""
    def gan_jobs(gan_grid):
        overrides = tiny_config()
        overrides["datasets"]["synthvoc"]["generator_cv"] = {"grids": {"gan": gan_grid}}
        listing = run_snakemake(workdir, ["results/synthvoc_k2_zs3gan.csv"], overrides, "-n", "--forceall").stdout
        blocks = re.findall(r"^rule (\w+):\n((?:\s+\S.*\n)+)", listing, re.M)
        return {(rule, re.search(r"output: (\S+)", body).group(1).rstrip(",")):
                re.search(r"input: (.*)", body).group(1).split(", ") for rule, body in blocks if "input:" in body}

    settings = "cv/synthvoc/k2/settings_gan.json"
    readers = {("train_gan", "generators/synthvoc/k2/gan.pt"), ("cross_validate", "cv/synthvoc/k2/gamma_zs3gan.json"),
               ("evaluate_retrained", "results/synthvoc_k2_zs3gan.csv")}
    gridded = gan_jobs({"n_critic": [5, 2]})
    assert ("cross_validate_generator", settings) in gridded
    assert {job for job, inputs in gridded.items() if settings in inputs} == readers
    plain = gan_jobs(None)
    assert readers <= set(plain) and not any(settings in inputs or job[1] == settings for job, inputs in plain.items())
