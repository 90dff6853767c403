"""Configuration YAML under attack (issue 10): alias bombs, oversized files, YAML 1.1 coercions.

Every YAML loader of the repository goes through :mod:`analysis.yamlfile`; these tests attack
it directly and through the two loaders that read user-editable configuration (the plan and the
SIINC agreement) and the simulator's calibration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import paths
from analysis.errors import DataValidationError
from analysis.pipeline.plan import load_plan
from analysis.siinc import load_agreement
from analysis.yamlfile import MAX_BYTES, parse_yaml, read_yaml

ALIAS_BOMB = """
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_alias_bomb_is_refused_before_expansion():
    with pytest.raises(DataValidationError, match=r"alias \(\*a\).*not allowed"):
        parse_yaml(ALIAS_BOMB, source="bomb.yaml")


def test_merge_keys_need_aliases_and_are_refused():
    with pytest.raises(DataValidationError, match="alias"):
        parse_yaml("base: &b {x: 1}\nrun: {<<: *b, y: 2}\n", source="merge.yaml")


def test_alias_bomb_in_a_plan_parameter_is_a_plan_error(tmp_path: Path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "lol: &a [1, 1, 1, 1, 1, 1, 1, 1]\n"
        "runs:\n"
        "  - id: context_neet_lecce\n"
        "    notebook: 01_context\n"
        "    title: t\n"
        "    parameters: {indicator: neet, comparison_units: [*a, *a, *a]}\n"
    )
    with pytest.raises(DataValidationError, match="alias") as err:
        load_plan(plan)
    assert "plan.yaml" in str(err.value)


def test_alias_bomb_in_siinc_notes_is_an_agreement_error(tmp_path: Path):
    text = paths.SIINC_FILE.read_text(encoding="utf-8")
    note = '    notes: "Volare Alto STEAM and life-skills cycle"'
    assert note in text
    nested = "[" + ", ".join(["&a [lol, lol, lol, lol]"] + ["*a"] * 8) + "]"
    bombed = tmp_path / "siinc.yaml"
    bombed.write_text(text.replace(note, f"    notes: {nested}", 1))
    with pytest.raises(DataValidationError, match="alias") as err:
        load_agreement(bombed)
    assert "siinc.yaml" in str(err.value)


def test_oversized_file_is_refused_without_parsing(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_BYTES + "\n")
    with pytest.raises(DataValidationError, match="larger than"):
        read_yaml(big)


@pytest.mark.parametrize("word", ["NO", "no", "yes", "Yes", "on", "OFF"])
def test_yaml11_booleans_are_type_errors(word: str):
    with pytest.raises(DataValidationError, match="boolean in YAML 1.1"):
        parse_yaml(f"country: {word}\n", source="t.yaml")
    assert parse_yaml(f'country: "{word}"\n', source="t.yaml") == {"country": word}


def test_only_true_and_false_are_booleans():
    assert parse_yaml("a: true\nb: False\nc: y\n", source="t.yaml") == {
        "a": True,
        "b": False,
        "c": "y",
    }


@pytest.mark.parametrize("value", ["2023-03-06", "2023-02-30", "2001-12-14t21:59:43.10-05:00"])
def test_bare_dates_are_type_errors(value: str):
    with pytest.raises(DataValidationError, match="bare date"):
        parse_yaml(f"start: {value}\n", source="t.yaml")


def test_quoted_dates_are_parsed_and_checked_where_used(tmp_path: Path):
    text = paths.SIINC_FILE.read_text(encoding="utf-8")
    assert '"2023-03-06"' in text  # the shipped agreement quotes its dates
    bad = tmp_path / "siinc.yaml"
    bad.write_text(text.replace('"2023-06-30"', '"2023-02-30"', 1))
    with pytest.raises(DataValidationError, match="date"):
        load_agreement(bad)


def test_shipped_configuration_loads_with_the_strict_loader():
    load_plan()
    load_agreement()
    read_yaml(paths.PROGRAMME_FILE)
    read_yaml(paths.CALIBRATION_FILE)


def _agreement_with(tmp_path: Path, old: str, new: str) -> Path:
    text = paths.SIINC_FILE.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "siinc.yaml"
    p.write_text(text.replace(old, new, 1))
    return p


def test_gate_threshold_outside_its_metric_range_is_refused(tmp_path: Path):
    """A threshold of 60 on a share in [0, 1] would silently pay €0 for ever (issue 10)."""
    bad = _agreement_with(tmp_path, "threshold: 0.60", "threshold: 60")
    with pytest.raises(DataValidationError, match="outside the declared range"):
        load_agreement(bad)


def test_baseline_outside_the_range_of_the_metric_using_it_is_refused(tmp_path: Path):
    bad = _agreement_with(tmp_path, "value: 20 ", "value: 200 ")
    with pytest.raises(DataValidationError, match="outside the declared range"):
        load_agreement(bad)


def test_declared_estimates_must_state_their_unit(tmp_path: Path):
    bad = _agreement_with(tmp_path, '    units: "percentage points"\n', "")
    with pytest.raises(DataValidationError, match="units"):
        load_agreement(bad)
