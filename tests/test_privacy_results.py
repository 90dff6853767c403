"""The page's suppression rules applied to the results JSON and to numerators (issues 10, 11).

``privacy.suppress_results`` walks a results mapping: records carrying a pupil count under k
lose every number but their labels; rates and event counts revealing fewer than k events are
nulled.  ``privacy.suppress_small_numerators`` is the numerator rule for tables, and
``privacy.suppress_balance_shares`` masks shares of 0/1 characteristics that are counts.
End to end: the programme report's results on a simulated panel with a 3-pupil edition.
"""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis._util import to_jsonable
from analysis.data.programme import load_panel
from analysis.data.simulate import programme_panel
from analysis.estimate import Estimate
from analysis.pipeline.publish_check import scan
from analysis.privacy import (
    K_MIN,
    implied_numerators,
    suppress_balance_shares,
    suppress_results,
    suppress_small_numerators,
)


def _payload(n_small: int = 3) -> dict:
    return {
        "run_id": "x",
        "parameters": {"n": 3, "seed": 1},
        "headline": {"ATT": 0.2},
        "results": {
            "overall": Estimate(
                estimate=0.2, se=0.1, ci_low=0.0, ci_high=0.4, p_value=0.05, n_obs=500, n_units=170
            ),
            "by_edition": pd.DataFrame(
                {
                    "cohort": [2021, 2022, 2023, 2024],
                    "att": [0.3, 0.1, 0.2, 0.9],
                    "se": [0.1, 0.1, 0.1, 0.5],
                    "ci_low": [0.1, -0.1, 0.0, -0.1],
                    "ci_high": [0.5, 0.3, 0.4, 1.9],
                    "n_pupils": [65, 54, 48, n_small],
                }
            ),
            "small_fit": Estimate(
                estimate=1.5, se=0.9, ci_low=-0.3, ci_high=3.3, p_value=0.1, n_obs=9, n_units=4
            ),
        },
    }


def test_a_record_of_fewer_than_k_pupils_loses_its_numbers_but_not_its_labels():
    p = _payload()
    before = copy.deepcopy(to_jsonable(p))
    out = suppress_results(p, sections=("headline", "results"))
    rows = out["results"]["by_edition"]
    tiny = rows[3]
    assert tiny["cohort"] == 2024
    assert tiny["suppressed"] == f"fewer than {K_MIN} pupils"
    assert all(tiny[c] is None for c in ("att", "se", "ci_low", "ci_high", "n_pupils"))
    # complementary: the smallest other edition, so the overall ATT does not give it away
    assert rows[2]["att"] is None and rows[2]["suppressed"].startswith("complementary")
    assert rows[0]["att"] == 0.3 and rows[1]["att"] == 0.1
    small = out["results"]["small_fit"]
    assert small["estimate"] is None and small["p_value"] is None and small["n_units"] is None
    assert small["level"] == 0.95  # a label, not a number derived from the pupils
    assert out["results"]["overall"]["estimate"] == 0.2
    # the parameters are outside the walked sections; the input is not modified
    assert out["parameters"] == {"n": 3, "seed": 1}
    assert to_jsonable(p) == before
    # no count under k is left for the publish scanner to find
    assert scan("x", results={**out, "pupil_data": True}) == []
    assert scan("x", results={**to_jsonable(p), "pupil_data": True}) != []


def test_records_of_k_pupils_are_kept_and_k_cannot_be_lowered():
    out = suppress_results(_payload(n_small=K_MIN))
    assert "suppressed" not in json.dumps(out["results"]["by_edition"])
    with pytest.raises(ValueError, match="K_MIN"):
        suppress_results(_payload(), k=5)
    with pytest.raises(ValueError, match="sections"):
        suppress_results(_payload(), sections=("nope",))


