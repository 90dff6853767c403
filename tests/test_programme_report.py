"""Report-level tests of the programme pages (notebooks 03_programme and 07_dropout).

The methods behind them are tested where they live (tests/test_did_crosschecks.py for the
unbalanced Callaway-Sant'Anna path, tests/test_did_stacked.py, tests/test_did_dropout.py,
tests/test_diagnostics.py, tests/test_inference.py).  Here: that the analysis objects call
them as the pages say (tables agree with direct calls), privacy-safe tables and figures, the
seed streams, the words and the results JSON.
"""

from __future__ import annotations

import importlib
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis import did, i18n
from analysis._util import to_jsonable
from analysis.data.programme import load_panel
from analysis.data.simulate import programme_panel
from analysis.errors import DataValidationError
from analysis.estimate import Estimate
from analysis.privacy import K_MIN
from analysis.reports import dropout as dr
from analysis.reports import programme as pr
from analysis.seeds import SeedStreams

SMALL = {"bootstrap_reps": 19, "ri_reps": 3}


@pytest.fixture(scope="module")
def sim():
    return programme_panel(seed=3)


@pytest.fixture(scope="module")
def data(sim):
    return pr.ProgrammeData(
        panel=load_panel(sim.data, exclusions="report"), simulated=True, sim=sim, source="test"
    )


@pytest.fixture(scope="module")
def frame(data):
    return pr.analysis_frame(data.panel.data)


