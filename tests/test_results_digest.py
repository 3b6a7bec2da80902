"""bench/results_digest.py: a run's CSVs against the recorded digests."""
import hashlib
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("results_digest", REPO / "bench" / "results_digest.py")
results_digest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(results_digest)


def test_write_then_check_names_each_changed_missing_and_new_file(tmp_path, capsys):
    results, expected = tmp_path / "results", tmp_path / "expected.sha256"
    results.mkdir()
    (results / "a.csv").write_text("x\n1\n")
    (results / "b.csv").write_text("x\n2\n")
    (results / "notes.md").write_text("not pinned")
    args = ["--results", str(results), "--expected", str(expected)]
    assert results_digest.main(["write", *args]) == 0
    digest_a = hashlib.sha256(b"x\n1\n").hexdigest()
    assert expected.read_text().splitlines()[0] == f"{digest_a}  results/a.csv"
    assert results_digest.main(["check", *args]) == 0
    (results / "a.csv").write_text("x\n1.0\n")
    (results / "b.csv").unlink()
    (results / "c.csv").write_text("x\n3\n")
    capsys.readouterr()
    assert results_digest.main(["check", *args]) == 1
    out = capsys.readouterr().out
    assert "differ: results/a.csv" in out and "missing: results/b.csv" in out and "new: results/c.csv" in out
