"""`snakemake --lint` on the workflow with the default config: its only finding is the suggestion
to give each rule a conda environment or container (the project pins its environment in
pyproject.toml instead)."""
import re
import subprocess
import sys

from conftest import REPO

ACCEPTED = "Specify a conda environment or container for each rule."


def lint_findings(output: str) -> dict[str, list[str]]:
    """{"Lints for <what> (<where>)" header: the titles of its findings ("    * <title>:")}."""
    findings, header = {}, None
    for line in output.splitlines():
        if line.startswith("Lints for "):
            header = line.rstrip(":")
            findings[header] = []
        elif (title := re.match(r"^    \* (.+):$", line)):
            assert header is not None, f"a finding outside any 'Lints for' block: {line!r}"
            findings[header].append(title.group(1))
    return findings


def test_lint_finds_nothing_but_the_conda_suggestion(tmp_path):
    # Snakemake 9's command line prints text whatever format is asked for; --directory keeps its
    # .snakemake/ out of the repository.
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--snakefile", str(REPO / "Snakefile"),
                             "--directory", str(tmp_path), "--configfile", str(REPO / "config.yaml")],
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    findings = lint_findings(output)
    titles = {title for found in findings.values() for title in found}
    assert titles <= {ACCEPTED}, f"lint findings beyond the conda suggestion:\n{output}"
    assert all(findings.values()), f"a 'Lints for' block without a finding the test can read:\n{output}"
    # Exit 1 means lints were printed; then they must be the ones read above (an error is no lint).
    assert result.returncode == 0 and "Congratulations" in output or result.returncode == 1 and findings, output
    rules = {re.match(r"Lints for rule (\w+)", h).group(1) for h in findings if h.startswith("Lints for rule ")}
    assert {"train_step0", "table1", "preflight"} <= rules, "the lint did not read every rule file"


def test_the_parser_reads_every_finding():
    output = ("Lints for rule a (line 4, /x/rules/data.smk):\n"
              f"    * {ACCEPTED}:\n      This way, ...\n\n"
              "Lints for snakefile /x/Snakefile:\n"
              "    * Mixed rules and functions in same snakefile.:\n      Small one-liner ...\n")
    assert lint_findings(output) == {"Lints for rule a (line 4, /x/rules/data.smk)": [ACCEPTED],
                                     "Lints for snakefile /x/Snakefile": ["Mixed rules and functions in same snakefile."]}
