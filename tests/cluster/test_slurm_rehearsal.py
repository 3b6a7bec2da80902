"""The rehearsal overlay (config/rehearsal.yaml) through profiles/slurm on the SLURM test cluster.

Tables 1-4 (VOC: 1, 2, 4; Context: 3, 4) are built from real-format VOC and Context trees
(tests/fixtures.py) in one snakemake call, as docs/preflight.md tells a user to run them: from the
repository, `--directory` a folder of its own, the dataset roots absolute in the user's config
file. Every job of the run but the tables is a SLURM job that completed (the data stage, and
each bank with its classifier, as the profile's group jobs), every GPU rule asked for a GPU in the
GPU partition and no other job did (they ran in the CPU partition); the tables, local rules, ran
in the Snakemake process without sbatch; every table is written, from the real configuration
(ResNet-101). The run is 43 SLURM jobs, 12 rules deep; about half of its time is the jobs' start
and the executor's status polling.
"""
import subprocess
import sys
from pathlib import Path

from fixtures import REHEARSAL_TABLES, assert_rehearsal_outputs, rehearsal_configs
from slurm_harness import profile_partitions, rule_of

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 1200  # the run took 7.5 min under a load of 5-7 (more on a busier machine); a hung status check must not hang CI
GPU_RULES = {"train_step0", "train_supervised", "extract_features", "pseudo_label", "extract_pseudo_features",
             "train_generator", "train_gc", "train_gan", "evaluate_step0", "evaluate_supervised", "evaluate_retrained"}
# A group of the profile is one job per connected part: the data group a dataset's class
# embeddings, and its index with the hold-out (Context's labels first); the classifier group a
# bank with the classifier trained on it.
CPU_RULES = {"data_class_embeddings", "data_holdout_index_voc", "data_context_labels_holdout_index_context",
             "classifier_generate_bank_retrain_zs3", "classifier_generate_gc_bank_retrain_zs3gc",
             "classifier_generate_gan_bank_retrain_zs3gan", "cross_validate", "cross_validate_generator",
             "cross_validate_p", "retrain_ceiling", "retrain_zs5"}
LOCAL_RULES = {"table1", "table2", "table3", "table4"}  # `localrule: True`: run by Snakemake itself, no sbatch
PARTITIONS = profile_partitions(REPO / "profiles/slurm/config.yaml")


def test_rehearsal_tables_1_to_4_through_slurm(slurm, tmp_path):
    my, cpu = rehearsal_configs(tmp_path)
    workdir = tmp_path / "rehearsal"
    cmd = ["timeout", "-k", "30", str(TIMEOUT_S), sys.executable, "-m", "snakemake",
           "--profile", "profiles/slurm", "--slurm-status-command", "squeue",
           "--slurm-init-seconds-before-status-checks", "2", "--directory", str(workdir), *REHEARSAL_TABLES,
           "--configfile", "config.yaml", str(my), "config/rehearsal.yaml", str(cpu)]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]

    jobs = slurm.jobs(workdir)
    assert {(rule_of(j), j["JobState"]) for j in jobs} == {(r, "COMPLETED") for r in GPU_RULES | CPU_RULES}
    for job in jobs:
        assert (job.get("TresPerJob") == "gres:gpu:1") == (rule_of(job) in GPU_RULES), job
        assert job["Partition"] == PARTITIONS["gpu" if rule_of(job) in GPU_RULES else "cpu"], job
        assert list((workdir / ".snakemake/slurm_logs").glob(f"*/**/{job['JobId']}.log")), job
    for rule in LOCAL_RULES:  # not a SLURM job (above), and run here
        assert f"localrule {rule}:" in result.stdout + result.stderr, rule
    assert_rehearsal_outputs(workdir)
