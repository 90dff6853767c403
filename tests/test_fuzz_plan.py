"""Property-based tests of the run-plan loader :func:`analysis.pipeline.plan.load_plan`.

Each example starts from a small valid plan over the repository's two notebooks
(``00_data_build``, ``01_context``) and applies one mutation:

* **known-bad** (unknown or misspelt notebook, unknown or misspelt parameter, a runner
  parameter set by hand, duplicate or malformed run id, missing id/notebook/title, unknown
  keys, parameters that are not a mapping, runs that are not a list, broken YAML, empty or
  missing file) → :class:`~analysis.errors.DataValidationError` naming the file, before
  anything runs;
* **random corruption** of the file (ASCII bytes overwritten, inserted, deleted, truncated)
  → the error or a plan that is valid (counted: identical, or different);
* **valid shuffles** (order of runs and of keys) → the same runs.

``src/analysis/plan.py`` is not edited here (the main session owns it): the bugs these tests
found are the ``xfail(strict=True)`` tests at the end, one per bug. When a bug is fixed its
test XPASSes, which fails the run: remove its marker then (and its entry in
``KNOWN_PLAN_BUGS``).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from analysis.errors import DataValidationError
from analysis.pipeline.plan import RUNNER_PARAMETERS, load_plan
from fuzzing import (
    ERROR,
    SAME,
    VALID_SAME,
    byte_corruption,
    expect_error,
    fuzz_settings,
    fuzz_summary,  # noqa: F401  (session fixture: prints the counts)
    outcome_of,
    permutation,
    record,
)

LOADER = "plan"
DIFFERENT = "accepted: different content (a valid plan)"
KNOWN_BUG = "unhandled exception: known plan.py bug (see the xfail tests)"

#: Unhandled exceptions of load_plan documented by the xfail tests below: (type, message).
KNOWN_PLAN_BUGS: tuple[tuple[type[BaseException], str], ...] = ()  # all fixed in plan.py

BASE: dict[str, Any] = {
    "settings": {"cell_timeout": 600},
    "notebooks": {
        "00_data_build": {"inputs": ["data/raw/*/*"]},
        "01_context": {"inputs": ["data/raw/eurostat_edat_lfse_16/*"]},
    },
    "runs": [
        {
            "id": "data_build",
            "notebook": "00_data_build",
            "title": "Data build",
            "parameters": {"force_rebuild": False},
        },
        {
            "id": "context_elet",
            "notebook": "01_context",
            "title": "ELET, Puglia",
            "parameters": {
                "indicator": "elet",
                "focus_unit": "Puglia",
                "comparison_units": ["Sud", "Italia"],
                "sex": "T",
            },
            "quick": {"baseline_year": 2015},
        },
        {
            "id": "context_neet",
            "notebook": "01_context",
            "title": "NEET, Lecce",
            "parameters": {"indicator": "neet", "focus_unit": "Lecce"},
        },
    ],
}
DECLARED = {
    "00_data_build": ["force_rebuild"],
    "01_context": [
        "baseline_year",
        "comparison_units",
        "focus_unit",
        "indicator",
        "programme_start",
        "sex",
    ],
}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz_plan")


def _dump(doc: Any) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


def _write(work: Path, blob: bytes, name: str = "plan.yaml") -> Path:
    p = work / name
    p.write_bytes(blob)
    return p


def _runs(plan) -> dict[str, tuple]:
    return {
        r.id: (r.notebook, r.title, dict(r.parameters), dict(r.quick_overrides), r.inputs)
        for r in plan.runs
    }


@pytest.fixture(scope="module")
def baseline(work):
    plan = load_plan(_write(work, _dump(BASE), "base.yaml"))
    assert [r.id for r in plan.runs] == ["data_build", "context_elet", "context_neet"]
    return plan


def _typo(draw: st.DrawFn, word: str) -> str:
    """A misspelling of ``word`` (never ``word`` itself)."""
    how = draw(st.sampled_from(["drop", "swap", "double", "case", "replace"]))
    i = draw(st.integers(0, len(word) - 1))
    if how == "drop" and len(word) > 1:
        out = word[:i] + word[i + 1 :]
    elif how == "swap" and i < len(word) - 1 and word[i] != word[i + 1]:
        out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    elif how == "double":
        out = word[:i] + word[i] + word[i:]
    elif how == "case" and word.upper() != word:
        out = word.upper()
    else:
        c = "x" if word[i] != "x" else "y"
        out = word[:i] + c + word[i + 1 :]
    return out if out != word else word + "x"


# ============================================================================================
# Known-bad mutations
# ============================================================================================

KINDS = [
    "unknown_notebook",
    "misspelt_parameter",
    "unknown_parameter",
    "runner_parameter",
    "duplicate_id",
    "bad_id",
    "missing_field",
    "unknown_run_key",
    "unknown_top_key",
    "runs_not_a_list",
    "run_not_a_mapping",
    "parameters_not_a_mapping",
    "not_a_mapping",
    "yaml_syntax",
    "empty",
    "missing_file",
]


def _known_bad(draw: st.DrawFn) -> tuple[str, bytes | None]:
    doc = copy.deepcopy(BASE)
    kind = draw(st.sampled_from(KINDS), label="kind")
    i = draw(st.integers(0, len(doc["runs"]) - 1), label="run")
    run = doc["runs"][i]
    if kind == "unknown_notebook":
        run["notebook"] = draw(
            st.sampled_from(
                [
                    _typo(draw, run["notebook"]),
                    "99_missing",
                    f"{run['notebook']}.ipynb",
                    "notebooks/" + run["notebook"],
                    1,
                    ["01_context"],
                ]
            )
        )
    elif kind == "misspelt_parameter":
        where = draw(st.sampled_from(["parameters", "quick"]))
        key = draw(st.sampled_from(DECLARED[run["notebook"]]))
        run.setdefault(where, {})[_typo(draw, key)] = 1
    elif kind == "unknown_parameter":
        name = draw(
            st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True).filter(
                lambda n: n not in DECLARED[run["notebook"]] and n not in RUNNER_PARAMETERS
            )
        )
        run.setdefault(draw(st.sampled_from(["parameters", "quick"])), {})[name] = "x"
    elif kind == "runner_parameter":
        run.setdefault(draw(st.sampled_from(["parameters", "quick"])), {})[
            draw(st.sampled_from(RUNNER_PARAMETERS))
        ] = draw(st.sampled_from(["x", True, 1]))
    elif kind == "duplicate_id":
        j = draw(st.integers(0, len(doc["runs"]) - 1).filter(lambda j: j != i))
        if draw(st.booleans()):
            doc["runs"][j]["id"] = run["id"]
        else:
            doc["runs"].insert(j, copy.deepcopy(run))
    elif kind == "bad_id":
        run["id"] = draw(
            st.sampled_from(
                [
                    "Data_Build",
                    "data build",
                    "_data",
                    "-x",
                    "été",
                    "a/b",
                    "a.b",
                    "run#1",
                    True,
                    ["x"],
                ]
            )
        )
    elif kind == "missing_field":
        field = draw(st.sampled_from(["id", "notebook", "title"]))
        if draw(st.booleans()):
            del run[field]
        else:
            run[field] = draw(st.sampled_from([None, "", [], {}]))
    elif kind == "unknown_run_key":
        run[
            draw(st.sampled_from(["paramters", "Title", "input", "params", "Quick", "notebok"]))
        ] = {}
    elif kind == "unknown_top_key":
        doc[draw(st.sampled_from(["run", "setting", "notebook", "Runs", "plan"]))] = {}
    elif kind == "runs_not_a_list":
        if draw(st.booleans()):
            del doc["runs"]
        else:
            doc["runs"] = draw(st.sampled_from([{"a": run}, "data_build", 5, None, run]))
    elif kind == "run_not_a_mapping":
        doc["runs"][i] = draw(st.sampled_from(["data_build", ["data_build"], 5, True]))
    elif kind == "parameters_not_a_mapping":
        run[draw(st.sampled_from(["parameters", "quick"]))] = draw(
            st.sampled_from([["indicator"], "indicator: elet", 5, True])
        )
    elif kind == "not_a_mapping":
        doc = draw(st.sampled_from([BASE["runs"], "plan", 5]))
    elif kind == "yaml_syntax":
        lines = _dump(doc).decode().split("\n")
        keyed = [k for k, ln in enumerate(lines) if re.match(r"^\s*-?\s*\w+: \S", ln)]
        k = draw(st.sampled_from(keyed))
        how = draw(st.sampled_from(["unclosed", "tab"]))
        if how == "unclosed":
            key, _, value = lines[k].partition(": ")
            lines[k] = f"{key}: [{value}"
        else:
            lines[k] = (
                "\t" + lines[k].lstrip(" ")
                if lines[k].startswith(" ")
                else (lines[k] + "\n\t- x: [")
            )
        return kind, "\n".join(lines).encode()
    elif kind == "empty":
        return kind, draw(st.sampled_from([b"", b"\n", b"# nothing\n", b"---\n", b"{}\n"]))
    elif kind == "missing_file":
        return kind, None
    return kind, _dump(doc)


@fuzz_settings(1.8)
@given(data=st.data())
def test_known_bad_plan_is_an_error(work, data):
    _, blob = _known_bad(data.draw)
    path = work / "no_such_plan.yaml" if blob is None else _write(work, blob)
    expect_error(lambda: load_plan(path), source=path.name)
    record(LOADER, ERROR)


# ============================================================================================
# Random corruption (ASCII bytes; non-UTF-8 files have their own regression test below)
# ============================================================================================


def _known_bug(exc: BaseException) -> bool:
    return any(isinstance(exc, t) and re.search(m, str(exc)) for t, m in KNOWN_PLAN_BUGS)


@fuzz_settings(0.4)
@given(data=st.data())
def test_random_corruption_is_an_error_or_a_valid_plan(work, baseline, data):
    _, blob = data.draw(byte_corruption(_dump(BASE)), label="corruption")
    blob = bytes(b if 32 <= b < 127 or b in (9, 10) else 32 + b % 95 for b in blob)
    path = _write(work, blob)
    try:
        status, res = outcome_of(lambda: load_plan(path), source=path.name)
    except Exception as exc:
        if not _known_bug(exc):
            raise
        record(LOADER, KNOWN_BUG)
        return
    if status == ERROR:
        record(LOADER, ERROR)
    else:
        record(
            LOADER,
            SAME
            if _runs(res) == _runs(baseline) and res.settings == baseline.settings
            else DIFFERENT,
        )


# ============================================================================================
# Valid shuffles
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
def test_shuffled_runs_and_keys_give_the_same_runs(work, baseline, data):
    doc = _shuffle_keys(data.draw, BASE)
    doc["runs"] = [doc["runs"][k] for k in data.draw(permutation(len(doc["runs"])))]
    plan = load_plan(_write(work, _dump(doc)))
    assert _runs(plan) == _runs(baseline)
    assert [r.id for r in plan.runs] == [r["id"] for r in doc["runs"]]  # the file's order
    record(LOADER, VALID_SAME, kind="valid")


# ============================================================================================
# Bugs of load_plan found by the fuzzing, now fixed: each stays as a regression test
# ============================================================================================


def _doc(**changes: Any) -> dict:
    doc = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *head, last = dotted.split("__")
        obj: Any = doc
        for k in head:
            obj = obj[int(k)] if k.isdigit() else obj[k]
        obj[int(last) if last.isdigit() else last] = value
    return doc


_BUGS = [
    pytest.param(
        _dump(_doc(notebooks__01_context=["data/raw/x"])),
        id="notebooks-entry-not-a-mapping-AttributeError",
    ),
    pytest.param(
        _dump(_doc(notebooks__01_context={"inputs": 5})), id="notebook-inputs-not-a-list-TypeError"
    ),
    pytest.param(
        _dump(_doc(notebooks__01_context={"inputs": "data/raw/eurostat_edat_lfse_16/*"})),
        id="notebook-inputs-a-string-split-into-characters",
    ),
    pytest.param(_dump(_doc(runs__1__inputs=5)), id="run-inputs-not-a-list-TypeError"),
    pytest.param(
        _dump(_doc(runs__1__inputs="data/raw/x")), id="run-inputs-a-string-split-into-characters"
    ),
    pytest.param(
        _dump(
            _doc(
                notebooks={
                    "01_contxt": {"inputs": ["data/raw/*/*"]},
                    "00_data_build": {"inputs": ["data/raw/*/*"]},
                }
            )
        ),
        id="misspelt-notebook-in-notebooks-silently-ignored",
    ),
    pytest.param(_dump(_doc(notebooks=["01_context"])), id="notebooks-not-a-mapping-ignored"),
    pytest.param(_dump(_doc(settings=["cell_timeout", 600])), id="settings-not-a-mapping"),
    pytest.param(
        _dump(_doc(settings={"cell_timout": 600})), id="misspelt-setting-silently-ignored"
    ),
    pytest.param(
        _dump(_doc(settings={"cell_timeout": "ten minutes"})), id="setting-of-the-wrong-type"
    ),
    pytest.param(
        _dump(_doc(runs__1__parameters={5: "x"})), id="non-string-parameter-name-TypeError"
    ),
    pytest.param(
        _dump(_doc(runs__1__title=["ELET", "Puglia"])), id="title-not-a-string-silently-str"
    ),
    pytest.param(
        _dump(_doc(runs__1__id="context_elet\n")), id="run-id-with-trailing-newline-accepted"
    ),
    pytest.param(
        _dump(_doc(runs__1__notebook="../notebooks/01_context")),
        id="notebook-given-as-a-path-accepted-inputs-lost",
    ),
    pytest.param(
        _dump(BASE).replace(b"title: ELET, Puglia", b"title: 2023-02-30"),
        id="impossible-date-ValueError",
    ),
    pytest.param(
        _dump(BASE).replace(b"title: ELET, Puglia", b"title: ELET, Pugli\xe0"),
        id="latin-1-file-UnicodeDecodeError",
    ),
    pytest.param(
        _dump(BASE).replace(
            b"  title: ELET, Puglia\n", b"  title: ELET, Puglia\n  title: ELET, Italia\n"
        ),
        id="repeated-key-silently-last-wins",
    ),
]


@pytest.mark.parametrize("blob", _BUGS)
def test_plan_bug_found_by_fuzzing_is_fixed(work, blob):
    path = _write(work, blob, "bug.yaml")
    with pytest.raises(DataValidationError) as err:
        load_plan(path)
    assert path.name in str(err.value)


def test_plan_given_as_a_directory_is_rejected(work):
    with pytest.raises(DataValidationError):
        load_plan(work)
