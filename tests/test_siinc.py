"""SIINC payment engine: hand-computed cases, validation of inputs, sensitivity, properties.

Every expected amount is worked out by hand in a comment next to the assertion.
"""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import siinc
from analysis.errors import DataValidationError
from analysis.estimate import Estimate
from analysis.siinc.money import allocate

# The impact estimate the payments read: the agreement names a result of the evaluation
# (analysis.siinc.read_impact_inputs); these tests supply one directly, in the agreement's unit,
# with its significance call (+2.4 pp, 95% CI [0.6, 4.2], distinguishable from zero).
ILLUSTRATIVE_ESTIMATES = {
    "att_course_attendance": SimpleNamespace(
        estimate=2.4,
        ci_low=0.6,
        ci_high=4.2,
        unit="percentage points",
        significance_level="distinguishable",
    )
}

# --------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------


def metric(
    mid: str, rule: dict, *, cap: float | None = None, periods: list[str] | None = None
) -> dict:
    m: dict[str, Any] = {
        "id": mid,
        "definition": f"definition of {mid}",
        "unit": "units",
        "data_source": "test",
        "eligible_cohort": "test cohort",
        "rule": rule,
    }
    if cap is not None:
        m["cap"] = cap
    if periods is not None:
        m["periods"] = periods
    return m


def per_unit(price: float, baseline: str, gates: list[str] | None = None) -> dict:
    r = {"type": "per_unit_above_baseline", "price": price, "baseline": baseline}
    if gates:
        r["gates"] = gates
    return r


def fixed(bid: str, value: Any) -> dict:
    return {"id": bid, "type": "fixed", "value": value}


def agreement(
    metrics: list[dict],
    *,
    periods: tuple[str, ...] = ("P1",),
    total: float = 1e6,
    per_period: Any = None,
    baselines: list[dict] | None = None,
    gates: list[dict] | None = None,
    estimates: list[str] | None = None,
    allocation: str = "pro_rata",
    rounding: str = "half_even",
) -> siinc.Agreement:
    data: dict[str, Any] = {
        "metadata": {
            "status": "ILLUSTRATIVE",
            "title": "test agreement",
            "note": "made-up test parameters",
            "currency": "EUR",
            "allocation": allocation,
            "rounding": rounding,
        },
        "periods": [
            {
                "id": p,
                "start": f"{2020 + i}-01-01",
                "end": f"{2020 + i}-12-31",
                "verification_date": f"{2021 + i}-03-31",
            }
            for i, p in enumerate(periods)
        ],
        "metrics": metrics,
        "baselines": baselines or [],
        "quality_gates": gates or [],
        "estimates": [
            {"id": e, "description": f"estimate {e}", "units": "percentage points"}
            for e in (estimates or [])
        ],
        "caps": {"total": total},
    }
    if per_period is not None:
        data["caps"]["per_period"] = per_period
    return siinc.parse_agreement(data, source="test agreement")


def verified(*rows: tuple[str, str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"metric": m, "period": p, "value": v, "source": "test register"} for m, p, v in rows],
        columns=["metric", "period", "value", "source"],
    )


def est(point: float, lo: float, hi: float, unit: str | None = "pp") -> Estimate:
    return Estimate(
        estimate=point, se=(hi - lo) / 3.92, ci_low=lo, ci_high=hi, p_value=0.05, unit=unit
    )


def cell(res: siinc.PaymentResult, m: str, p: str) -> siinc.PaymentCell:
    return next(c for c in res.cells if c.metric == m and c.period == p)


# --------------------------------------------------------------------------------------
# Hand-computed cases
# --------------------------------------------------------------------------------------


def test_all_outcomes_below_threshold_pay_nothing():
    a = agreement(
        [
            metric("a", per_unit(100, "b_a")),
            metric("band", {"type": "linear_band", "threshold": 5, "target": 9, "amount": 2000}),
            metric("stp", {"type": "step", "target": 3, "bonus": 500}),
        ],
        baselines=[fixed("b_a", 50)],
    )
    # a: Y = 40 < B = 50 -> max(0, -10) = 0; band: Y = 4 < θ = 5 -> clip(-0.25) = 0;
    # step: Y = 2 < τ = 3 -> 0. Total 0.
    res = siinc.compute_payments(a, verified(("a", "P1", 40), ("band", "P1", 4), ("stp", "P1", 2)))
    assert [c.payable_cents for c in res.cells] == [0, 0, 0]
    assert res.total_payable_cents == 0
    assert set(res.table()["cap_applied"]) == {"none"}
    assert res.table().loc[0, "Y_minus_B"] == -10


