"""Speed benchmarks (pytest-benchmark): ``make bench``.  Not part of ``make test``.

They measure the operations a replicator waits for: parsing the raw files, loading processed
panels, a no-op rerun of the plan (hashing only), and the main estimators on the reference data.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import paths


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(paths.REFERENCE_DIR / "mpdta.csv")


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    wide = pd.read_csv(paths.REFERENCE_DIR / "california_prop99.csv")
    return wide.melt(id_vars="Year", var_name="state", value_name="packs")


def test_parse_eurostat_elet(benchmark):
    from analysis.data import eurostat
    from analysis.data.panels import ELET, _raw

    df = benchmark(eurostat.read_elet, _raw(ELET))
    assert len(df) == 2132


def test_parse_bes_provinces_both_editions(benchmark):
    from analysis.data import istat_bes
    from analysis.data.panels import BES_T, _raw

    df = benchmark.pedantic(istat_bes.read_bes_provinces, args=_raw(BES_T), rounds=2, iterations=1)
    assert len(df) > 500_000


def test_load_processed_panel(benchmark):
    from analysis.data import panels

    panels.load("bes_spliced")
    df = benchmark(panels.load, "bes_spliced")
    assert len(df) > 200_000


def test_noop_plan_rerun_hashing(benchmark):
    """What a cached rerun costs per run: input hashes + source fingerprint + cache key."""
    from analysis.pipeline import runner
    from analysis.pipeline.plan import load_plan

    plan = load_plan()

    def keys():
        src = runner.source_fingerprint()
        return [
            runner.cache_key(
                r,
                r.effective_parameters(quick=False),
                runner.declared_inputs(r, dict(r.parameters)),
                src,
            )
            for r in plan.runs
        ]

    assert len(benchmark(keys)) == len(plan.runs)


def test_callaway_santanna_mpdta(benchmark, mpdta):
    from analysis import did

    res = benchmark(
        did.staggered,
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        control="never",
        method="dr",
    )
    assert res.aggregate("simple").overall.estimate == pytest.approx(-0.0399512752, abs=1e-6)


def test_synthetic_did_prop99(benchmark, prop99):
    from analysis import synth

    res = benchmark.pedantic(
        synth.synthetic_did,
        args=(prop99,),
        kwargs=dict(
            outcome="packs",
            unit="state",
            time="Year",
            treated_unit="California",
            start=1989,
            replications=50,
        ),
        rounds=2,
        iterations=1,
    )
    assert res.att == pytest.approx(-15.60383, abs=0.01)


def test_siinc_payments(benchmark):
    from analysis import siinc

    ag = siinc.load_agreement()
    ex = siinc.illustrative_inputs(ag)
    res = benchmark(siinc.compute_payments, ag, ex.verified_metrics, ex.estimates)
    assert res.totals() is not None
