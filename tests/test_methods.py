"""The method table (zs3core/methods.py) against the schema and the modules that read it."""
import re
from pathlib import Path

import pytest
import yaml

from zs3core import provenance, retrain, tables
from zs3core.methods import BY_NAME, METHODS, evaluated_pattern, figure_pattern, method

REPO = Path(__file__).resolve().parents[1]
# Names a pattern of method names must tell apart: every method, its per-p forms, near misses.
CANDIDATES = [m.name for m in METHODS] + [f"{m.name}_p{p}" for m in METHODS for p in ("25", "cv", "")] + \
    ["zs", "zs3x", "xzs3", "p25", ""]


def test_the_schemas_figure_methods_are_the_tables_figure_methods():
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    pattern = schema["properties"]["figures"]["properties"]["methods"]["items"]["pattern"]
    for name in CANDIDATES:
        assert bool(re.fullmatch(pattern, name)) == bool(re.fullmatch(figure_pattern(), name)), name


def test_each_evaluation_rule_matches_exactly_its_methods():
    for name in CANDIDATES:
        matched = [e for e in ("step0", "retrained", "authors") if re.fullmatch(evaluated_pattern(e), name)]
        base = BY_NAME.get(name.partition("_p")[0])
        digits = name.partition("_p")[2].isdigit()
        expected = [base.evaluation] if base and base.evaluation in ("step0", "retrained", "authors") and (
            name == base.name or (base.per_p and digits)) else []
        assert matched == expected, name


def test_every_method_with_results_has_a_protocol_a_label_and_its_generator_recorded():
    for m in METHODS:
        assert tables.METHOD_LABELS[m.name] == m.label
        if m.evaluation is None:
            continue
        for classifier_protocol in ("strict", "authors"):
            assert provenance.protocol(m.name, classifier_protocol) in provenance.PROTOCOLS
        assert (m.name in provenance.GENERATOR_METHODS) == (m.generator is not None)
        assert (m.name in provenance.CLASSIFIER_METHODS) == (m.retrains_classifier and m.evaluation == "retrained")
    assert set(retrain.METHODS) == {m.name for m in METHODS if m.retrains_classifier}


def test_an_unknown_method_is_refused_not_labelled_strict():
    with pytest.raises(ValueError, match="unknown method 'zs3xyz'"):
        provenance.protocol("zs3xyz", "strict")
    assert method("zs5_p25") is BY_NAME["zs5"]