def test_metric_cap_binds_across_periods():
    a = agreement(
        [metric("a", per_unit(100, "b"), cap=2500)],
        periods=("P1", "P2"),
        baselines=[fixed("b", 10)],
    )
    # P1: 100 × (40 − 10) = 3,000.00 eligible; cap 2,500 - 0 paid -> 2,500.00, cap "metric".
    # P2: 100 × (20 − 10) = 1,000.00 eligible; cap headroom 2,500 − 2,500 = 0 -> 0.00.
    res = siinc.compute_payments(a, verified(("a", "P1", 40), ("a", "P2", 20)))
    c1, c2 = cell(res, "a", "P1"), cell(res, "a", "P2")
    assert (c1.eligible_cents, c1.payable_cents, c1.cap_applied) == (300000, 250000, "metric")
    assert (c2.eligible_cents, c2.payable_cents, c2.cap_applied) == (100000, 0, "metric")
    assert c2.cumulative_paid_cents == 250000 and c2.remaining_headroom_cents == 0
    assert res.total_payable_cents == 250000


def test_period_cap_binds_pro_rata_with_largest_remainder():
    a = agreement(
        [metric("a", per_unit(100.01, "b")), metric("c", per_unit(200, "b"))],
        baselines=[fixed("b", 0)],
        per_period={"P1": 100},
    )
    # Eligible: a = 100.01 × 1 = 10,001 cents; c = 200.00 × 1 = 20,000 cents; sum 30,001.
    # Period cap 10,000 cents. Pro rata: a = 10,000·10,001/30,001 = 3,333.655 -> 3,333;
    # c = 10,000·20,000/30,001 = 6,666.444 -> 6,666; 9,999 allocated, 1 cent left, goes to
    # the larger remainder (a: .655 > c: .444) -> a 3,334, c 6,666; total 10,000.
    res = siinc.compute_payments(a, verified(("a", "P1", 1), ("c", "P1", 1)))
    assert cell(res, "a", "P1").payable_cents == 3334
    assert cell(res, "c", "P1").payable_cents == 6666
    assert cell(res, "a", "P1").cap_applied == "period"
    assert res.periods[0].cap_applied == "period" and res.total_payable_cents == 10000


def test_period_cap_binds_metric_order():
    a = agreement(
        [metric("a", per_unit(100.01, "b")), metric("c", per_unit(200, "b"))],
        baselines=[fixed("b", 0)],
        per_period=100,
        allocation="metric_order",
    )
    # Same claims (10,001 and 20,000 cents), cap 10,000: a is served first -> 10,000; c -> 0.
    res = siinc.compute_payments(a, verified(("a", "P1", 1), ("c", "P1", 1)))
    assert cell(res, "a", "P1").payable_cents == 10000
    assert cell(res, "c", "P1").payable_cents == 0
    assert cell(res, "c", "P1").cap_applied == "period"


def test_total_ceiling_binds_across_periods():
    a = agreement(
        [metric("a", per_unit(100, "b"))],
        periods=("P1", "P2", "P3"),
        baselines=[fixed("b", 0)],
        total=6000,
        per_period=5000,
    )
    # P1: 100 × 40 = 4,000 (period cap 5,000, ceiling room 6,000) -> 4,000.
    # P2: 100 × 40 = 4,000; room under the ceiling 6,000 − 4,000 = 2,000 -> 2,000 ("total").
    # P3: 100 × 10 = 1,000; room 0 -> 0 ("total"). Total 6,000 = the ceiling.
    res = siinc.compute_payments(a, verified(("a", "P1", 40), ("a", "P2", 40), ("a", "P3", 10)))
    assert [p.payable_cents for p in res.periods] == [400000, 200000, 0]
    assert [p.cap_applied for p in res.periods] == ["none", "total", "total"]
    assert cell(res, "a", "P2").cap_applied == "total"
    assert res.total_payable_cents == 600000
    tot = res.totals()
    assert tot.iloc[-1]["period"] == "total" and tot.iloc[-1]["remaining_total_headroom"] == 0


