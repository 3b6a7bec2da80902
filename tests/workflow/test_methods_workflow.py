"""The method table (zs3core/methods.py) against the rules: every method it says is built has a
rule that makes its results file, and every table it names a method for reads that file."""
import re

import pytest

from zs3core.methods import BY_NAME, METHODS, split_methods, table_methods

from conftest import run_snakemake

# Every table of the synthetic default datasets, as config.yaml lists them.
TABLES = {"synthvoc": (1, 2, 4), "synthcontext": (3,)}


def planned_outputs(stdout: str) -> set[str]:
    return set(re.findall(r"^\s+output: (.+)$", stdout, flags=re.M))


@pytest.mark.parametrize("dataset", sorted(TABLES))
def test_every_built_method_of_the_table_has_a_rule_making_its_results(workdir, dataset):
    """A dry run of each split method's results file, with each per-p variant: Snakemake finds a
    rule chain for it (a method entry without its evaluation or retrain rule stops here)."""
    methods = [m.name for m in METHODS if m.evaluation in ("step0", "retrained")]
    methods += [f"{m.name}_p25" for m in METHODS if m.per_p and m.evaluation]
    targets = [f"results/{dataset}_k2_{m}.csv" for m in methods]
    result = run_snakemake(workdir, targets, None, "-n", "--forceall")
    planned = planned_outputs(result.stdout)
    for target in targets:
        assert any(target in line.split(", ") for line in planned), target


@pytest.mark.parametrize("dataset", sorted(TABLES))
def test_each_table_reads_the_results_of_the_methods_it_shows(workdir, dataset):
    """The table rules' inputs are the table's per-split methods (and the oracle where it shows
    one), at each split the dataset builds (Table 2: the largest)."""
    result = run_snakemake(workdir, [f"results/table{n}_{dataset}.md" for n in TABLES[dataset]], None,
                           "-n", "--forceall")
    planned = " ".join(planned_outputs(result.stdout))
    for table in TABLES[dataset]:
        for method in split_methods([table]):
            assert f"results/{dataset}_k2_{method}.csv" in planned, (table, method)
    shows_oracle = any("supervised" in table_methods(t) for t in TABLES[dataset])
    assert (f"results/{dataset}_supervised.csv" in planned) == shows_oracle
    absent = {m.name for m in METHODS if m.evaluation in ("step0", "retrained")} - set(split_methods(TABLES[dataset]))
    for method in absent - {"ceiling", "seenonly", "zs3"}:  # claims and curves read these whatever the tables
        assert f"results/{dataset}_k2_{method}.csv" not in planned, method


def test_the_per_split_methods_of_a_table_exclude_the_oracle_and_the_authors_models():
    assert split_methods([1]) == ("baseline", "ale", "zs3", "zs3gan", "seenonly", "ceiling")
    assert split_methods([3]) == ("baseline", "zs3", "zs3gan", "zs3gc", "seenonly", "ceiling")
    assert split_methods([4]) == ("zs5",)
    assert BY_NAME["authorszs3"].paper_method == "zs3" and "authorszs3" in table_methods(1)
