"""The job log ends with the job's resources, which the cached rules' timings are read from."""
import time

from zs3core.runlog import job_log, read_resources


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
    assert record is not None and 0.2 <= record["cpu"] and 0.2 <= record["wall"] <= elapsed + 0.01
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