def test_period_and_metric_caps_both_recorded():
    a = agreement(
        [metric("a", per_unit(100, "b"), cap=3000), metric("c", per_unit(100, "b"))],
        baselines=[fixed("b", 0)],
        per_period=2000,
    )
    # a: 100 × 40 = 4,000 -> metric cap 3,000. c: 100 × 10 = 1,000. Claims 3,000 + 1,000 =
    # 4,000 > period cap 2,000: pro rata a = 2,000·3/4 = 1,500, c = 500.
    res = siinc.compute_payments(a, verified(("a", "P1", 40), ("c", "P1", 10)))
    assert cell(res, "a", "P1").payable_cents == 150000
    assert cell(res, "a", "P1").cap_applied == "metric+period"
    assert cell(res, "c", "P1").payable_cents == 50000
    assert cell(res, "c", "P1").cap_applied == "period"


def test_failing_threshold_gate_pays_nothing_and_proportional_gate_scales():
    a = agreement(
        [
            metric("a", per_unit(1000, "b", gates=["g_thr"])),
            metric("c", per_unit(250, "b", gates=["g_prop"])),
            metric("q1", {"type": "none"}),
            metric("q2", {"type": "none"}),
        ],
        baselines=[fixed("b", 33)],
        gates=[
            {"id": "g_thr", "metric": "q1", "type": "threshold", "threshold": 0.6},
            {"id": "g_prop", "metric": "q2", "type": "proportional", "target": 0.8},
        ],
    )
    # a: 1,000 × (38 − 33) = 5,000 × Q, Q = 1{0.55 >= 0.6} = 0 -> 0.
    # c: 250 × (44 − 33) = 2,750 × min(1, 0.74/0.8 = 0.925) = 2,543.75.
    res = siinc.compute_payments(
        a, verified(("a", "P1", 38), ("c", "P1", 44), ("q1", "P1", 0.55), ("q2", "P1", 0.74))
    )
    assert cell(res, "a", "P1").gate == 0 and cell(res, "a", "P1").payable_cents == 0
    assert cell(res, "c", "P1").gate == Decimal("0.925")
    assert cell(res, "c", "P1").payable_cents == 254375
    # Gate passes at exactly the threshold: Q = 1{0.6 >= 0.6} = 1 -> 5,000.
    res2 = siinc.compute_payments(
        a, verified(("a", "P1", 38), ("c", "P1", 44), ("q1", "P1", 0.6), ("q2", "P1", 0.9))
    )
    assert cell(res2, "a", "P1").payable_cents == 500000
    assert cell(res2, "c", "P1").payable_cents == 275000  # Q = min(1, 1.125) = 1


def _impact_agreement(use: str) -> siinc.Agreement:
    return agreement(
        [
            metric(
                "imp",
                {
                    "type": "impact_based",
                    "price": 60,
                    "estimate": "att",
                    "use": use,
                    "n_metric": "n",
                },
                cap=20000,
            ),
            metric("n", {"type": "none"}),
        ],
        estimates=["att"],
    )


def test_negative_estimated_impact_pays_nothing():
    a = _impact_agreement("point")
    # 60 × 176 × max(0, −1.5) = 0.
    res = siinc.compute_payments(a, verified(("n", "P1", 176)), {"att": est(-1.5, -3.0, 0.0)})
    assert cell(res, "imp", "P1").payable_cents == 0
    assert cell(res, "imp", "P1").effect == Decimal("-1.5")


def test_lower_ci_below_zero_pays_nothing_but_point_pays():
    e = {"att": est(1.2, -0.3, 2.7)}
    # use: lower_ci -> 60 × 176 × max(0, −0.3) = 0.
    res = siinc.compute_payments(_impact_agreement("lower_ci"), verified(("n", "P1", 176)), e)
    assert res.total_payable_cents == 0
    # use: point -> 60 × 176 × 1.2 = 12,672.00.
    res = siinc.compute_payments(_impact_agreement("point"), verified(("n", "P1", 176)), e)
    assert res.total_payable_cents == 1267200


