"""Property-based tests of the SIINC loaders: the agreement and the verified metrics.

Agreement (:func:`analysis.siinc.load_agreement` / :func:`~analysis.siinc.parse_agreement`):
each example starts from ``config/siinc.yaml`` (ILLUSTRATIVE parameters) and applies one
mutation.

* **known-bad, mapping level** (parse_agreement): a field of the wrong type, empty, NaN/inf,
  negative or with fractions of a cent, beyond ±1e15, not one of its choices; a required key
  deleted; an unknown key; a duplicate id; a reference to an unknown baseline/gate/estimate/
  metric/period; periods out of calendar order or ending before they start; caps above the
  ceiling; a band without width; no paid metric; SIGNED without a source ...
* **known-bad, file level** (load_agreement): a repeated key, broken YAML syntax, tabs, an
  impossible date, a wrong encoding, an empty file.
* **random corruption** of the file (bytes, truncation, any key deleted): an error, or an
  accepted agreement counted as identical or different (a corrupted digit or word in a valid
  agreement cannot be told from an intended one).
* **valid shuffles** (order of keys, baselines, gates, estimates) give the same agreement and
  the same payments.

Verified metrics (:func:`~analysis.siinc.compute_payments`, which validates them with
:func:`~analysis.siinc.validate_verified_metrics` and the estimates with
:func:`~analysis.siinc.validate_estimates`): the illustrative table with one mutation (row
missing or duplicated, value NaN/inf/text/out of range, unknown or undeclared metric/period,
empty evidence, missing/duplicated column, not a table, malformed estimate) must be an error;
the same table shuffled, with an extra column or with the numbers written in another type,
must give the same payments.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from analysis import paths, siinc
from fuzzing import (
    ERROR,
    SAME,
    VALID_SAME,
    byte_corruption,
    encodings_of,
    expect_error,
    fuzz_settings,
    fuzz_summary,  # noqa: F401  (session fixture: prints the counts)
    outcome_of,
    permutation,
    record,
)


# The impact estimate the payments read: the agreement names a result of the evaluation
# (analysis.siinc.read_impact_inputs); these tests supply one directly, in the agreement's unit,
# with its significance call (+2.4 pp, 95% CI [0.6, 4.2], distinguishable from zero).
@dataclasses.dataclass(frozen=True)
class _Estimate:
    estimate: Any
    ci_low: Any
    ci_high: Any
    unit: str
    significance_level: str


ILLUSTRATIVE_ESTIMATES = {
    "att_course_attendance": _Estimate(
        estimate=2.4,
        ci_low=0.6,
        ci_high=4.2,
        unit="percentage points",
        significance_level="distinguishable",
    )
}

AGREEMENT = "siinc agreement"
VERIFIED = "siinc verified metrics + estimates"
SHIPPED = paths.SIINC_FILE
DIFFERENT = "accepted: different content (a valid agreement)"
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shipped():
    """The shipped agreement, its illustrative inputs and the payments they give."""
    a = siinc.load_agreement(SHIPPED)
    inputs = siinc.illustrative_inputs(a)
    return a, inputs, siinc.compute_payments(a, inputs.verified_metrics, ILLUSTRATIVE_ESTIMATES)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_siinc")


def _dump(data: Any) -> bytes:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True).encode()


def _get(obj: Any, path: tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


def _set(obj: Any, path: tuple, value: Any) -> None:
    _get(obj, path[:-1])[path[-1]] = value


def _delete(obj: Any, path: tuple) -> None:
    del _get(obj, path[:-1])[path[-1]]


# ============================================================================================
# Agreement: mapping-level known-bad mutations
# ============================================================================================

BAD = {
    "choice": ["FINAL", "illustrative", "eur", "pro-rata", "halfeven", "", 5, ["EUR"]],
    "text": [5, "", "   ", ["a"], {"a": 1}, True],
    "ident": ["has space", "", 5, ["x"], "tab\tid", True],
    "date": ["30/06/2023", "2023-13-01", 20230630, "yesterday", ["2023-01-01"], "", True],
    "number": [
        "abc",
        [1],
        {"a": 1},
        True,
        math.nan,
        math.inf,
        -math.inf,
        "1e999999999",
        1e16,
        "1,5",
    ],
    "money": [
        "abc",
        [1],
        {"a": 1},
        True,
        math.nan,
        math.inf,
        "1e999999999",
        1e16,
        -1,
        -0.01,
        400.005,
        0.001,
        "1,5",
    ],
    "mapping": ["per_unit", [1], 5, {}],
    "periods": ["S1", [], ["S9"], ["S1", "S1"], [1], {"S1": 1}],
    "range": [[10, 1], [1], "0-41", [0, "x"], [0, 1, 2], {"min": 0}],
    "gates": [[5], {"a": 1}, 5, ["nope"]],
    "bool": ["yes", 1, 0, "true", ["x"], None],
}


def _fields(raw: dict) -> list[tuple[tuple, str]]:
    """Every validated field of the agreement with its kind."""
    f: list[tuple[tuple, str]] = [
        (("metadata", "status"), "choice"),
        (("metadata", "title"), "text"),
        (("metadata", "note"), "text"),
        (("metadata", "currency"), "choice"),
        (("metadata", "rounding"), "choice"),
        (("metadata", "allocation"), "choice"),
        (("caps", "total"), "money"),
        *((("caps", "per_period", t), "money") for t in raw["caps"]["per_period"]),
    ]
    for i, _ in enumerate(raw["periods"]):
        f += [(("periods", i, "id"), "ident")]
        f += [(("periods", i, k), "date") for k in ("start", "end", "verification_date")]
    for i, _ in enumerate(raw["estimates"]):
        f += [(("estimates", i, "id"), "ident"), (("estimates", i, "description"), "text")]
    for i, _ in enumerate(raw["baselines"]):
        f += [
            (("baselines", i, k), kind)
            for k, kind in (
                ("id", "ident"),
                ("type", "choice"),
                ("value", "number"),
                ("source", "text"),
            )
        ]
    for i, g in enumerate(raw["quality_gates"]):
        level = "threshold" if g["type"] == "threshold" else "target"
        f += [
            (("quality_gates", i, k), kind)
            for k, kind in (
                ("id", "ident"),
                ("metric", "ident"),
                ("type", "choice"),
                (level, "number"),
            )
        ]
    rule_kind = {
        "price": "money",
        "amount": "money",
        "bonus": "money",
        "threshold": "number",
        "target": "number",
        "n": "number",
        "baseline": "ident",
        "estimate": "ident",
        "n_metric": "ident",
        "use": "choice",
        "gates": "gates",
        "type": "choice",
        "require_significance": "bool",
    }
    for i, m in enumerate(raw["metrics"]):
        p = ("metrics", i)
        f += [
            (p + ("id",), "ident"),
            (p + ("rule",), "mapping"),
            (p + ("cap",), "money"),
            (p + ("periods",), "periods"),
            (p + ("range",), "range"),
        ]
        f += [(p + (k,), "text") for k in ("definition", "unit", "data_source", "eligible_cohort")]
        f += [(p + ("rule", k), rule_kind[k]) for k in m["rule"]]
    return f


def _required(raw: dict) -> list[tuple]:
    """Keys whose deletion must be an error."""
    req: list[tuple] = [
        (k,)
        for k in (
            "metadata",
            "periods",
            "metrics",
            "caps",
            "baselines",
            "quality_gates",
            "estimates",
        )
    ]
    req += [("metadata", k) for k in ("status", "title", "currency", "note")]
    req += [("caps", "total")]
    for i, _ in enumerate(raw["periods"]):
        req += [("periods", i, k) for k in ("id", "start", "end", "verification_date")]
    req += [("estimates", 0, "id"), ("estimates", 0, "description")]
    for i, b in enumerate(raw["baselines"]):
        req += [("baselines", i, k) for k in ("id", "type", "value")]
        if b["type"] == "historical":
            req.append(("baselines", i, "source"))
    for i, g in enumerate(raw["quality_gates"]):
        level = "threshold" if g["type"] == "threshold" else "target"
        req += [("quality_gates", i, k) for k in ("id", "metric", "type", level)]
    needs = {
        "per_unit_above_baseline": ("type", "price", "baseline"),
        "linear_band": ("type", "threshold", "target"),
        "step": ("type", "target", "bonus"),
        "impact_based": ("type", "price", "estimate", "use", "n_metric"),
        "none": ("type",),
    }
    for i, m in enumerate(raw["metrics"]):
        req += [
            ("metrics", i, k)
            for k in ("id", "definition", "unit", "data_source", "eligible_cohort", "rule")
        ]
        req += [("metrics", i, "rule", k) for k in needs[m["rule"]["type"]]]
    return req


def _index(raw: dict, section: str, key: str, value: Any) -> int:
    return next(i for i, x in enumerate(raw[section]) if x[key] == value)


STRUCTURAL = [
    "delete_required",
    "unknown_key",
    "duplicate_id",
    "swap_periods",
    "date_order",
    "cap_above_total",
    "band_no_width",
    "gate_target_nonpositive",
    "empty_list",
    "no_paid_metric",
    "signed",
    "top_level",
    "impact_n_both",
    "none_with_gates",
    "band_without_amount_or_cap",
    "gate_metric_not_verified",
    "unknown_reference",
]


def _agreement_known_bad(draw: st.DrawFn, raw: dict) -> tuple[str, Any]:
    data = copy.deepcopy(raw)
    if draw(st.integers(0, 2), label="field or structure") > 0:  # 2/3: a field's value
        path, kind = draw(st.sampled_from(_fields(raw)), label="field")
        _set(data, path, draw(st.sampled_from(BAD[kind]), label="value"))
        return f"field:{kind}", data
    kind = draw(st.sampled_from(STRUCTURAL), label="structure")
    if kind == "delete_required":
        _delete(data, draw(st.sampled_from(_required(raw))))
    elif kind == "unknown_key":
        where = draw(
            st.sampled_from(
                [
                    (),
                    ("metadata",),
                    ("caps",),
                    *(("periods", i) for i in range(3)),
                    ("estimates", 0),
                    *(("baselines", i) for i in range(len(raw["baselines"]))),
                    *(("quality_gates", i) for i in range(len(raw["quality_gates"]))),
                    *(("metrics", i) for i in range(len(raw["metrics"]))),
                    *(("metrics", i, "rule") for i in range(len(raw["metrics"]))),
                ]
            )
        )
        key = draw(
            st.sampled_from(
                ["prize", "notez", "Cap", "rule_type", "extra", "Status", "baseline_id"]
            )
        )
        _get(data, where)[key] = 1
    elif kind == "duplicate_id":
        section = draw(
            st.sampled_from(["periods", "metrics", "baselines", "quality_gates", "estimates"])
        )
        items = data[section]
        if len(items) < 2:
            items.append(copy.deepcopy(items[0]))
        else:
            i, j = draw(
                st.lists(st.integers(0, len(items) - 1), min_size=2, max_size=2, unique=True)
            )
            items[j]["id"] = items[i]["id"]
    elif kind == "swap_periods":
        i, j = draw(st.lists(st.integers(0, 2), min_size=2, max_size=2, unique=True))
        data["periods"][i], data["periods"][j] = data["periods"][j], data["periods"][i]
    elif kind == "date_order":
        i = draw(st.integers(0, 2))
        p = data["periods"][i]
        how = draw(st.sampled_from(["end_before_start", "verified_before_end", "overlap"]))
        if how == "end_before_start":
            start = dt.date.fromisoformat(p["start"])  # dates are quoted YYYY-MM-DD text
            p["end"] = (start - dt.timedelta(days=draw(st.integers(1, 400)))).isoformat()
        elif how == "verified_before_end":
            end = dt.date.fromisoformat(p["end"])
            p["verification_date"] = (
                end - dt.timedelta(days=draw(st.integers(1, 400)))
            ).isoformat()
        else:
            k = max(i, 1)
            data["periods"][k]["start"] = data["periods"][k - 1]["end"]
    elif kind == "cap_above_total":
        extra = draw(st.sampled_from([0.01, 1, 1e6]))
        if draw(st.booleans()):
            data["metrics"][draw(st.integers(0, 8))]["cap"] = raw["caps"]["total"] + extra
        else:
            data["caps"]["per_period"][draw(st.sampled_from(["S1", "S2", "S3"]))] = (
                raw["caps"]["total"] + extra
            )
    elif kind == "band_no_width":
        rule = data["metrics"][_index(raw, "metrics", "id", "orgs_active_12m")]["rule"]
        rule["target"] = rule["threshold"]
    elif kind == "gate_target_nonpositive":
        g = data["quality_gates"][_index(raw, "quality_gates", "type", "proportional")]
        g["target"] = draw(st.sampled_from([0, -0.5, -1]))
    elif kind == "empty_list":
        data[draw(st.sampled_from(["periods", "metrics"]))] = []
    elif kind == "no_paid_metric":
        for m in data["metrics"]:
            m["rule"] = {"type": "none"}
    elif kind == "signed":
        data["metadata"]["status"] = "SIGNED"
        if draw(st.booleans()):  # a source document, but still the illustrative example
            data["metadata"]["source_document"] = "Accordo SIINC firmato, prot. 123"
    elif kind == "top_level":
        data = draw(st.sampled_from([[], "agreement", 5, None, [raw]]))
    elif kind == "impact_n_both":
        data["metrics"][_index(raw, "metrics", "id", "course_attendance_impact")]["rule"]["n"] = 10
    elif kind == "none_with_gates":
        i = _index(raw, "metrics", "id", "course_participants")
        data["metrics"][i]["rule"]["gates"] = ["volare_completion_gate"]
    elif kind == "band_without_amount_or_cap":
        m = data["metrics"][_index(raw, "metrics", "id", "orgs_active_12m")]
        del m["rule"]["amount"], m["cap"]
    elif kind == "gate_metric_not_verified":
        i = _index(raw, "metrics", "id", "volare_completion_rate")
        data["metrics"][i]["periods"] = ["S1"]
    else:  # unknown_reference
        target = draw(
            st.sampled_from(
                [
                    ("metrics", 0, "rule", "baseline"),
                    ("metrics", 2, "rule", "gates"),
                    (
                        "metrics",
                        _index(raw, "metrics", "id", "course_attendance_impact"),
                        "rule",
                        "estimate",
                    ),
                    (
                        "metrics",
                        _index(raw, "metrics", "id", "course_attendance_impact"),
                        "rule",
                        "n_metric",
                    ),
                    ("quality_gates", 0, "metric"),
                    ("metrics", 0, "periods"),
                ]
            )
        )
        value = "no_such_id"
        if target[-1] in ("gates", "periods"):
            value = ["no_such_id"]
        _set(data, target, value)
    return kind, data


@fuzz_settings(1.5)
@given(data=st.data())
def test_agreement_known_bad_mapping_is_an_error(raw, data):
    _, bad = _agreement_known_bad(data.draw, raw)
    expect_error(
        lambda: siinc.parse_agreement(bad, source="agreement.yaml (mutated)"),
        source="agreement.yaml (mutated)",
    )
    record(AGREEMENT, ERROR)


# ============================================================================================
# Agreement: file-level mutations
# ============================================================================================


def _key_lines(text: str) -> list[int]:
    """Lines holding ``key: scalar`` of a block mapping (value on the same line)."""
    out = []

    def walk(node: yaml.Node) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if (
                    not node.flow_style
                    and isinstance(v, yaml.ScalarNode)
                    and v.style in (None, "'", '"')
                    and k.start_mark.line == v.end_mark.line
                ):
                    out.append(k.start_mark.line)
                walk(v)
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                walk(v)

    walk(yaml.compose(text, Loader=yaml.SafeLoader))
    return sorted(set(out))


@pytest.fixture(scope="module")
def shipped_text() -> tuple[str, list[int]]:
    text = SHIPPED.read_text(encoding="utf-8")
    return text, _key_lines(text)


def _file_known_bad(draw: st.DrawFn, text: str, key_lines: list[int]) -> tuple[str, bytes]:
    lines = text.split("\n")
    kind = draw(
        st.sampled_from(
            ["duplicate_key", "unclosed_flow", "tab_indent", "impossible_date", "encoding", "empty"]
        )
    )
    k = draw(st.sampled_from(key_lines))
    if kind == "duplicate_key":  # the same key twice in one mapping
        lines.insert(k + 1, lines[k])
    elif kind == "unclosed_flow":
        key, _, value = lines[k].partition(": ")
        lines[k] = f"{key}: [{value}"
    elif kind == "tab_indent":
        k = draw(st.sampled_from([i for i in key_lines if lines[i].startswith("  ")]))
        lines[k] = "\t" + lines[k].lstrip(" ")
    elif kind == "impossible_date":
        dates = [
            i
            for i, ln in enumerate(lines)
            if "-03-06" in ln or "-06-30" in ln or "-09-30" in ln or "-07-01" in ln
        ]
        k = draw(st.sampled_from(dates))
        lines[k] = (
            lines[k]
            .replace("-06-30", "-02-30")
            .replace("-09-30", "-02-31")
            .replace("-03-06", "-13-06")
            .replace("-07-01", "-04-31")
        )
    elif kind == "encoding":
        return kind, draw(encodings_of(text))[1]
    else:
        return kind, draw(st.sampled_from([b"", b"\n", b"# only a comment\n", b"---\n"]))
    return kind, "\n".join(lines).encode()


@fuzz_settings(0.3)
@given(data=st.data())
def test_agreement_known_bad_file_is_an_error(work, shipped_text, data):
    text, key_lines = shipped_text
    _, blob = _file_known_bad(data.draw, text, key_lines)
    path = work / "siinc.yaml"
    path.write_bytes(blob)
    expect_error(lambda: siinc.load_agreement(path), source="siinc.yaml")
    record(AGREEMENT, ERROR)


def _all_paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append((*prefix, k))
            out += _all_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append((*prefix, i))
            out += _all_paths(v, (*prefix, i))
    return out


def _same_agreement(a: siinc.Agreement, b: siinc.Agreement) -> bool:
    """Same parameters (the file name aside) and the same illustrative example."""
    return (
        a.to_dict() | {"source": None} == b.to_dict() | {"source": None}
        and a.illustrative_example == b.illustrative_example
        and a.baselines == b.baselines
        and a.gates == b.gates
        and a.metrics == b.metrics
    )


@fuzz_settings(0.4)
@given(data=st.data())
def test_agreement_random_corruption_is_an_error_or_a_valid_agreement(work, raw, shipped, data):
    base = shipped[0]
    how = data.draw(st.sampled_from(["bytes", "bytes", "delete_any_key"]))
    if how == "bytes":
        _, blob = data.draw(byte_corruption(SHIPPED.read_bytes()), label="corruption")
    else:
        mutated = copy.deepcopy(raw)
        path = data.draw(st.sampled_from(_all_paths(raw)), label="deleted")
        _delete(mutated, path)
        blob = _dump(mutated)
    target = work / "siinc.yaml"
    target.write_bytes(blob)
    status, res = outcome_of(lambda: siinc.load_agreement(target), source="siinc.yaml")
    if status == ERROR:
        record(AGREEMENT, ERROR)
        return
    assert isinstance(res, siinc.Agreement)
    record(AGREEMENT, SAME if _same_agreement(res, base) else DIFFERENT)


# ============================================================================================
# Agreement: valid shuffles
# ============================================================================================


def _shuffle_keys(draw: st.DrawFn, obj: Any) -> Any:
    if isinstance(obj, dict):
        keys = list(obj)
        order = draw(st.permutations(keys)) if len(keys) > 1 else keys
        return {k: _shuffle_keys(draw, obj[k]) for k in order}
    if isinstance(obj, list):
        return [_shuffle_keys(draw, v) for v in obj]
    return obj


@fuzz_settings(0.1)
@given(data=st.data())
def test_agreement_shuffled_keys_and_lists_give_the_same_payments(work, raw, shipped, data):
    base, inputs, paid = shipped
    shuffled = _shuffle_keys(data.draw, raw)
    for section in ("baselines", "quality_gates", "estimates"):  # order carries no meaning
        items = shuffled[section]
        shuffled[section] = [items[k] for k in data.draw(permutation(len(items)))]
    path = work / "siinc.yaml"
    path.write_bytes(_dump(shuffled))
    a = siinc.load_agreement(path)
    assert a.to_dict() | {"source": None} == base.to_dict() | {"source": None}
    again = siinc.compute_payments(a, inputs.verified_metrics, ILLUSTRATIVE_ESTIMATES)
    assert again.to_dict() | {"agreement_source": None} == paid.to_dict() | {
        "agreement_source": None
    }
    record(AGREEMENT, VALID_SAME, kind="valid")


# ============================================================================================
# Verified metrics and estimates
# ============================================================================================


def _verified_known_bad(
    draw: st.DrawFn, agreement: siinc.Agreement, vm: pd.DataFrame, estimates: dict
) -> tuple[str, Any, Any]:
    df = vm.copy()
    est = dict(estimates)
    kinds = [
        "drop_row",
        "duplicate_row",
        "bad_value",
        "out_of_range",
        "unknown_metric",
        "unknown_period",
        "undeclared_period",
        "bad_source",
        "missing_column",
        "renamed_column",
        "duplicate_column",
        "multiindex",
        "not_a_table",
        "bad_id_type",
        "empty",
        "estimate_missing",
        "estimate_bad",
        "estimate_order",
        "estimates_type",
    ]
    kind = draw(st.sampled_from(kinds), label="kind")
    i = draw(st.integers(0, len(df) - 1), label="row")
    if kind == "drop_row":  # every row of the illustrative table is needed by a payment
        df = df.drop(index=df.index[i])
    elif kind == "duplicate_row":
        row = df.iloc[[i]].copy()
        if draw(st.booleans()):
            row["value"] = row["value"] * 0.5
        df = pd.concat([df, row], ignore_index=True)
    elif kind == "bad_value":
        df = df.astype({"value": object})
        df.at[i, "value"] = draw(
            st.sampled_from(
                [
                    math.nan,
                    None,
                    pd.NA,
                    math.inf,
                    -math.inf,
                    "abc",
                    "1,5",
                    "",
                    [1],
                    True,
                    False,
                    Decimal("NaN"),
                    "1e999999999",
                    1e16,
                    np.float64("nan"),
                    complex(1, 1),
                    "12 %",
                ]
            )
        )
    elif kind == "out_of_range":
        ranged = [
            k
            for k in range(len(df))
            if agreement.metric(df.at[k, "metric"]).value_range != (None, None)
        ]
        i = draw(st.sampled_from(ranged))
        lo, hi = agreement.metric(df.at[i, "metric"]).value_range
        df.at[i, "value"] = float(
            draw(st.sampled_from([lo - Decimal("0.01"), lo - 1, hi + Decimal("0.01"), hi * 10]))
        )
    elif kind == "unknown_metric":
        m = df.at[i, "metric"]
        df.at[i, "metric"] = draw(
            st.sampled_from([m.upper(), m + " ", m[:-1], "volare", m.replace("_", "-")])
        )
    elif kind == "unknown_period":
        df.at[i, "period"] = draw(st.sampled_from(["S4", "s1", "S 1", "P1", "2023"]))
    elif kind == "undeclared_period":  # a real period in which the metric is not verified
        m = agreement.metric(df.at[i, "metric"])
        others = [p for p in agreement.period_ids if p not in m.periods]
        df.at[i, "period"] = draw(st.sampled_from(others))
    elif kind == "bad_source":
        df = df.astype({"source": object})
        df.at[i, "source"] = draw(st.sampled_from(["", "   ", None, 5, math.nan]))
    elif kind == "missing_column":
        df = df.drop(columns=draw(st.sampled_from(["metric", "period", "value", "source"])))
    elif kind == "renamed_column":
        c = draw(st.sampled_from(["metric", "period", "value", "source"]))
        df = df.rename(columns={c: draw(st.sampled_from([c.upper(), c + "s", " " + c]))})
    elif kind == "duplicate_column":
        df = pd.concat([df, df[[draw(st.sampled_from(list(df.columns)))]]], axis=1)
    elif kind == "multiindex":
        df.columns = pd.MultiIndex.from_tuples([(c, "x") for c in df.columns])
    elif kind == "not_a_table":
        df = draw(
            st.sampled_from(
                [
                    vm.to_dict(),
                    vm.to_dict("records"),
                    None,
                    vm.to_numpy(),
                    vm["value"],
                    "verified.csv",
                ]
            )
        )
    elif kind == "bad_id_type":
        c = draw(st.sampled_from(["metric", "period"]))
        df = df.astype({c: object})
        df.at[i, c] = draw(st.sampled_from([5, None, math.nan, ("S1",)]))
    elif kind == "empty":
        df = df.iloc[:0]
    elif kind == "estimate_missing":
        est = {}
    elif kind == "estimate_bad":  # the rule reads ci_low (use: lower_ci)
        ((eid, e),) = estimates.items()
        attr = draw(st.sampled_from(["estimate", "ci_low"]))
        value = draw(st.sampled_from([math.nan, math.inf, -math.inf, None, "n/a", [2.4]]))
        est[eid] = dataclasses.replace(e, **{attr: value})
    elif kind == "estimate_order":  # ci_low above the estimate
        ((eid, e),) = estimates.items()
        est[eid] = dataclasses.replace(e, ci_low=e.estimate + draw(st.sampled_from([0.1, 5])))
    elif kind == "estimates_type":
        est = draw(
            st.sampled_from(
                [[estimates], 2.4, {k: 2.4 for k in estimates}, {k: "2.4" for k in estimates}]
            )
        )
    return kind, df, est


@fuzz_settings(2.1)
@given(data=st.data())
def test_verified_metrics_known_bad_is_an_error(shipped, data):
    agreement, inputs, _ = shipped
    _, vm, est = _verified_known_bad(
        data.draw, agreement, inputs.verified_metrics, dict(ILLUSTRATIVE_ESTIMATES)
    )
    err = expect_error(lambda: siinc.compute_payments(agreement, vm, est), source="")
    assert err.source.startswith(("verified_metrics", "estimates")), err.source
    record(VERIFIED, ERROR)


@fuzz_settings(0.1)
@given(data=st.data())
def test_verified_metrics_shuffled_or_retyped_give_the_same_payments(shipped, data):
    agreement, inputs, paid = shipped
    vm = inputs.verified_metrics
    rows = data.draw(permutation(len(vm)), label="rows")
    cols = [vm.columns[k] for k in data.draw(permutation(len(vm.columns)), label="columns")]
    df = vm.iloc[rows][cols]
    retype = data.draw(st.sampled_from(["none", "str", "decimal", "float32", "object"]))
    if retype == "str":
        df = df.assign(value=df["value"].map(repr))
    elif retype == "decimal":
        df = df.assign(value=df["value"].map(lambda x: Decimal(repr(x))))
    elif retype == "float32":
        df = df.assign(value=df["value"].astype("float32"))
    elif retype == "object":
        df = df.astype({"value": object})
    if data.draw(st.booleans(), label="extra column and index"):
        df = df.assign(checked_by="auditor").set_axis([7] * len(df), axis=0)
    again = siinc.compute_payments(agreement, df, ILLUSTRATIVE_ESTIMATES)
    assert again.to_dict() == paid.to_dict()
    record(VERIFIED, VALID_SAME, kind="valid")
