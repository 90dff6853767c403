"""The programme DiD page in Italian, its significance words and its robustness record (#11, #12).

Renders every text of a small simulated run in Italian and checks that no id lacks a
translation; then the #11 rules with crafted numbers: a few-cluster p above alpha makes the
headline "borderline" (never "distinguishable"), the summary box says which checks agree, the
robustness keys exist with their outcomes, and no hand-written significance word is left in
the module.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import pytest

from analysis import i18n, paths, significance
from analysis.reports import programme as pr

ROBUSTNESS_KEYS = {
    "control_group:not_yet_treated",
    "base_period:varying",
    "anticipation:1",
    "covariates:baseline",
    "estimator:ipw_covariates",
    "estimator:reg_covariates",
    "estimator:sun_abraham",
    "estimator:imputation",
    "honest_did:relative_magnitude",
    "honest_did:smoothness",
}


@pytest.fixture(scope="module")
def small() -> pr.ProgrammeAnalysis:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pr.ProgrammeAnalysis.build(
            data="simulated",
            outcome="absence_rate",
            seed=20240901,
            n_schools=12,
            n_pupils=1500,
            bootstrap_reps=19,
            ri_reps=5,
            band_draws=19,
        )


def _texts(a: pr.ProgrammeAnalysis) -> list:
    out: list = [*a.summary_box().values(), a.question(), a.conclusion()]
    out += [a.dose_text(), a.dose_caption(), *[x for x, _ in a.notes()]]
    views = [
        a.sample_flow(),
        a.balance(),
        a.group_time(),
        a.event_study(),
        a.honest(),
        a.triangulation(),
        a.few_clusters(),
        a.robustness_view(),
    ]
    for v in views:
        for f in dataclasses.fields(v):
            x = getattr(v, f.name)
            if isinstance(x, i18n.Msg | i18n.Concat):
                out.append(x)
            elif hasattr(x, "columns"):
                out += [str(c) for c in x.columns]  # headers must all be translated
    return out


def test_texts_and_figures_render_in_italian_without_missing_ids(small):
    import matplotlib.pyplot as plt

    i18n.reset_missing()
    rendered = [i18n.render(x, "it") for x in _texts(small)]
    for view in (small.group_time(), small.event_study(), small.balance()):
        view.figure("it")
    small.dose_figure("it")
    plt.close("all")
    assert not i18n.missing("it"), sorted(i18n.missing("it"))[:10]
    joined = "\n".join(rendered)
    assert not re.search(r"\b(None|nan|inf|True|False)\b", joined)
    assert "[" not in joined.replace("[−", "").replace("[+", "").replace("[0", "")
    box = small.summary_box()
    assert "intervallo di confidenza" in i18n.render(box["answer"], "it")
    assert "SIMULATI" in i18n.render(box["not_this"], "it")


def test_markdown_cells_of_the_notebook_are_translated():
    import json

    nb = json.loads((paths.ROOT / "notebooks" / "03_programme.ipynb").read_text(encoding="utf-8"))
    cells = ["".join(c["source"]).strip() for c in nb["cells"] if c["cell_type"] == "markdown"]
    lacking = [c[:60] for c in cells if not i18n.has_translation(c, "it")]
    assert lacking == []
    numbers = [int(m) for c in cells for m in re.findall(r"^## (\d+)\.", c, flags=re.M)]
    assert numbers == list(range(1, len(numbers) + 1))


def test_few_cluster_p_above_alpha_makes_the_headline_borderline(small):
    # crafted numbers: the interval excludes zero, the wild bootstrap does not agree
    call = significance.classify(
        ci_low=-0.031, ci_high=-0.017, wild_cluster_bootstrap=0.08, randomization_inference=0.01
    )
    assert call.level == "borderline"
    crafted = dataclasses.replace(small, call=call)
    en = i18n.translator("en")
    box = crafted.summary_box()
    answer = en(box["answer"])
    assert "borderline" in answer and "wild cluster bootstrap" in answer
    assert "distinguishable from zero." not in answer.replace("not called distinguishable", "")
    certainty = en(box["certainty"])
    assert "**wild cluster bootstrap:** p = 0.080, does not agree." in certainty
    assert "**randomization inference:** p = 0.010, agrees." in certainty
    assert "few-cluster checks agreed" in en(box["would_change"])
    assert "al limite" in i18n.render(box["answer"], "it")
    conclusion = en(crafted.conclusion())
    assert "It is borderline" in conclusion
    # and when both agree, the words say distinguishable
    ok = significance.classify(
        ci_low=-0.031, ci_high=-0.017, wild_cluster_bootstrap=0.01, randomization_inference=0.02
    )
    assert "statistically distinguishable from zero" in en(
        dataclasses.replace(small, call=ok).summary_box()["answer"]
    )


def test_significance_checks_name_which_checks_agree():
    call = significance.classify(
        ci_low=0.1, ci_high=0.5, wild_cluster_bootstrap=0.2, randomization_inference=float("nan")
    )
    rows = pr.significance_checks(call, clusters=20)
    assert [r[1] for r in rows] == [None, False, None]
    en = i18n.translator("en")
    assert en(rows[0][0]) == "cluster-robust interval (20 schools)"
    assert en(rows[2][2]) == "p undefined"  # never a number for an undefined statistic


def test_robustness_keys_exist_with_their_outcomes(small):
    rob = small.robustness()
    assert set(rob) == ROBUSTNESS_KEYS
    for key, r in rob.items():
        assert "agrees_with_headline" in r
        if key.startswith("honest_did") or not r["run"]:
            continue
        assert {"att", "ci_low", "ci_high", "significance", "unit"} <= set(r)
        assert r["significance"] in significance.LEVELS
        assert r["ci_low"] <= r["att"] <= r["ci_high"]
    hd = rob["honest_did:relative_magnitude"]
    assert hd["run"] and hd["param"] == "Mbar" and hd["benchmark"] == 1.0
    assert hd["breakdown"] is None or hd["breakdown"] >= 0
    # the base period changes only pre-participation cells: same post-period average
    assert rob["base_period:varying"]["att"] == pytest.approx(
        small.main.estimate * small.spec.scale
    )
    out = small.to_dict()
    assert out["significance"] == small.call.to_dict()
    assert out["headline_design"]["base_period"] == "universal"


def test_no_hand_written_significance_call_in_the_module():
    src = (paths.PACKAGE_DIR / "reports" / "programme.py").read_text(encoding="utf-8")
    assert "significant" not in src.lower().replace("significance", "")
    # "distinguishable" only as the level names of analysis.significance, never decided here
    for line in src.splitlines():
        if "distinguishable" in line:
            assert "N_(" in line or "called distinguishable" in line or '"' not in line, line