def test_impact_based_with_fixed_n_and_metric_cap():
    a = agreement(
        [
            metric(
                "imp",
                {"type": "impact_based", "price": 60, "estimate": "att", "use": "point", "n": 180},
                cap=20000,
            )
        ],
        estimates=["att"],
    )
    # 60 × 180 × 2.4 = 25,920 -> metric cap 20,000.
    res = siinc.compute_payments(a, verified(), {"att": est(2.4, 0.6, 4.2)})
    c = cell(res, "imp", "P1")
    assert (c.eligible_cents, c.payable_cents, c.cap_applied) == (2592000, 2000000, "metric")


def test_counterfactual_baseline_scaled_by_cohort():
    a = agreement(
        [metric("enr", per_unit(300, "cf")), metric("n", {"type": "none"})],
        baselines=[
            {
                "id": "cf",
                "type": "counterfactual",
                "estimate": "rate0",
                "use": "point",
                "scale_metric": "n",
            }
        ],
        estimates=["rate0"],
    )
    e = {"rate0": est(0.85, 0.82, 0.88)}
    # B = 0.85 × 100 = 85; Y = 90 -> 300 × 5 = 1,500.00.
    res = siinc.compute_payments(a, verified(("enr", "P1", 90), ("n", "P1", 100)), e)
    assert cell(res, "enr", "P1").b == Decimal("85.00")
    assert res.total_payable_cents == 150000
    # Conservative counterfactual (upper bound): B = 0.88 × 100 = 88 -> 300 × 2 = 600.00.
    res = siinc.compute_payments(
        a.with_changes(baseline_use="upper_ci"), verified(("enr", "P1", 90), ("n", "P1", 100)), e
    )
    assert res.total_payable_cents == 60000


@pytest.mark.parametrize(("rounding", "expected"), [("half_even", 5000), ("half_up", 5001)])
def test_rounding_rule_at_the_cent(rounding, expected):
    a = agreement(
        [metric("a", per_unit(100.01, "b"))], baselines=[fixed("b", 0)], rounding=rounding
    )
    # 10,001 cents × 0.5 = 5,000.5 cents: half-even -> 5,000; half-up -> 5,001.
    res = siinc.compute_payments(a, verified(("a", "P1", 0.5)))
    assert cell(res, "a", "P1").eligible_exact_cents == Decimal("5000.5")
    assert res.total_payable_cents == expected


def test_float_values_do_not_drift():
    a = agreement([metric("a", per_unit(0.1, "b"))], baselines=[fixed("b", 0)])
    # 10 cents × 0.3 = 3 cents exactly (float 0.1 × 0.3 would be 0.030000000000000002 euro).
    res = siinc.compute_payments(a, verified(("a", "P1", 0.3)))
    assert res.total_payable_cents == 3


def test_allocate_edge_cases():
    assert allocate(0, [5, 5], "pro_rata") == [0, 0]
    assert allocate(10, [5, 5], "pro_rata") == [5, 5]
    # 3 cents over three equal claims of 2: floors 1,1,1 -> no leftover.
    assert allocate(3, [2, 2, 2], "pro_rata") == [1, 1, 1]
    # 2 cents over three equal claims: floors 0; two leftovers to the first two (ties: order).
    assert allocate(2, [1, 1, 1], "pro_rata") == [1, 1, 0]
    with pytest.raises(ValueError):
        allocate(11, [5, 5], "pro_rata")


# --------------------------------------------------------------------------------------
# Input validation: never a silent zero
# --------------------------------------------------------------------------------------


def _simple() -> siinc.Agreement:
    return agreement(
        [metric("a", per_unit(100, "b", gates=["g"])), metric("q", {"type": "none"})],
        periods=("P1", "P2"),
        baselines=[fixed("b", 0)],
        gates=[{"id": "g", "metric": "q", "type": "threshold", "threshold": 0.5}],
    )


def test_missing_verified_metric_is_an_error_not_zero():
    with pytest.raises(DataValidationError) as err:
        siinc.compute_payments(_simple(), verified(("a", "P1", 3), ("q", "P1", 1), ("q", "P2", 1)))
    msg = str(err.value)
    assert "verified_metrics" in msg and "'a'" in msg and "'P2'" in msg
    assert "never read as zero" in msg


