"""Small-cell suppression, figure aggregation and the pupil-identifier scanner."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis.errors import DataValidationError  # noqa: E402
from analysis.privacy import (  # noqa: E402
    K_MIN,
    aggregate_for_figure,
    assert_no_pupil_ids,
    find_pupil_ids,
    suppress_small_cells,
)


def test_k_min_is_ten_and_cannot_be_lowered():
    assert K_MIN == 10
    t = pd.DataFrame({"g": ["a", "b"], "n": [12, 30]})
    for k in (9, 5, 0, 9.5, True):
        with pytest.raises(ValueError, match="K_MIN"):
            suppress_small_cells(t, count_col="n", k=k)
        with pytest.raises(ValueError, match="K_MIN"):
            aggregate_for_figure(pd.DataFrame({"g": ["a"], "y": [1.0]}), "g", min_n=k)
    out = suppress_small_cells(t, count_col="n", k=15, totals_by=())
    assert out["n"].isna().tolist() == [True, False]


def test_long_table_primary_and_complementary():
    t = pd.DataFrame(
        {
            "school": ["A", "A", "B", "B", "C"],
            "sex": ["F", "M", "F", "M", "F"],
            "n": [12, 3, 20, 25, 40],
            "mean_absence": [0.10, 0.20, 0.30, 0.40, 0.50],
        }
    )
    out = suppress_small_cells(t, count_col="n", totals_by=[["school"], []])
    assert out["suppression"].tolist() == ["complementary", "primary", "", "", ""]
    assert out["suppressed"].tolist() == [True, True, False, False, False]
    assert out.loc[:1, ["n", "mean_absence"]].isna().all().all()
    assert out.loc[2:, "n"].tolist() == [20, 25, 40]
    assert out["school"].tolist() == t["school"].tolist()  # keys never masked
    assert out.attrs["suppression"]["n_primary"] == 1
    assert out.attrs["suppression"]["n_complementary"] == 1
    pd.testing.assert_frame_equal(t, t.copy())  # input untouched


def test_complement_is_the_smallest_nonzero_cell_of_the_group():
    t = pd.DataFrame({"cell": list("abcde"), "n": [4, 0, 50, 11, 30]})
    out = suppress_small_cells(t, count_col="n")  # grand total is public by default
    assert out["suppression"].tolist() == ["primary", "", "", "complementary", ""]
    # the zero stays visible by default, and is masked on request
    strict = suppress_small_cells(t, count_col="n", suppress_zeros=True)
    assert strict.loc[1, "suppression"] == "primary"


def test_complements_until_masked_cells_reach_k():
    # two small cells (2 + 3 = 5 < 10): their sum would be revealed by the total
    t = pd.DataFrame({"cell": list("abcd"), "n": [2, 3, 40, 15]})
    out = suppress_small_cells(t, count_col="n")
    assert out["suppression"].tolist() == ["primary", "primary", "", "complementary"]


def test_no_complement_needed_when_no_total_is_published():
    t = pd.DataFrame({"cell": list("abc"), "n": [4, 40, 15]})
    out = suppress_small_cells(t, count_col="n", totals_by=())
    assert out["suppression"].tolist() == ["primary", "", ""]


def test_unprotectable_group_is_reported():
    t = pd.DataFrame({"school": ["A", "B", "B"], "sex": ["F", "F", "M"], "n": [4, 20, 30]})
    out = suppress_small_cells(t, count_col="n", totals_by=[["school"]])
    assert out.attrs["suppression"]["unprotected_groups"] == ["['school']=A"]


def test_numeric_keys_must_be_declared():
    t = pd.DataFrame({"year": [2021, 2022], "n": [5, 50], "rate": [0.1, 0.2]})
    safe = suppress_small_cells(t, count_col="n", totals_by=())
    assert safe["year"].isna().tolist() == [True, False]  # undeclared numeric key: masked
    out = suppress_small_cells(t, count_col="n", keys=["year"], totals_by=())
    assert out["year"].tolist() == [2021, 2022]
    assert out["rate"].isna().tolist() == [True, False]


def test_bad_counts_refused():
    with pytest.raises(ValueError, match="non-negative integers"):
        suppress_small_cells(pd.DataFrame({"n": [1.5, 20]}), count_col="n")
    with pytest.raises(ValueError, match="not be missing"):
        suppress_small_cells(pd.DataFrame({"n": [np.nan, 20]}), count_col="n")


def test_wide_crosstab_with_margins():
    ct = pd.DataFrame(
        {"x": [5, 5, 5, 15], "y": [5, 5, 10, 20], "z": [5, 5, 0, 10], "All": [15, 15, 15, 45]},
        index=["a", "b", "c", "All"],
    )
    out = suppress_small_cells(ct)
    expected = pd.DataFrame(
        {
            "x": [np.nan, np.nan, np.nan, 15],
            "y": [np.nan, np.nan, np.nan, 20],
            "z": [np.nan, np.nan, 0, 10],
            "All": [15, 15, 15, 45.0],
        },
        index=["a", "b", "c", "All"],
    )
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)
    assert ("c", "y", "complementary") in out.attrs["suppressed_cells"]
    assert out.attrs["suppression"]["n_primary"] == 7


def test_wide_single_small_cell_gets_row_and_column_complements():
    ct = pd.DataFrame({"x": [30, 20], "y": [40, 3]}, index=["a", "b"])
    out = suppress_small_cells(ct)
    assert out.isna().to_numpy().tolist() == [[True, True], [True, True]]


# ---- figures ------------------------------------------------------------------------------


@pytest.fixture()
def pupils() -> pd.DataFrame:
    rows = []
    for group, n in (("a", 12), ("b", 5), ("c", 6)):
        for i in range(n):
            rows.append({"pupil_id": f"{group}{i:04d}", "school": group, "y": float(i)})
    return pd.DataFrame(rows)


def test_aggregate_merges_small_groups(pupils):
    fa = aggregate_for_figure(pupils, "school", values=["y"])
    d = fa.data
    assert d["school"].tolist() == ["a", "other (merged)"]
    assert d["n"].tolist() == [12, 11]
    pooled = pupils[pupils["school"].isin(["b", "c"])]["y"].mean()
    assert d["y"].tolist() == pytest.approx([5.5, pooled])
    assert fa.record["group"].tolist() == ["school=b", "school=c"]
    assert (fa.record["action"] == "merged").all()
    assert "n" not in fa.record.columns  # the record gives no small counts
    assert "school=b: merged" in fa.summary()


def test_aggregate_drops_when_merged_group_is_still_small(pupils):
    fa = aggregate_for_figure(pupils[pupils["school"] != "c"], "school", values=["y"])
    assert fa.data["school"].tolist() == ["a"]
    assert fa.record["action"].tolist() == ["dropped"]
    fa2 = aggregate_for_figure(pupils, "school", values=["y"], small="drop")
    assert fa2.data["school"].tolist() == ["a"]
    assert fa2.record["action"].tolist() == ["dropped", "dropped"]


def test_aggregate_counts_distinct_pupils_not_rows():
    df = pd.DataFrame(
        {
            "pupil_id": [f"P{i % 4:04d}" for i in range(40)],
            "year": [2021 + i % 3 for i in range(40)],
            "y": np.arange(40.0),
        }
    )
    df["g"] = "all"
    fa = aggregate_for_figure(df, "g", values=["y"])
    assert fa.data.empty and fa.record["action"].tolist() == ["dropped"]


# ---- identifier scanner -------------------------------------------------------------------

IDS = ["P000123", "P000124", "ab.cd/9"]


def test_find_pupil_ids_whole_tokens_with_positions():
    text = "school A\nmean 0.3 for P000123, not P0001234\nids: ab.cd/9 and xab.cd/9\n"
    hits = find_pupil_ids(text, IDS)
    assert [(h.pupil_id, h.line, h.column) for h in hits] == [("P000123", 2, 14), ("ab.cd/9", 3, 6)]
    assert find_pupil_ids("P000125 only", IDS) == []


def test_short_ids_refused():
    with pytest.raises(ValueError, match="shorter than 4"):
        find_pupil_ids("1 2 3", [1, 2, 3])
    assert len(find_pupil_ids("1 2 3", [1, 2], min_len=1)) == 2


def test_assert_no_pupil_ids_on_tables_json_files_and_figures(tmp_path):
    clean = pd.DataFrame({"cohort": [2021], "n": [12]})
    assert_no_pupil_ids(clean, IDS)
    leaky = pd.DataFrame({"n": [12]}, index=pd.Index(["P000124"], name="pupil"))
    with pytest.raises(DataValidationError) as info:
        assert_no_pupil_ids(leaky, IDS, source="table 3")
    msg = str(info.value)
    assert "table 3" in msg and "pupil identifier" in msg
    assert "P000124" not in msg  # the error does not repeat the identifier

    with pytest.raises(DataValidationError):
        assert_no_pupil_ids({"outliers": ["P000123"]}, IDS)
    html = tmp_path / "report.html"
    html.write_text("<td>P000123</td>")
    with pytest.raises(DataValidationError, match="report.html"):
        assert_no_pupil_ids(html, IDS)

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    assert_no_pupil_ids(fig, IDS)
    ax.annotate("P000123", (0.5, 0.5))
    with pytest.raises(DataValidationError):
        assert_no_pupil_ids(fig, IDS, source="figure 2")
    plt.close(fig)


def test_options_that_would_be_ignored_are_refused():
    """Audit of accepted-but-unused options (issue 15): privacy helpers refuse them."""
    import pandas as pd
    import pytest

    from analysis.privacy import aggregate_for_figure, suppress_small_cells

    df = pd.DataFrame(
        {"g": ["a"] * 12 + ["b"] * 12, "pid": [f"P{i:06d}" for i in range(24)], "y": 1.0}
    )
    with pytest.raises(ValueError, match="not in the data"):
        aggregate_for_figure(df, by="g", id_col="pupil_id")  # typo: would count rows
    assert aggregate_for_figure(df, by="g", id_col=None).data["n"].tolist() == [12, 12]
    wide = pd.DataFrame({"x": [12, 3]}, index=["a", "b"])
    with pytest.raises(ValueError, match="long layout"):
        suppress_small_cells(wide, totals_by=[["g"]])
    long = pd.DataFrame({"g": ["a", "b"], "n": [12, 3]})
    with pytest.raises(ValueError, match="wide layout"):
        suppress_small_cells(long, count_col="n", margins=("Totale",))