def test_numerators_in_results_rates_and_event_counts():
    doc = {
        "hazards": [
            {"group": "participants", "years_since": "0", "pupils": 174, "hazard_pct": 3.448},
            {"group": "participants", "years_since": "1", "pupils": 123, "hazard_pct": 20.0},
        ],
        "dropout": {"n": 100, "dropouts": 4, "rate": 0.04},
        "zero": {"n": 100, "dropouts": 0, "rate": 0.0},
    }
    out = suppress_results(doc)
    assert out["hazards"][0]["hazard_pct"] is None  # 3.448 % of 174 = 6 dropouts
    assert out["hazards"][0]["pupils"] == 174  # the denominator stays
    assert out["hazards"][0]["suppressed"] == f"fewer than {K_MIN} pupils with the event"
    assert out["hazards"][1]["hazard_pct"] == 20.0  # 25 dropouts
    assert out["dropout"] == {
        "n": 100,
        "dropouts": None,
        "rate": None,
        "suppressed": f"fewer than {K_MIN} pupils with the event",
    }
    assert out["zero"] == doc["zero"]  # zeros stay visible (documented limit)


def _hazards() -> pd.DataFrame:
    # the dropout page's table: 1 and 6 participants dropped out
    return pd.DataFrame(
        {
            "group": ["participants"] * 3 + ["never"] * 3,
            "years_since": ["0", "1", "2+"] * 2,
            "pupils": [174, 123, 40, 1227, 936, 299],
            "hazard_pct": [100 * 6 / 174, 100 * 1 / 123, 100 * 12 / 40, 3.0155, 2.6709, 5.0],
        }
    )


def test_rates_whose_implied_numerator_is_small_are_suppressed_with_a_complement():
    t = _hazards()
    assert implied_numerators(t, {"hazard_pct": ("pupils", 100)})["hazard_pct"].round(6).tolist()[
        :3
    ] == [6, 1, 12]
    out = suppress_small_numerators(
        t, rates={"hazard_pct": ("pupils", 100)}, totals_by=[("group",)]
    )
    assert out["numerator_suppression"].tolist()[:3] == ["primary", "primary", "complementary"]
    assert out["hazard_pct"].iloc[:3].isna().all()
    assert out["pupils"].tolist() == t["pupils"].tolist()  # denominators untouched
    assert out["hazard_pct"].iloc[3:].notna().all()
    # no visible rate reveals 1..k-1 events
    left = implied_numerators(out, {"hazard_pct": ("pupils", 100)})["hazard_pct"].dropna()
    assert not ((left > 0.5) & (left < K_MIN - 0.5)).any()


def test_event_count_columns_and_bad_options():
    t = pd.DataFrame({"school": ["a", "b", "c"], "pupils": [40, 50, 60], "dropouts": [0, 3, 20]})
    out = suppress_small_numerators(t, numerators=["dropouts"])
    # 3 is primary; the zero cannot protect it, so the smallest non-zero (20) goes too
    assert out["dropouts"].isna().tolist() == [False, True, True]
    assert out["dropouts"].iloc[0] == 0
    with pytest.raises(ValueError, match="numerators="):
        suppress_small_numerators(t)
    with pytest.raises(ValueError, match="unknown"):
        suppress_small_numerators(t, numerators=["repeaters"])
    with pytest.raises(ValueError, match="unknown"):
        suppress_small_numerators(t, rates={"rate": "pupils"})


def test_balance_shares_that_are_small_counts_are_masked():
    table = pd.DataFrame(
        {
            "covariate": ["ses_index", "female", "foreign_born"],
            "mean_treated": [-0.59, 84 / 174, 5 / 174],
            "mean_control": [0.18, 900 / 1826, 100 / 1826],
            "smd_unweighted": [-0.8, -0.02, -0.13],
            "smd_weighted": [0.1, 0.06, -0.1],
            "variance_ratio": [0.8, 1.0, 0.6],
        }
    )
    out = suppress_balance_shares(table, n_treated=174, n_control=1826)
    assert out.attrs["suppressed_rows"] == [2]
    assert out.loc[2, ["mean_treated", "smd_unweighted", "variance_ratio"]].isna().all()
    assert out.loc[2, "mean_control"] == pytest.approx(100 / 1826)
    assert out.loc[:1].notna().all().all()
    # "all but 3" is a small count too
    out = suppress_balance_shares(
        table.assign(mean_treated=[0.1, 171 / 174, 0.5]), n_treated=174, n_control=1826
    )
    assert out.attrs["suppressed_rows"] == [1]