def test_missing_gate_metric_is_an_error():
    with pytest.raises(DataValidationError, match="quality gate 'g'"):
        siinc.compute_payments(_simple(), verified(("a", "P1", 3), ("a", "P2", 1), ("q", "P1", 1)))


@pytest.mark.parametrize(
    ("df", "column", "rule"),
    [
        (
            verified(("a", "P1", float("nan")), ("a", "P2", 1), ("q", "P1", 1), ("q", "P2", 1)),
            "value",
            "finite number",
        ),
        (
            verified(("a", "P1", "three"), ("a", "P2", 1), ("q", "P1", 1), ("q", "P2", 1)),
            "value",
            "finite number",
        ),
        (
            verified(
                ("a", "P1", 1), ("a", "P1", 2), ("a", "P2", 1), ("q", "P1", 1), ("q", "P2", 1)
            ),
            "metric, period",
            "one row per",
        ),
        (
            verified(
                ("a", "P1", 1), ("a", "P2", 1), ("q", "P1", 1), ("q", "P2", 1), ("zz", "P1", 1)
            ),
            "metric",
            "unknown metric id",
        ),
        (
            verified(("a", "P1", 1), ("a", "P2", 1), ("q", "P1", 1), ("q", "P9", 1)),
            "period",
            "unknown period id",
        ),
    ],
)
def test_bad_verified_metrics(df, column, rule):
    with pytest.raises(DataValidationError) as err:
        siinc.compute_payments(_simple(), df)
    msg = str(err.value)
    assert f"column {column!r}" in msg and rule in msg


def test_verified_metric_outside_its_periods():
    a = agreement(
        [metric("a", per_unit(100, "b"), periods=["P2"])],
        periods=("P1", "P2"),
        baselines=[fixed("b", 0)],
    )
    with pytest.raises(DataValidationError, match="does not verify this metric"):
        siinc.compute_payments(a, verified(("a", "P1", 1), ("a", "P2", 1)))


def test_verified_metrics_need_source_and_columns():
    df = verified(("a", "P1", 1), ("a", "P2", 1), ("q", "P1", 1), ("q", "P2", 1))
    df.loc[2, "source"] = " "
    with pytest.raises(DataValidationError, match="evidence"):
        siinc.compute_payments(_simple(), df)
    with pytest.raises(DataValidationError, match="required column missing"):
        siinc.compute_payments(_simple(), df.drop(columns="source"))


def test_value_outside_range():
    a = siinc.load_agreement()
    ex = siinc.illustrative_inputs(a)
    df = ex.verified_metrics.copy()
    df.loc[df.metric == "volare_attendance_75", "value"] = 42  # of 41 youths
    with pytest.raises(DataValidationError, match="admissible range"):
        siinc.compute_payments(a, df, ILLUSTRATIVE_ESTIMATES)


def test_missing_or_bad_estimate_is_an_error():
    a = _impact_agreement("lower_ci")
    with pytest.raises(DataValidationError, match="'att' is needed"):
        siinc.compute_payments(a, verified(("n", "P1", 176)), {})
    with pytest.raises(DataValidationError, match="ci_low"):
        siinc.compute_payments(a, verified(("n", "P1", 176)), {"att": est(1.0, float("nan"), 2.0)})


# --------------------------------------------------------------------------------------
# The shipped ILLUSTRATIVE agreement with its example inputs
# --------------------------------------------------------------------------------------


