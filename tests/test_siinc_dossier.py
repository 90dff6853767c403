"""The SIINC verification dossier against hand computation (issue 12).

The impact input is read from a named result of the evaluation (a programme results JSON written
here), converted into the agreement's unit and called by the pre-specified significance rule;
the checks of each period are computed from the record counts; small counts are banded.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from analysis import siinc
from analysis.errors import DataValidationError
from analysis.reports import siinc as sr


def programme_results(
    folder,
    *,
    est=-0.024,
    lo=-0.042,
    hi=-0.006,
    wcb=0.01,
    ri=0.01,
    base_period="universal",
    unit=None,
):
    """A programme run's results JSON as the programme report writes it (the keys read)."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "run_id": "programme_did_absence",
        "parameters": {"control": "never", "covariates": []},
        "quick": False,
        "results": {
            "data": {"simulated": True},
            "headline_estimate": {
                "estimate": est,
                "ci_low": lo,
                "ci_high": hi,
                "unit": unit,
                "method": "Callaway-Sant'Anna (dr, never controls), simple",
                "extra": {"base_period": base_period, "anticipation": 0},
            },
            "few_clusters": [
                {"inference": "wild cluster bootstrap (WCR, 999 draws)", "p_value": wcb},
                {"inference": "randomization inference (499 re-assignments)", "p_value": ri},
            ],
        },
    }
    (folder / "programme_did_absence.json").write_text(json.dumps(payload), encoding="utf-8")
    return folder


def dossier(folder, agreement=None, records=None):
    a = agreement or siinc.load_agreement()
    inp = siinc.illustrative_inputs(a)
    return siinc.assemble(
        a,
        inp.verified_metrics,
        inp.records if records is None else records,
        alternatives=inp.alternatives,
        results_dir=folder,
    )


@pytest.fixture
def results_dir(tmp_path):
    return programme_results(tmp_path / "results")


def test_impact_input_is_the_named_result_converted_by_hand(results_dir):
    d = dossier(results_dir)
    inp = d.impact["att_course_attendance"]
    # attendance pp = −100 × ATT on the absence share; the bounds swap
    assert inp.estimate == pytest.approx(2.4)
    assert (inp.ci_low, inp.ci_high) == (pytest.approx(0.6), pytest.approx(4.2))
    assert inp.raw == {"estimate": -0.024, "ci_low": -0.042, "ci_high": -0.006}
    assert inp.run == "programme_did_absence" and inp.key == "results.headline_estimate"
    assert inp.significance_level == "distinguishable" and inp.design_matches
    assert len(inp.sha256) == 64


def test_amounts_per_period_and_total_against_hand_computation(results_dir):
    d = dossier(results_dir)
    # S1: (36 − 20) × 400 = 6,400
    # S2: (38 − 33) × 1,000 × Q(0.68 ≥ 0.60 → 1) = 5,000; 176 × 0.6 × 60 = 6,336
    # S3: (171 − 160) × 250 × min(1, 0.74 / 0.80) = 2,543.75; 20,000 × (8 − 5)/(9 − 5) =
    #     15,000; bonus 5,000 (4 ≥ 3)
    hand = {"S1": 640000, "S2": 500000 + 633600, "S3": 254375 + 1500000 + 500000}
    assert {p.period: p.payable_cents for p in d.result.periods} == hand
    assert d.result.total_payable_cents == sum(hand.values()) == 4027975
    for period, cents in hand.items():
        table = sr.attestation_amounts_table(d, period)
        assert table.iloc[-1]["Payable (€)"] * 100 == pytest.approx(cents)
        assert table.iloc[:-1]["Payable (€)"].sum() * 100 == pytest.approx(cents)
    saved = {p["period"]: p["payable_cents"] for p in sr.results(d, inputs={})["dossier"]}
    assert saved == hand


def test_a_binding_period_cap_is_shared_pro_rata_to_the_cent(results_dir):
    a = siinc.load_agreement()
    a = replace(a, caps=replace(a.caps, per_period={**a.caps.per_period, "S2": 1000000}))
    d = dossier(results_dir, agreement=a)
    cells = {c.metric: c for c in d.result.cells if c.period == "S2"}
    # 5,000 + 6,336 = 11,336 eligible, cap 10,000: 5,000 × 10,000/11,336 = 4,410.734 and
    # 6,336 × 10,000/11,336 = 5,589.266 -> floors 441,073 + 558,926 = 999,999 cents; the
    # last cent goes to the larger remainder (.6 > .4)
    assert cells["volare_enrolled_12m"].payable_cents == 441073
    assert cells["course_attendance_impact"].payable_cents == 558927
    assert cells["course_attendance_impact"].cap_applied == "period"
    table = sr.attestation_amounts_table(d, "S2")
    assert table.iloc[-1]["Payable (€)"] == pytest.approx(10000.0)


def test_payment_depends_on_the_significance_rule(tmp_path):
    # the wild cluster bootstrap disagrees: borderline, so the impact metric pays nothing
    d = dossier(programme_results(tmp_path / "r", wcb=0.2))
    assert d.impact["att_course_attendance"].significance_level == "borderline"
    cell = next(c for c in d.result.cells if c.metric == "course_attendance_impact")
    assert cell.payable_cents == 0 and cell.significance == "borderline"
    check = next(c for c in d.checks if c.check == "impact_significance")
    assert check.outcome == "failed" and d.status("S2") == "not certifiable"
    assert d.status("S1") == "certifiable"


