"""The job log ends with the job's resources, which the cached rules' timings are read from;
a job's record comes from its benchmark file, else that line; a dry run names both files."""
import time

from zs3core.runlog import (RESOURCES_LINE, PlannedJob, dry_run_jobs, job_log, job_record, read_resources,
                            run_records)


def test_the_job_log_records_wall_cpu_and_memory(tmp_path):
    path = tmp_path / "logs/stage/job.log"
    started = time.perf_counter()
    with job_log(path) as log:
        log.info("working")
        deadline = time.process_time() + 0.2
        while time.process_time() < deadline:  # 0.2 s of CPU
            pass
    elapsed = time.perf_counter() - started
    record = read_resources(path)
    # CPU time counts every thread of the process (a thread left by an earlier test too), so the
    # wall time is bounded by the time around the block, not by the CPU time
    assert record is not None and 0.2 <= record["cpu"] and 0 < record["wall"] <= elapsed + 0.01
    assert record["rss"] > 1  # MB: at least this interpreter
    assert "working" in path.read_text()


def test_a_failed_job_records_no_resources(tmp_path):
    path = tmp_path / "job.log"
    try:
        with job_log(path):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert read_resources(path) is None and "job failed" in path.read_text()


BENCHMARK = ("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
             "9.5\t0:00:09\t100.0\t200.0\t90.0\t80.0\t1.0\t2.0\t50.0\t8.0\n"
             "12.25\t0:00:12\t300.5\t400.0\t280.0\t250.5\t1.0\t2.0\t50.0\t11.5\n")


def test_a_job_record_comes_from_the_benchmark_file_else_the_log(tmp_path):
    tsv, log, empty = tmp_path / "job.tsv", tmp_path / "job.log", tmp_path / "linked.log"
    tsv.write_text(BENCHMARK)  # a rerun appends a row: the last one counts
    log.write_text("2026-01-01 INFO working\n" + RESOURCES_LINE.format(wall=3.5, cpu=2.25, rss=64.0) + "\n")
    empty.write_text("")  # a job linked from the cache
    from_tsv = {"wall": 12.25, "cpu": 11.5, "rss": 300.5, "pss": 250.5}
    assert job_record(tsv, None) == from_tsv
    assert job_record(tsv, log) == from_tsv
    assert job_record(None, log) == job_record(tmp_path / "none.tsv", log) == \
        {"wall": 3.5, "cpu": 2.25, "rss": 64.0, "pss": None}
    assert job_record(None, empty) is None and job_record(None, tmp_path / "missing.log") is None


def test_a_benchmark_without_samples_has_no_memory(tmp_path):
    tsv = tmp_path / "job.tsv"
    tsv.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                   "0.1\t0:00:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n")
    assert job_record(tsv, None) == {"wall": 0.1, "cpu": None, "rss": None, "pss": None}


def test_a_run_folder_has_a_record_per_job_from_either_file(tmp_path):
    benchmarks, logs = tmp_path / "benchmarks", tmp_path / "logs"
    for path in ("holdout/synthvoc", "train_step0/synthvoc_k2_p0.5", "extract_features/linked"):
        (logs / path).parent.mkdir(parents=True, exist_ok=True)
    (benchmarks / "holdout").mkdir(parents=True)
    (benchmarks / "holdout/synthvoc.tsv").write_text(BENCHMARK)
    (logs / "holdout/synthvoc.log").write_text(RESOURCES_LINE.format(wall=1, cpu=1, rss=1))
    (logs / "train_step0/synthvoc_k2_p0.5.log").write_text(RESOURCES_LINE.format(wall=900, cpu=850, rss=2000))
    (logs / "extract_features/linked.log").write_text("")  # linked from the cache: no record
    assert run_records(benchmarks, logs) == {
        "holdout/synthvoc": {"wall": 12.25, "cpu": 11.5, "rss": 300.5, "pss": 250.5},
        "train_step0/synthvoc_k2_p0.5": {"wall": 900.0, "cpu": 850.0, "rss": 2000.0, "pss": None}}


DRY_RUN = """Workflow defines that rule train_step0 is eligible for caching between workflows.
Job stats:
job              count
-------------  -------
train_step0          1
holdout              1
make_table           1
total                3

[Sun Dec  6 15:29:40 2026]
rule holdout:
    input: data/synthvoc/index.csv
    output: data/synthvoc/holdout.txt
    log: logs/holdout/synthvoc.log
    jobid: 5
    benchmark: benchmarks/holdout/synthvoc.tsv
    reason: Forced execution
    wildcards: dataset=synthvoc
    resources: tmpdir=/tmp, runtime=5, mem_mb=1000, mem=1 GB, mem_mib=954
[Sun Dec  6 15:29:40 2026]
rule train_step0:
    input: data/synthvoc/index.csv, data/synthvoc/holdout.txt
    output: checkpoints/synthvoc/k2/seenonly.pt
    log: logs/train_step0/synthvoc_k2_seenonly.log, logs/train_step0/synthvoc_k2_seenonly.err
    jobid: 1
    reason: Forced execution
    wildcards: dataset=synthvoc, seedtag=, K=2, kind=seenonly
    resources: tmpdir=/tmp, runtime=1440, mem_mb=16000, mem=16 GB, mem_mib=15259
[Sun Dec  6 15:29:40 2026]
localrule make_table:
    input: results/synthvoc_k2_zs3.csv
    output: results/table1_synthvoc.md
    jobid: 0
    reason: Forced execution
Reasons:
    (check individual jobs above for details)
This was a dry-run (flag -n). The order of jobs does not reflect the order of execution.
"""


def test_a_dry_run_lists_each_job_with_its_benchmark_and_log():
    assert dry_run_jobs(DRY_RUN) == [
        PlannedJob("holdout", "benchmarks/holdout/synthvoc.tsv", "logs/holdout/synthvoc.log"),
        PlannedJob("train_step0", None, "logs/train_step0/synthvoc_k2_seenonly.log"),  # cached: a log alone
        PlannedJob("make_table", None, None)]