# ------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def tiny_edition_results():
    """The programme report's results on a simulated panel with a 3-pupil edition (2024)."""
    from analysis.reports import programme as pr

    d = programme_panel(seed=3).data.drop(columns="treated").copy()
    span = d.groupby("pupil_id")["year"].agg(["min", "max"])
    never = d.groupby("pupil_id")["cohort"].max() == 0
    chosen = span[(span["min"] <= 2022) & (span["max"] == 2024) & never].index[:3]
    sel = d["pupil_id"].isin(chosen)
    d.loc[sel, "cohort"] = 2024
    d.loc[sel, "course"] = "STEAMcamp 2024/25"
    data = pr.ProgrammeData(
        panel=load_panel(d, exclusions="report"), simulated=False, sim=None, source="test"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = pr.ProgrammeAnalysis.build(
            data=data, outcome="grade_avg", seed=1, band_draws=19, bootstrap_reps=19, ri_reps=3
        )
    return {"pupil_data": True, "headline": a.headline(), "results": a.to_dict()}


def test_programme_results_hide_the_3_pupil_edition(tiny_edition_results):
    raw = to_jsonable(tiny_edition_results)
    by_ed = {r["cohort"]: r for r in raw["results"]["cs_group"]["table"]}
    assert by_ed[2024]["n_pupils"] == 3 and by_ed[2024]["att"] is not None  # the leak
    out = suppress_results(tiny_edition_results, sections=("headline", "results"))
    by_ed = {r["cohort"]: r for r in out["results"]["cs_group"]["table"]}
    assert by_ed[2024]["att"] is None and by_ed[2024]["se"] is None
    assert by_ed[2024]["ci_low"] is None and by_ed[2024]["ci_high"] is None
    assert by_ed[2024]["suppressed"] == f"fewer than {K_MIN} pupils"
    assert sum(r["att"] is None for r in by_ed.values()) == 2  # plus one complement
    assert out["headline"] == raw["headline"]
    assert scan("programme", results=out) == []
    assert any("cs_group" in f.cell for f in scan("programme", results=raw))
    # the balance table shows no share that is a count of fewer than k pupils
    n_t = 174 + 3
    for row in out["results"]["balance"]["table"]:
        m = row["mean_treated"]
        if m is not None:
            x = m * n_t
            assert not (abs(x - round(x)) < 1e-6 and (0.5 < x < K_MIN - 0.5)), row


def test_dropout_page_hazards_reveal_no_small_numerator():
    from analysis.reports import dropout as dr
    from analysis.reports import programme as pr

    sim = programme_panel(seed=3)
    data = pr.ProgrammeData(
        panel=load_panel(sim.data, exclusions="report"), simulated=True, sim=sim, source="t"
    )
    a = dr.DropoutAnalysis.build(
        data, seed=1, covariates=pr.BALANCE_COVARIATES, bootstrap_reps=19, ri_reps=3
    )
    view = a.hazards()
    h = view.table
    assert list(h.columns) == [dr.H_GROUP, dr.H_YEARS, dr.H_PUPILS, dr.H_HAZARD]
    x = (h[dr.H_HAZARD] * h[dr.H_PUPILS] / 100).dropna()
    assert not ((x > 1e-6) & (x < K_MIN)).any()
    assert h[dr.H_HAZARD].isna().any()  # this panel has few participant dropouts
    assert view.masked == int(h[dr.H_HAZARD].isna().sum())
    assert np.isfinite(h[dr.H_HAZARD]).any()