def test_shipped_agreement_computes_example_payments():
    a = siinc.load_agreement()
    ex = siinc.illustrative_inputs(a)
    res = siinc.compute_payments(a, ex.verified_metrics, ILLUSTRATIVE_ESTIMATES)
    got = {(c.metric, c.period): c.payable_cents for c in res.cells}
    assert got == {
        ("volare_attendance_75", "S1"): 640000,  # 400 × (36 − 20) = 6,400.00
        ("volare_enrolled_12m", "S2"): 500000,  # 1,000 × (38 − 33) × 1{0.68 ≥ 0.6} = 5,000
        ("course_attendance_impact", "S2"): 633600,  # 60 × 176 × 0.6 (lower CI) = 6,336.00
        ("course_enrolled_12m", "S3"): 254375,  # 250 × (171 − 160) × 0.74/0.8 = 2,543.75
        ("orgs_active_12m", "S3"): 1500000,  # 20,000 × (8 − 5)/(9 − 5) = 15,000
        ("orgs_external_funding", "S3"): 500000,  # 4 ≥ 3 -> 5,000
    }
    # Periods: S1 6,400; S2 11,336; S3 22,543.75; total 40,279.75 (no cap binds).
    assert [p.payable_cents for p in res.periods] == [640000, 1133600, 2254375]
    assert res.total_payable == Decimal("40279.75")
    t = res.table()
    expected_cols = [
        "metric",
        "period",
        "Y",
        "B",
        "Y_minus_B",
        "gate",
        "price",
        "eligible",
        "cap_applied",
        "payable",
        "cumulative_paid",
        "remaining_headroom",
    ]
    assert all(c in t.columns for c in expected_cols)
    assert t["payable_cents"].sum() == res.totals().iloc[-1]["payable_cents"] == 4027975
    bm = res.by_metric().set_index("metric")
    assert bm.loc["orgs_active_12m", "payable"] == 15000.0
    d = res.to_dict()
    json.dumps(d)
    assert d["status"] == "ILLUSTRATIVE" and "not public" in d["status_line"]
    assert "ILLUSTRATIVE" in res.effect_summary() and "not public" in res.summary()


def test_sensitivity_shows_money_depending_on_modelling_choice():
    a = siinc.load_agreement()
    ex = siinc.illustrative_inputs(a)
    s = siinc.sensitivity(
        a, ex.verified_metrics, ILLUSTRATIVE_ESTIMATES, alternatives=ex.alternatives
    )
    tot = dict(zip(s["scenario"], s["total_payable_cents"], strict=True))
    # Agreement (lower CI): 40,279.75. Point estimate: impact 60 × 176 × 2.4 = 25,344 -> cap
    # 20,000, so 40,279.75 − 6,336 + 20,000 = 53,943.75.
    assert tot["agreement"] == 4027975
    assert tot["estimates: point"] == 5394375
    assert tot["estimates: conservative CI bound"] == 4027975
    assert tot["estimates: optimistic CI bound"] == 5394375  # 4.2 also hits the cap
    # Volare baselines 24 / 35: S1 400 × 12 = 4,800; S2 1,000 × 3 = 3,000:
    # 40,279.75 − 6,400 − 5,000 + 4,800 + 3,000 = 36,679.75.
    assert tot["volare_baselines_earlier"] == 3667975
    # Course baseline 165: 250 × 6 × 0.925 = 1,387.50 -> 40,279.75 − 2,543.75 + 1,387.50.
    assert tot["course_baseline_province"] == 3912350
    # Another estimator's result (e.g. synthetic control): lower bound 0.2 ->
    # 60 × 176 × 0.2 = 2,112.00; 40,279.75 − 6,336 + 2,112 = 36,055.75.
    s2 = siinc.sensitivity(
        a,
        ex.verified_metrics,
        ILLUSTRATIVE_ESTIMATES,
        include_estimate_bounds=False,
        alternatives={
            "other estimator": {
                "estimates": {
                    "att_course_attendance": SimpleNamespace(
                        estimate=1.0,
                        ci_low=0.2,
                        ci_high=1.8,
                        unit="pp",
                        significance_level="distinguishable",
                    )
                }
            }
        },
    )
    assert list(s2["scenario"]) == ["agreement", "other estimator"]
    assert s2["total_payable_cents"].tolist() == [4027975, 3605575]
    row = s.set_index("scenario").loc["estimates: point"]
    assert row["change_vs_agreement"] == pytest.approx(13664.00)
    assert row["payable_course_attendance_impact"] == pytest.approx(20000.0)


def test_sensitivity_rejects_bad_scenarios():
    a = siinc.load_agreement()
    ex = siinc.illustrative_inputs(a)
    with pytest.raises(DataValidationError, match="impact_use"):
        siinc.sensitivity(
            a,
            ex.verified_metrics,
            ILLUSTRATIVE_ESTIMATES,
            alternatives={"x": {"impact_use": "median"}},
        )
    with pytest.raises(DataValidationError, match="unknown baseline id"):
        siinc.sensitivity(
            a,
            ex.verified_metrics,
            ILLUSTRATIVE_ESTIMATES,
            alternatives={"x": {"baselines": {"nope": 3}}},
        )