def test_a_result_off_the_headline_design_fails_its_check(tmp_path):
    d = dossier(programme_results(tmp_path / "r", base_period="varying"))
    check = next(c for c in d.checks if c.check == "impact_design")
    assert check.outcome == "failed" and check.numbers == {"elements": 5, "matching": 4}
    rows = {r["element"]: r for r in d.impact["att_course_attendance"].design}
    assert rows["base_period"] == {
        "element": "base_period",
        "plan": "universal",
        "run": "varying",
        "matches": False,
    }


def test_missing_or_mislabelled_named_result_is_a_clear_error(tmp_path):
    with pytest.raises(DataValidationError, match="run it first"):
        dossier(tmp_path / "empty")
    bad = programme_results(tmp_path / "u", unit="percentage points")
    with pytest.raises(DataValidationError, match="reads it as"):
        dossier(bad)


def _records():
    a = siinc.load_agreement()
    return a, copy.deepcopy(list(siinc.illustrative_inputs(a).records))


def _check(d, name, period, population):
    return next(
        c for c in d.checks if c.check == name and c.period == period and c.population == population
    )


def test_checks_are_computed_from_the_record_counts(results_dir):
    d = dossier(results_dir)
    c = _check(d, "completeness", "S2", "volare_youths")
    assert c.outcome == "passed" and c.numbers["share"] == pytest.approx(40 / 41)  # ≥ 0.95
    c = _check(d, "attrition", "S2", "volare_youths")
    assert c.outcome == "passed" and c.numbers["share"] == pytest.approx(4 / 41)  # ≤ 0.20
    assert _check(d, "attrition", "S1", "volare_youths").outcome == "not applicable"
    c = _check(d, "attrition", "S3", "course_pupils")
    assert c.numbers == {"lost": 13, "expected": 176, "share": pytest.approx(13 / 176)}
    a, recs = _records()
    s2 = next(r for r in recs if r["population"] == "volare_youths" and r["period"] == "S2")
    s2.update(
        records_complete=38,  # 38/41 = 0.927 < 0.95
        followed_up=31,  # 10/41 = 0.244 > 0.20
        counted_eligible=40,  # one counted youth not eligible
        counted_enrolled_after_baseline=1,
        excluded=2,
        exclusions_documented=1,
    )
    bad = dossier(results_dir, records=recs)
    for name in ("completeness", "attrition", "eligibility", "late_enrolment", "exclusions"):
        assert _check(bad, name, "S2", "volare_youths").outcome == "failed", name
    assert bad.status("S2") == "not certifiable" and bad.status("S3") == "certifiable"
    # a metric above the eligible units counted breaks the consistency check
    s1 = next(r for r in recs if r["period"] == "S1")
    s1.update(counted_eligible=30, counted=30)  # 36 youths attended ≥ 75 % but 30 counted
    assert (
        _check(dossier(results_dir, records=recs), "consistency", "S1", "volare_youths").outcome
        == "failed"
    )


def test_record_counts_are_validated():
    a, recs = _records()
    spec = siinc.dossier_spec(a)
    recs[0]["records_complete"] = 50  # more than the 41 expected
    with pytest.raises(DataValidationError, match="must not exceed expected"):
        siinc.validate_records(recs, a, spec)


def test_small_counts_are_banded_on_the_page_and_in_the_results(results_dir):
    assert siinc.shown_count(0, k=10).kind == "exact"
    assert siinc.shown_count(9, k=10).to_dict() == {"shown": "below", "value": 10}
    assert siinc.shown_count(10, k=10).to_dict() == {"shown": "exact", "value": 10}
    d = dossier(results_dir)
    table = sr.verified_table(d).set_index("Metric")
    assert table.loc["orgs_active_12m", "Verified value"] == "< 10"  # 8 of 10 organisations
    assert table.loc["course_enrolled_12m", "Verified value"] == 171
    res = sr.results(d, inputs={})
    orgs = next(r for r in res["verified_metrics"] if r["metric"] == "orgs_active_12m")
    assert orgs["value"] == {"shown": "below", "value": 10}
    pay = next(r for r in res["payments"] if r["metric"] == "orgs_active_12m")
    assert pay["Y"] == "< 10" and pay["Y_minus_B"] is None and pay["units_paid"] is None
    assert pay["payable_cents"] == 1500000  # the amount is still computed from the exact 8
    attr = next(
        c
        for p in res["dossier"]
        for c in p["checks"]
        if c["check"] == "attrition" and c["period"] == "S2"
    )
    assert attr["numbers"]["lost"] == {"shown": "below", "value": 10}  # 4 youths
    assert attr["numbers"]["share"] is None  # 4/41 would give the count back
    json.dumps(res, allow_nan=False)


def test_attestation_names_inputs_version_evaluator_and_signature(results_dir):
    d = dossier(results_dir)
    text = str(sr.attestation_text(d, "S3", inputs={"config/siinc.yaml": "ab" * 32}))
    assert "config/siinc.yaml" in text and "ab" * 32 in text
    assert d.impact["att_course_attendance"].sha256 in text
    assert "0.2-illustrative" in text and "PLACEHOLDER" in text
    assert "Signature of the evaluator" in text and "ILLUSTRATIVE — not a certificate" in text
    assert "Total payable for S3: €22,543.75" in text