@pytest.fixture(scope="module")
def grades(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pr.ProgrammeAnalysis.build(
            data=data, outcome="grade_avg", seed=1, band_draws=99, **SMALL
        )


@pytest.fixture(scope="module")
def drop(data):
    return dr.DropoutAnalysis.build(data, seed=1, covariates=pr.BALANCE_COVARIATES, **SMALL)


# ------------------------------------------------------------------ the DiD page
def test_group_time_table_hides_small_cells_and_bands_are_wider(frame):
    cs = did.staggered(
        frame,
        outcome="absence_rate",
        **pr.COLS,
        cluster="baseline_school",
        allow_unbalanced=True,
    )
    counts = did.treated_cell_counts(frame, outcome="absence_rate", **pr.COLS)
    gt = pr.group_time_table(cs, counts, seed=1)
    merged = gt.merge(counts, on=["cohort", "time"])
    assert len(merged) == len(gt) and (merged["n_treated"] >= K_MIN).all()
    all_cells = cs.group_time().merge(counts, on=["cohort", "time"])
    assert gt.attrs["hidden_cells"] == int((all_cells["n_treated"] < K_MIN).sum()) > 0
    assert len(gt) + gt.attrs["hidden_cells"] == len(cs.att)
    assert gt.attrs["crit_value"] > 1.96
    assert ((gt["cband_high"] - gt["cband_low"]) > (gt["ci_high"] - gt["ci_low"])).all()


def test_analysis_tables_agree_with_direct_method_calls(grades, frame):
    tri = grades.tri
    assert len(tri) == 6  # 2x2, TWFE, CS, CS with covariates, Sun-Abraham, imputation
    direct = did.twfe(
        frame,
        outcome="grade_avg",
        unit="pupil_id",
        time="year",
        treated="treated",
        cluster="baseline_school",
    )
    assert tri.iloc[1]["estimate"] == pytest.approx(direct.estimate, abs=1e-12)
    h = grades.horizon
    assert h == did.effect_horizon(frame, outcome="grade_avg", **pr.COLS, min_units=pr.MIN_CELL)
    assert tri.iloc[2]["estimate"] == pytest.approx(
        grades.cs.aggregate("simple", max_e=h).overall.estimate
    )
    assert grades.main.estimate == tri.iloc[2]["estimate"]
    np.testing.assert_allclose(tri["true_effect"], 0.2, atol=1e-9)  # constant simulated effect
    assert ((tri["estimate"] - 0.2).abs() < 4 * tri["se"]).all()
    few = grades.few
    assert len(few) == 5
    assert few.iloc[1]["se"] == pytest.approx(grades.main.se)
    assert grades.wild_bootstrap.estimate == pytest.approx(tri.iloc[0]["estimate"], abs=1e-12)
    assert few.iloc[3]["estimate"] == tri.iloc[0]["estimate"]
    assert grades.randomization.reps == 3
    assert grades.randomization.statistic == pytest.approx(grades.main.estimate, abs=1e-12)


# ------------------------------------------------------------------ speed and scale (issue 14)
@pytest.mark.parametrize(
    "options",
    [
        {"control": "never", "method": "dr", "allow_unbalanced": True, "max_e": 2},
        {"control": "notyet", "method": "reg", "allow_unbalanced": True, "max_e": np.inf},
        {"control": "never", "method": "reg", "allow_unbalanced": False, "max_e": 1},
    ],
)
def test_simple_att_on_cohorts_is_the_frame_statistic_bit_for_bit(frame, options):
    """Randomization inference's array path gives exactly did.simple_att of the new frame."""
    from analysis.did._inference import SimpleATT
    from analysis.inference import _Reassigner

    cols = ["pupil_id", "year", "cohort", "treated", "participant", "age", "school_id"]
    slim = frame[[*cols, "grade_avg"]]
    if not options["allow_unbalanced"]:  # three years, so that some pupils have all of them
        slim = slim[slim["year"].between(2020, 2022)].reset_index(drop=True)
    stat = SimpleATT(outcome="grade_avg", **pr.COLS, **options)
    prepared = _Reassigner(
        slim,
        **pr.COLS,
        strata="school_id",
        age="age",
        treated="treated",
        participant="participant",
    )
    fast = stat.for_cohorts(slim, codes=prepared.codes, n_units=prepared.n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fast(prepared.observed) == stat(slim)
        rng = np.random.default_rng(2)
        for _ in range(4):
            new = prepared.draw(rng)
            assert fast(new) == stat(prepared.frame(new))
    assert (
        stat.for_cohorts(
            slim.assign(grade_avg=slim["grade_avg"].astype("float32")),
            codes=prepared.codes,
            n_units=prepared.n,
        )
        is None
    )
    with_cov = SimpleATT(outcome="grade_avg", **pr.COLS, covariates=("age",))
    assert with_cov.for_cohorts(slim, codes=prepared.codes, n_units=prepared.n) is None


def test_did2s_sparse_gmm_variance_equals_diff_diffs(monkeypatch, frame):
    """Above the size limit the two-stage GMM variance sums by cluster sparsely: same numbers."""
    es_mod = importlib.import_module("analysis.did.event_study")  # did.event_study: the function

    kw = dict(outcome="grade_avg", **pr.COLS, estimator="did2s", cluster="baseline_school")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setattr(es_mod, "GMM_SPARSE_ABOVE", 10**18)
        ref = did.event_study(frame, **kw)
        monkeypatch.setattr(es_mod, "GMM_SPARSE_ABOVE", 0)
        own = did.event_study(frame, **kw)
    np.testing.assert_array_equal(own.coef, ref.coef)
    np.testing.assert_allclose(own.vcov, ref.vcov, rtol=1e-10, atol=0)
    assert own.overall.se == pytest.approx(ref.overall.se, rel=1e-10)
    from diff_diff import TwoStageDiD
    from diff_diff.two_stage_aggregation import _TwoStageAggregationMixin

    assert _TwoStageAggregationMixin._compute_gmm_variance.__name__ == "_compute_gmm_variance"
    # the fixed-effect design of the sparse path is diff-diff's, entry for entry
    rng = np.random.default_rng(0)
    d = frame.dropna(subset=["grade_avg"])
    untreated = pd.Series(rng.random(len(d)) < 0.8, index=d.index)
    for covariates in (None, ["ses_index"]):
        ref = TwoStageDiD()._build_fe_design(d, "pupil_id", "year", covariates, untreated)[:2]
        got = es_mod._fe_design(d, "pupil_id", "year", covariates, untreated)
        for a, b in zip(ref, got, strict=True):
            assert a.shape == b.shape
            np.testing.assert_array_equal(a.indptr, b.indptr)
            np.testing.assert_array_equal(a.indices, b.indices)
            np.testing.assert_array_equal(a.data, b.data)


def test_page_fits_each_estimator_once_and_reuses_it(monkeypatch, data, grades):
    """No Callaway-Sant'Anna or Sun-Abraham fit of the page is made twice with the same
    options; the reused fits give the numbers a refit gives."""
    calls: list[tuple] = []
    staggered, event_study = did.staggered, did.event_study

    def counted(df, **kw):
        calls.append(("cs", pr._fit_key(kw)))
        return staggered(df, **kw)

    def counted_es(df, **kw):
        calls.append(("es", kw.get("estimator"), kw.get("cluster")))
        return event_study(df, **kw)

    monkeypatch.setattr(did, "staggered", counted)
    monkeypatch.setattr(did, "event_study", counted_es)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = pr.ProgrammeAnalysis.build(
            data=data, outcome="grade_avg", seed=1, band_draws=99, **SMALL
        )
    assert len(calls) == len(set(calls))
    assert [c[1] for c in calls if c[0] == "es"] == ["sun_abraham", "did2s"]
    assert json.dumps(to_jsonable(again.to_dict())) == json.dumps(to_jsonable(grades.to_dict()))
    frame = data.frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit = did.event_study(
            frame,
            outcome="grade_avg",
            **pr.COLS,
            estimator="cs",
            window=grades.window,
            cluster="baseline_school",
            seed=SeedStreams(1).sequence("bands").spawn(4)[1],
            n_boot=99,
            allow_unbalanced=True,
        )
        sa = did.event_study(
            frame,
            outcome="grade_avg",
            **pr.COLS,
            estimator="sun_abraham",
            cluster="baseline_school",
            cband=False,
        )
    assert refit.to_dict() == grades.es_cs.to_dict()
    assert grades.estimates["sun_abraham"] == sa.overall
    robust = {r.key: r.estimate for r in grades.variants}
    assert (
        robust["base_period:varying"]
        == grades.cs_cells.aggregate("simple", max_e=grades.horizon).overall
    )
    assert robust["estimator:reg_covariates"] == grades.estimates["cs_alt"]


def test_analysis_frame_codes_pupils_in_the_order_of_their_ids(data, frame):
    """The frame's pupil codes rank as the ids sort: the same groups and orders as the ids."""
    ids = data.panel.data.sort_values(["pupil_id", "year"], kind="stable")["pupil_id"]
    assert frame["pupil_id"].dtype == np.int64
    np.testing.assert_array_equal(
        frame["pupil_id"].to_numpy(), pd.factorize(ids.to_numpy(), sort=True)[0]
    )
    assert frame["pupil_id"].is_monotonic_increasing
    assert len(data.pupil_ids) >= frame["pupil_id"].nunique()  # the ids stay on the data


def test_event_time_counts_equal_a_count_pupil_by_pupil(frame):
    """The array count of treated pupils per event time = the pupil-by-pupil definition."""
    from analysis.did.event_study import event_time_counts

    for outcome in ("grade_avg", "invalsi_score"):
        obs = frame.loc[frame[outcome].notna() & (frame["cohort"] > 0)]
        seen = set(zip(obs["pupil_id"], obs["year"], strict=True))
        first = obs.drop_duplicates("pupil_id")
        counts = event_time_counts(frame, outcome=outcome, **pr.COLS)
        assert counts and set(counts) == {
            int(t - g) for g in first["cohort"].unique() for t in frame["year"].unique()
        } - {-1}
        for e, n in counts.items():
            assert n == sum(
                (i, g - 1) in seen and (i, g + e) in seen
                for i, g in zip(first["pupil_id"], first["cohort"], strict=True)
            )


def test_random_streams_are_the_runs_and_independent(grades, data):
    streams = SeedStreams(1)
    assert grades.wild_bootstrap.extra["seed"] == streams.seed_for("bootstrap")
    assert grades.randomization.extra["seed"] == streams.seed_for("randomization")
    bands = streams.sequence("bands").spawn(4)
    shown = set(zip(grades.gt["cohort"], grades.gt["time"], strict=True))
    cells = [
        (int(g), int(t)) in shown
        for g, t in zip(grades.cs_cells.cohort, grades.cs_cells.time, strict=True)
    ]
    assert 0 < sum(cells) < len(cells)  # the band covers the shown cells only
    crit = grades.cs_cells.uniform_band(np.array(cells), n_boot=99, seed=bands[0])
    assert grades.gt.attrs["crit_value"] == pytest.approx(crit, rel=1e-12)
    assert grades.cs_cells.uniform_band(np.array(cells), n_boot=99, seed=bands[1]) != crit
    # the simulated panel comes from the "data" stream of the run seed
    loaded = pr.load("simulated", seed=1, n_pupils=400, n_schools=6)
    assert loaded.sim.params["seed"] == SeedStreams(1).seed_for("data")
    assert "'data' stream of run seed 1" in loaded.source


def test_sections_words_and_captions(grades):
    en = i18n.translator("en")
    flow = grades.sample_flow()
    assert flow.table.iloc[-1]["Step"] == "analysis panel" and "Source: test" in en(flow.caption)
    assert list(flow.table.columns)[0] == "Step"
    bal = grades.balance()
    assert list(bal.table.columns)[0] == "Characteristic" and bal.figure("en").axes
    gt = grades.group_time()
    assert gt.pretrend is not None and "Hotelling" in gt.pretrend["Test"].iloc[1]
    assert "99 multiplier-bootstrap draws" in en(gt.caption)
    assert en(gt.estimator_notes).startswith("**Estimator notes.**")
    es = grades.event_study()
    lo, hi = grades.window
    assert f"event times −{-lo} to +{hi}" in en(es.caption)
    hd = grades.honest()
    assert hd.table is not None and hd.kind == "info" and "Mbar" in en(hd.text)
    tri = grades.triangulation()
    assert "True effect (SIMULATED)" in tri.table.columns and tri.bacon is not None
    assert "TWFE gives" in en(tri.bacon_text)
    few = grades.few_clusters()
    assert few.table["p-value"].notna().all() and "run seed 1" in en(few.caption)
    question = en(grades.question())
    assert "**Programme.**" in question and "180 pupils" in question
    assert "**Headline design.**" in question and "config/analysis_plan.yaml" in question
    text = en(grades.conclusion())
    assert text.startswith("**SIMULATED")
    assert "pre-trend test p =" in text and "HonestDiD" in text and "covers" in text
    assert set(grades.headline()) == {  # every number states its unit (issue 11)
        "ATT (grade points)",
        "95% CI low (grade points)",
        "95% CI high (grade points)",
        "true effect, SIMULATED (grade points)",
    }
    import matplotlib.pyplot as plt

    plt.close("all")


def test_results_json_keeps_its_keys(grades):
    out = json.loads(json.dumps(to_jsonable(grades.to_dict())))
    assert set(out) == {
        "data",
        "sample_flow",
        "balance",
        "headline_design",
        "headline_estimate",
        "headline_unit",
        "significance",
        "n_schools",
        "one_school",
        "mde",
        "mde_natural_units",
        "mde_realised",
        "few_clusters",
        "randomization",
        "wild_bootstrap",
        "triangulation",
        "robustness",
        "true_effect",
        "group_time",
        "pretrend",
        "event_study",
        "sun_abraham_event_study",
        "did2s_event_study",
        "honest_did",
        "honest_did_smoothness",
        "bacon",
        "effect_horizon",
        "cs_group",
        "dose_response",
    }
    assert set(out["pretrend"]) == {"table", "p_value", "cells", "min_pupils"}
    assert set(out["bacon"]) == {
        "window",
        "n_pupils",
        "n_participants",
        "table",
        "by_type",
        "twfe",
        "cs",
        "dropped_editions",
        "min_pupils_per_edition",
    }
    # the SIINC dossier reads the design and the significance call from here
    assert out["headline_estimate"]["extra"]["base_period"] == "universal"
    assert out["headline_design"]["plan_key"] == "grade_avg"
    assert out["significance"]["level"] in ("distinguishable", "borderline", "not distinguishable")
    assert {r["inference"].split(" (")[0] for r in out["few_clusters"]} >= {
        "wild cluster bootstrap",
        "randomization inference",
    }


def test_headline_design_comes_from_the_analysis_plan(data):
    d = pr.headline_design_of("absence_rate")
    assert (d.control, d.covariates, d.base_period, d.anticipation) == ("never", (), "universal", 0)
    assert d.prespecified and d.why in pr.DESIGN_WHY
    assert pr.headline_design_of("grade_avg").key == "grade_avg"
    assert not pr.headline_design_of("invalsi_score").prespecified
    with pytest.raises(DataValidationError, match="pre-specified"):
        pr.ProgrammeAnalysis.build(data=data, outcome="grade_avg", seed=1, control="notyet")
    with pytest.raises(DataValidationError, match="pre-specified"):
        pr.headline_design_of("absence_rate", covariates=["ses_index"])


def test_dropout_is_refused_on_the_did_page(data):
    with pytest.raises(DataValidationError, match="07_dropout"):
        pr.ProgrammeAnalysis.build(data=data, outcome="dropped_out", seed=1)
    with pytest.raises(DataValidationError, match="unknown outcome"):
        pr.ProgrammeAnalysis.build(data=data, outcome="happiness", seed=1)


# ------------------------------------------------------------------ the dropout page
def test_dropout_analysis_agrees_with_the_method(drop, data, frame, sim):
    covs = list(pr.BALANCE_COVARIATES)
    design = dr.significance.headline_design("dropped_out")
    head = did.dropout.dropout_effect(
        frame,
        covariates=list(design["covariates"]),
        **pr.COLS,
        age="age",
        cluster="baseline_school",
    )
    adjusted = did.dropout.dropout_effect(
        frame, covariates=covs, **pr.COLS, age="age", cluster="baseline_school"
    )
    # the headline is the pre-specified design; the covariate-adjusted fit is robustness
    assert drop.result.estimate.estimate == pytest.approx(head.estimate.estimate, abs=1e-12)
    assert drop.adjusted.estimate.estimate == pytest.approx(adjusted.estimate.estimate, abs=1e-12)
    assert drop.truth == sim.truth["dropped_out"]
    assert isinstance(data, dr.PupilData)  # ProgrammeData is read through the protocol
    tab = drop.estimates().table
    assert list(tab["Specification"]) == [
        dr.SPECS[k] for k in ("headline", "adjusted", "unadjusted")
    ]
    assert tab["True effect, SIMULATED (pp)"].iloc[0] == pytest.approx(100 * drop.truth)
    assert list(drop.few["inference"]) == ["analytic", "wild", "randomization"]
    assert drop.wild_bootstrap.extra["seed"] == SeedStreams(1).seed_for("bootstrap")


def test_dropout_hazards_and_figure_show_only_large_cells(drop):
    h = drop.hazards()
    assert list(h.table.columns) == [dr.H_GROUP, dr.H_YEARS, dr.H_PUPILS, dr.H_HAZARD]
    assert set(h.table[dr.H_GROUP]) == set(dr.GROUPS.values())
    shown = h.table.copy()
    shown.loc[0, dr.H_PUPILS] = K_MIN - 1  # a cell that show_pupil_table would suppress
    fig = dr.hazard_figure(shown, lang="it")
    n_points = sum(len(line.get_xdata()) for line in fig.axes[0].lines)
    drawable = (shown[dr.H_PUPILS] >= K_MIN) & shown[dr.H_HAZARD].notna()
    assert n_points == int(drawable.sum())
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_dropout_words_and_json(drop):
    q = drop.question().render("en")
    assert "risk set" in q and "selection on observables" in q
    assert "parallel trends" not in q.lower() and "difference-in-differences" not in q
    text = drop.conclusion().render("en")
    assert (
        "SIMULATED" in text and "descriptively" in text and "180 participants in 9 courses" in text
    )
    assert drop.significance().words().render("en") in text
    shown = drop.hazards().table.assign(suppressed=False, suppression="")
    out = json.loads(json.dumps(to_jsonable(drop.to_dict(hazards=shown))))
    assert set(out) == {
        "data",
        "sample_flow",
        "balance",
        "headline_design",
        "headline_estimate",
        "significance",
        "mde",
        "mde_natural_units",
        "mde_realised",
        "few_clusters",
        "randomization",
        "wild_bootstrap",
        "triangulation",
        "true_effect",
        "dropout",
        "adjusted",
        "hazards",
    }
    assert out["significance"]["rule"] == "config/analysis_plan.yaml#significance"
    assert set(out["hazards"][0]) == {"group", "years_since", "pupils", "hazard_pct"}
    assert set(drop.headline()) == {
        "ATT (percentage points)",
        "95% CI low (percentage points)",
        "95% CI high (percentage points)",
        "true effect, SIMULATED (percentage points)",
    }


# ------------------------------------------------------------------ privacy-safe outputs
def _small_counts(df: pd.DataFrame) -> list[str]:
    bad = []
    for c in ("pupils", "pupil_years", "participants", "never_treated"):
        for v in df[c]:
            s = str(v).replace(",", "")
            if re.fullmatch(r"\d+", s) and 1 <= int(s) < K_MIN:
                bad.append(f"{c}={v}")
    return bad


@pytest.mark.parametrize("n_excluded", [3, 12])
def test_sample_flow_suppresses_small_exclusions(sim, n_excluded):
    d = sim.data.drop(columns="treated").copy()
    firsts = d.groupby("pupil_id")["year"].transform("min")
    part_ids = d.loc[(d["cohort"] > 0) & (d["cohort"] > firsts), "pupil_id"].unique()[:n_excluded]
    sel = d["pupil_id"].isin(part_ids)
    d.loc[sel, "cohort"] = firsts[sel]  # participants with no pre-participation year
    d.loc[sel, "course"] = "STEAMcamp x"
    panel = load_panel(d, exclusions="report")
    flow = pr.sample_flow_table(panel).rename(columns={v: k for k, v in pr.FLOW_COLUMNS.items()})
    assert _small_counts(flow) == []
    if n_excluded < K_MIN:
        assert flow.iloc[1]["pupils"] == f"< {K_MIN}"
        assert flow.iloc[0]["pupils"] == "withheld"
    else:
        assert flow.iloc[1:-1]["pupils"].astype(int).sum() == n_excluded
        assert flow.iloc[0]["pupils"] == sim.data["pupil_id"].nunique()


def test_overlap_figure_bars_represent_at_least_k_pupils(grades):
    bal = grades.baseline
    fig = pr.overlap_figure(bal.ps, bal.participant, bins=40)
    n = {1: int(bal.participant.sum()), -1: int((bal.participant == 0).sum())}
    total = {1: 0.0, -1: 0.0}
    for p in fig.axes[0].patches:
        h, w = p.get_height(), p.get_width()
        side = 1 if h > 0 else -1
        pupils = abs(h) * w * n[side]
        assert pupils >= K_MIN - 1e-6
        total[side] += pupils
    assert total[1] == pytest.approx(n[1]) and total[-1] == pytest.approx(n[-1])
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_load_refuses_panels_too_small_to_publish():
    with pytest.raises(DataValidationError, match="at least 10 participants"):
        pr.load("simulated", seed=1, n_schools=2, n_pupils=60)


# ------------------------------------------------------------------ words
def test_conclusion_words_for_a_non_significant_estimate():
    spec = pr.OUTCOMES["repeated_grade"]
    est = Estimate.from_se(-0.01, 0.012)
    text = str(pr.effect_sentence(spec=spec, estimate=est, simulated=True))
    assert "SIMULATED" in text and "not statistically distinguishable" in text
    assert "winner's curse" in str(
        pr.mde_sentence(spec=spec, estimate=est, mde=0.028, mde_realised=0.034)
    )
    assert "covers" in str(pr.truth_sentence(spec=spec, estimate=est, truth=-0.0095))
    assert "does not cover" in str(pr.truth_sentence(spec=spec, estimate=est, truth=0.5))
    few = pd.DataFrame([{"target": "cs", "check": "analytic_cluster", "p_value": 0.0004}])
    assert str(pr.few_cluster_sentence(few)).endswith(
        "Callaway–Sant'Anna ATT, analytic, clustered by school: p < 0.001."
    )


# ------------------------------------------------------------------ one school (issue 10)
def test_one_school_degrades_every_section_with_a_clear_message():
    """A panel with a single school has no cluster-robust inference: every section still
    renders (figures in both languages) and says why the few-cluster checks are missing."""
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = pr.ProgrammeAnalysis.build(
            data="simulated",
            outcome="absence_rate",
            seed=1,
            n_schools=1,
            n_pupils=400,
            bootstrap_reps=19,
            ri_reps=3,
            band_draws=19,
        )
    assert a.one_school and a.cluster is None
    assert a.randomization is None and a.wild_bootstrap is None
    assert a.call.level == "undefined"
    assert list(a.few["check"]) == ["analytic_pupil"]
    en = i18n.translator("en")
    assert any("One school only" in en(text) for text, _ in a.notes())
    few = a.few_clusters()
    assert few.note is not None and "undefined with one school" in en(few.caption)
    for view in (a.group_time(), a.event_study(), a.balance()):
        for lang in ("it", "en"):
            view.figure(lang)
    for lang in ("it", "en"):
        a.dose_figure(lang)
    plt.close("all")
    box = a.summary_box()
    assert "cannot be said" in en(box["answer"])
    assert "more than one school" in en(box["would_change"])
    out = json.loads(json.dumps(to_jsonable(a.to_dict())))
    assert out["one_school"] is True and out["significance"]["level"] == "undefined"
    assert all(r.get("significance") in (None, "undefined") for r in out["robustness"].values())
    assert all(r["agrees_with_headline"] is None for r in out["robustness"].values())