# --------------------------------------------------------------------------------------
# Properties: never negative, never above a cap, totals = sum of cells (to the cent)
# --------------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=2000, places=2, allow_nan=False, allow_infinity=False)
values = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def cases(draw):
    n_periods = draw(st.integers(1, 3))
    periods = tuple(f"P{i + 1}" for i in range(n_periods))
    n_metrics = draw(st.integers(1, 4))
    metrics, baselines, rows = [], [], []
    for k in range(n_metrics):
        kind = draw(st.sampled_from(["per_unit", "band", "step"]))
        cap = draw(st.one_of(st.none(), money))
        if kind == "per_unit":
            baselines.append(fixed(f"b{k}", str(draw(values))))
            rule = per_unit(str(draw(money)), f"b{k}")
        elif kind == "band":
            lo = draw(st.integers(0, 50))
            rule = {
                "type": "linear_band",
                "threshold": lo,
                "target": lo + draw(st.integers(1, 50)),
                "amount": str(draw(money)),
            }
        else:
            rule = {"type": "step", "target": draw(st.integers(0, 100)), "bonus": str(draw(money))}
        metrics.append(metric(f"m{k}", rule, cap=None if cap is None else str(cap)))
        for p in periods:
            rows.append((f"m{k}", p, str(draw(values))))
    total = draw(money.map(lambda x: x * 3))
    per_period = draw(
        st.one_of(st.none(), st.fixed_dictionaries({p: money.map(str) for p in periods}))
    )
    allocation = draw(st.sampled_from(["pro_rata", "metric_order"]))
    # Caps may not exceed the ceiling (a loader rule): clip them.
    for m in metrics:
        if "cap" in m and Decimal(m["cap"]) > total:
            m["cap"] = str(total)
    if per_period:
        per_period = {p: str(min(Decimal(v), total)) for p, v in per_period.items()}
    a = agreement(
        metrics,
        periods=periods,
        total=str(total),
        per_period=per_period,
        baselines=baselines,
        allocation=allocation,
    )
    return a, verified(*rows)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_payments_never_negative_never_above_caps_and_add_up(case):
    a, df = case
    res = siinc.compute_payments(a, df)
    cum: dict[str, int] = {}
    for c in res.cells:
        assert 0 <= c.payable_cents <= c.after_metric_cap_cents <= c.eligible_cents
        cum[c.metric] = cum.get(c.metric, 0) + c.payable_cents
        assert c.cumulative_paid_cents == cum[c.metric]
    for m in a.metrics:
        if m.cap_cents is not None:
            assert cum.get(m.id, 0) <= m.cap_cents
    for p in res.periods:
        in_p = sum(c.payable_cents for c in res.cells if c.period == p.period)
        assert in_p == p.payable_cents  # totals equal the sum of cells, to the cent
        cap = a.caps.per_period.get(p.period)
        if cap is not None:
            assert p.payable_cents <= cap
        if p.cap_applied == "none":  # nothing cut at period level: cells paid in full
            assert all(
                c.payable_cents == c.after_metric_cap_cents
                for c in res.cells
                if c.period == p.period
            )
    assert res.total_payable_cents <= a.caps.total_cents
    tot = res.totals()
    assert tot.iloc[-1]["payable_cents"] == sum(c.payable_cents for c in res.cells)
    assert res.table()["payable_cents"].sum() == res.total_payable_cents


def test_estimate_in_another_unit_or_without_unit_is_refused():
    """A share where percentage points are declared would silently change a payment (issue 10)."""
    a = siinc.load_agreement()
    ex = siinc.illustrative_inputs(a)
    ok = siinc.compute_payments(a, ex.verified_metrics, ILLUSTRATIVE_ESTIMATES)
    assert ok.total_payable_cents > 0
    as_share = {"att_course_attendance": est(0.024, 0.006, 0.042, unit="share (0-1)")}
    with pytest.raises(DataValidationError, match="differs from the unit the agreement declares"):
        siinc.compute_payments(a, ex.verified_metrics, as_share)
    no_unit = {"att_course_attendance": est(2.4, 0.6, 4.2, unit=None)}
    with pytest.raises(DataValidationError, match="carries no unit"):
        siinc.compute_payments(a, ex.verified_metrics, no_unit)
