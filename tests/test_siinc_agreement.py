"""The SIINC agreement file: the shipped ILLUSTRATIVE config and the loader's validation."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from analysis import paths, siinc
from analysis.errors import DataValidationError

SHIPPED = paths.SIINC_FILE


@pytest.fixture(scope="module")
def shipped_raw() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: dict, name: str = "agreement.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return p


def _load_error(tmp_path: Path, data: dict) -> str:
    p = _write(tmp_path, data)
    with pytest.raises(DataValidationError) as err:
        siinc.load_agreement(p)
    msg = str(err.value)
    assert "agreement.yaml" in msg  # the file is named
    return msg


def _metric_index(raw: dict, metric_id: str) -> int:
    return next(i for i, m in enumerate(raw["metrics"]) if m["id"] == metric_id)


# --------------------------------------------------------------------------------------
# The shipped file
# --------------------------------------------------------------------------------------


def test_shipped_agreement_loads_and_is_labelled_illustrative():
    a = siinc.load_agreement()
    assert a.status == "ILLUSTRATIVE" and a.is_illustrative
    assert "not public" in a.note and "assumption" in a.note.lower()
    assert "not public" in a.status_line()
    assert a.currency == "EUR"
    assert a.caps.total_cents == 6_000_000  # EUR 60,000: well below EUR 450,000
    assert a.caps.total_cents < 450_000 * 100 // 2
    assert a.period_ids == ("S1", "S2", "S3")
    types = {m.rule.type for m in a.metrics}
    assert types == {"per_unit_above_baseline", "linear_band", "step", "impact_based", "none"}
    # Cohorts of the programme appear in the metric definitions.
    text = " ".join(m.eligible_cohort for m in a.metrics)
    assert "41 youths" in text and "10 organisations" in text and "9 STEAM courses" in text
    assert "ILLUSTRATIVE" in a.summary()
    assert len(a.tidy()) == len(a.metrics) and len(a.calendar()) == 3


def test_every_number_in_the_shipped_file_is_marked_as_an_assumption():
    # Every price, cap, baseline value, gate level, band limit, bonus and period cap line in
    # the agreement part of the file (before the illustrative example) says ASSUMPTION.
    text = SHIPPED.read_text(encoding="utf-8").split("illustrative_example:")[0]
    keys = (
        "price:",
        "cap:",
        "value:",
        "threshold:",
        "target:",
        "amount:",
        "bonus:",
        "total:",
        "S1:",
        "S2:",
        "S3:",
    )
    lines = [
        ln
        for ln in text.splitlines()
        if ln.strip().startswith(keys) and re.search(r":\s*[0-9]", ln)
    ]
    assert len(lines) >= 20
    unmarked = [ln for ln in lines if "ASSUMPTION" not in ln]
    assert not unmarked, unmarked


def test_agreement_to_dict_is_json():
    import json

    d = siinc.load_agreement().to_dict()
    s = json.dumps(d)
    assert "ILLUSTRATIVE" in s


def test_shipped_file_round_trips_through_the_loader(tmp_path, shipped_raw):
    a = siinc.load_agreement(_write(tmp_path, shipped_raw))
    assert [m.id for m in a.metrics] == [m["id"] for m in shipped_raw["metrics"]]


# --------------------------------------------------------------------------------------
# Validation: each error names the file, the key path and the rule broken
# --------------------------------------------------------------------------------------


def test_unknown_rule(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["metrics"][0]["rule"]["type"] = "per_unit"
    msg = _load_error(tmp_path, raw)
    assert "metrics[0].rule.type" in msg and "unknown rule 'per_unit'" in msg


def test_missing_price(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    i = _metric_index(raw, "volare_enrolled_12m")
    assert i == 2
    del raw["metrics"][i]["rule"]["price"]
    msg = _load_error(tmp_path, raw)
    assert "metrics[2].rule.price" in msg and "required key missing" in msg


def test_negative_cap(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["metrics"][0]["cap"] = -100
    msg = _load_error(tmp_path, raw)
    assert "metrics[0].cap" in msg and "must not be negative" in msg


def test_negative_total_and_period_cap(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["caps"]["total"] = -1
    raw["caps"]["per_period"]["S2"] = -5
    msg = _load_error(tmp_path, raw)
    assert "caps.total" in msg and "caps.per_period.S2" in msg


def test_period_ids_not_unique(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["periods"][2]["id"] = "S2"
    msg = _load_error(tmp_path, raw)
    assert "periods[2].id" in msg and "unique" in msg


def test_unknown_baseline(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["metrics"][0]["rule"]["baseline"] = "no_such_baseline"
    msg = _load_error(tmp_path, raw)
    assert "metrics[0].rule.baseline" in msg and "unknown baseline 'no_such_baseline'" in msg


def test_unknown_estimate(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    i = _metric_index(raw, "course_attendance_impact")
    raw["metrics"][i]["rule"]["estimate"] = "att_typo"
    msg = _load_error(tmp_path, raw)
    assert f"metrics[{i}].rule.estimate" in msg and "unknown estimate 'att_typo'" in msg


@pytest.mark.parametrize(
    ("mutate", "path", "rule"),
    [
        (
            lambda r: r["metrics"][0]["rule"].__setitem__("price", "four hundred"),
            "metrics[0].rule.price",
            "finite amount",
        ),
        (
            lambda r: r["metrics"][0]["rule"].__setitem__("price", 400.005),
            "metrics[0].rule.price",
            "fractions of a cent",
        ),
        (
            lambda r: r["metrics"][0].__setitem__("periods", "S1"),
            "metrics[0].periods",
            "list of period ids",
        ),
        (
            lambda r: r["metrics"][0].__setitem__("periods", ["S9"]),
            "metrics[0].periods",
            "unknown period id 'S9'",
        ),
        (
            lambda r: r["periods"][0].__setitem__("end", "30/06/2023"),
            "periods[0].end",
            "date YYYY-MM-DD",
        ),
        (
            lambda r: r["periods"].__setitem__(1, {**r["periods"][1], "start": "2023-06-01"}),
            "periods[1].start",
            "calendar order",
        ),
        (
            lambda r: r["metrics"][0]["rule"].__setitem__("prize", 1),
            "metrics[0].rule.prize",
            "unknown key",
        ),
        (
            lambda r: r["metadata"].__setitem__("status", "FINAL"),
            "metadata.status",
            "ILLUSTRATIVE, DRAFT, SIGNED",
        ),
        (lambda r: r["metadata"].__setitem__("currency", "USD"), "metadata.currency", "EUR"),
        (lambda r: r["metadata"].pop("note"), "metadata.note", "not public"),
        (
            lambda r: r["metadata"].__setitem__("status", "SIGNED"),
            "metadata.source_document",
            "signed document",
        ),
        (
            lambda r: r["quality_gates"][0].__setitem__("metric", "nope"),
            "quality_gates[0].metric",
            "unknown metric 'nope'",
        ),
        (
            lambda r: r["quality_gates"][1].__setitem__("type", "soft"),
            "quality_gates[1].type",
            "unknown quality-gate type",
        ),
        (
            lambda r: r["quality_gates"][1].__setitem__("target", 0),
            "quality_gates[1].target",
            "must be > 0",
        ),
        (lambda r: r["baselines"][0].pop("source"), "baselines[0].source", "required key missing"),
        (
            lambda r: r["baselines"][0].__setitem__("value", {"S2": 20}),
            "baselines[0]",
            "no value for period(s) S1",
        ),
        (
            lambda r: r["metrics"][0].__setitem__("cap", 70000),
            "metrics[0].cap",
            "exceeds the total ceiling",
        ),
        (lambda r: r["metrics"][0].__setitem__("range", [41, 0]), "metrics[0].range", "above max"),
        (lambda r: r.__setitem__("metrics", "all of them"), "metrics", "must be a list"),
        (lambda r: r.pop("caps"), "caps", "required key missing"),
    ],
)
def test_schema_violations_name_path_and_rule(tmp_path, shipped_raw, mutate, path, rule):
    raw = copy.deepcopy(shipped_raw)
    mutate(raw)
    msg = _load_error(tmp_path, raw)
    assert path in msg, msg
    assert rule in msg, msg


def test_linear_band_needs_amount_or_cap(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    i = _metric_index(raw, "orgs_active_12m")
    del raw["metrics"][i]["rule"]["amount"]
    del raw["metrics"][i]["cap"]
    msg = _load_error(tmp_path, raw)
    assert f"metrics[{i}].rule.amount" in msg


def test_gate_metric_must_be_verified_where_used(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    i = _metric_index(raw, "volare_completion_rate")
    raw["metrics"][i]["periods"] = ["S1"]  # but the gated metric is paid in S2
    msg = _load_error(tmp_path, raw)
    assert "quality_gates[0].metric" in msg and "not verified in period(s) S2" in msg


def test_all_violations_are_reported_together(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["metrics"][0]["cap"] = -1
    raw["metrics"][1]["unit"] = ""
    raw["periods"][2]["id"] = "S1"
    with pytest.raises(DataValidationError) as err:
        siinc.load_agreement(_write(tmp_path, raw))
    assert len(err.value.violations) >= 3


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(DataValidationError, match="file not found"):
        siinc.load_agreement(tmp_path / "absent.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("metadata: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="not valid YAML"):
        siinc.load_agreement(p)
