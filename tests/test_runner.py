"""The runner: parameters reach the notebook, typos are errors, cache, failure isolation,
provenance and results JSON, published HTML without code or external resources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis import paths
from analysis.errors import DataValidationError
from analysis.pipeline.plan import RUNNER_PARAMETERS, Run, load_plan
from analysis.pipeline.publish import index_row, publish, render_index
from analysis.pipeline.runner import run_plan
from analysis.pipeline.state import (
    context_path,
    executed_path,
    index_path,
    page_path,
    read_state,
    results_path,
)

PROBE = """
from analysis import display
report = display.start(run_id, title="probe")
if fail:
    raise RuntimeError("deliberate failure for the test")
print(f"VALUE={value}")
report.save(headline={"value x 2": value * 2}, results={"value": value, "label": label})
"""


def _probe_notebook(path: Path) -> None:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    params = new_code_cell('run_id = "interactive"\nvalue = 1\nlabel = "a"\nfail = False')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell("# Probe"), params, new_code_cell(PROBE)]
    nbformat.write(nb, path)


def _write_plan(root: Path, runs: list[dict]) -> Path:
    plan = {"notebooks": {"99_probe": {"inputs": ["data/raw/eurostat_ilc_peps11/*"]}}, "runs": runs}
    p = root / "config" / "probe_plan.yaml"
    p.write_text(yaml.safe_dump(plan, sort_keys=False))
    return p


@pytest.fixture
def probe(sandbox: Path) -> Path:
    _probe_notebook(sandbox / "notebooks" / "99_probe.ipynb")
    return _write_plan(
        sandbox,
        [
            {
                "id": "probe_a",
                "notebook": "99_probe",
                "title": "Probe A",
                "parameters": {"value": 21},
            },
            {
                "id": "probe_fail",
                "notebook": "99_probe",
                "title": "Probe F",
                "parameters": {"fail": True},
            },
            {
                "id": "probe_b",
                "notebook": "99_probe",
                "title": "Probe B",
                "parameters": {"value": 5, "label": "b"},
                "quick": {"value": 1},
            },
        ],
    )


def test_parameters_reach_notebook_failures_isolated_and_results_written(probe):
    outcomes = {o.run_id: o for o in run_plan(load_plan(probe), progress=False)}
    assert outcomes["probe_a"].status == "success"
    assert outcomes["probe_b"].status == "success"  # ran after the failing run
    assert outcomes["probe_fail"].status == "failed"
    assert "deliberate failure" in outcomes["probe_fail"].error
    res = json.loads(results_path("probe_a").read_text())
    assert res["results"] == {"value": 21, "label": "a"} and res["headline"] == {"value x 2": 42}
    assert res["parameters"] == {"value": 21} and res["quick"] is False
    executed = nbformat.read(executed_path("probe_a"), as_version=4)
    assert "VALUE=21" in json.dumps(executed.cells[-1].outputs)
    # the runner injects only its own parameters (quick is not one: it reaches a run as overrides)
    injected = executed.metadata["papermill"]["parameters"]
    assert injected == {"run_id": "probe_a", "value": 21} and RUNNER_PARAMETERS == ("run_id",)
    assert not results_path("probe_fail").exists()
    state = read_state("probe_fail")
    assert state["status"] == "failed" and "deliberate failure" in state["error"]
    ctx = json.loads(context_path("probe_a").read_text())
    assert (
        ctx["plan"] == "config/probe_plan.yaml"
    )  # the plan that ran (the methodology note reads it)
    assert ctx["notebook"] == "notebooks/99_probe.ipynb"
    assert ctx["inputs"] == {
        "data/raw/eurostat_ilc_peps11/ilc_peps11_italy_nuts2.tsv": "917f9ff7df706b1525ae67f00788ad24405090f9eb8287f6aaa8cd416c45170b"
    }
    assert set(ctx["git"]) == {"commit", "dirty"} and ctx["started_utc"].endswith("+00:00")


def test_cache_skips_and_reruns(probe, monkeypatch):
    import analysis.pipeline.runner as runner

    monkeypatch.setattr(runner, "source_fingerprint", lambda: "fixed")
    plan = load_plan(probe)
    first = {o.run_id: o.status for o in run_plan(plan, only="probe_a", progress=False)}
    assert first == {"probe_a": "success"}
    again = {o.run_id: o.status for o in run_plan(plan, only="probe_a", progress=False)}
    assert again == {"probe_a": "cached"}
    forced = {
        o.run_id: o.status for o in run_plan(plan, only="probe_a", force=True, progress=False)
    }
    assert forced == {"probe_a": "success"}
    # quick mode changes the parameters -> rerun
    quick = {o.run_id: o.status for o in run_plan(plan, only="probe_a", quick=True, progress=False)}
    assert quick == {"probe_a": "success"}
    # a changed input file changes the key -> rerun (manifest updated to keep raw data valid)
    nb = paths.NOTEBOOKS_DIR / "99_probe.ipynb"
    nb.write_text(nb.read_text().replace("# Probe", "# Probe, edited"))
    edited = {o.run_id: o.status for o in run_plan(plan, only="probe_a", progress=False)}
    assert edited == {"probe_a": "success"}
    # a failed run is never cached
    run_plan(plan, only="probe_fail", progress=False)
    assert run_plan(plan, only="probe_fail", progress=False)[0].status == "failed"


def test_noop_rerun_is_fast(probe, monkeypatch):
    import time

    import analysis.pipeline.runner as runner

    monkeypatch.setattr(runner, "source_fingerprint", lambda: "fixed")
    plan = load_plan(probe)
    run_plan(plan, only="probe_[ab]", progress=False)
    t0 = time.monotonic()
    outcomes = run_plan(plan, only="probe_[ab]", progress=False)
    assert {o.status for o in outcomes} == {"cached"}
    assert time.monotonic() - t0 < 10  # hashing only, no kernel started


def test_quick_overrides_and_banner(probe):
    run_plan(load_plan(probe), only="probe_b", quick=True, progress=False)
    res = json.loads(results_path("probe_b").read_text())
    assert res["results"]["value"] == 1 and res["quick"] is True
    assert res["parameters"] == {"value": 1, "label": "b"}  # the overrides, no "quick" parameter
    assert any("QUICK RUN" in b for b in res["banners"])


def test_misspelt_parameter_is_an_error_before_anything_runs(sandbox, probe):
    bad = _write_plan(
        sandbox,
        [
            {"id": "ok", "notebook": "99_probe", "title": "ok", "parameters": {"value": 2}},
            {"id": "typo", "notebook": "99_probe", "title": "t", "parameters": {"valeu": 2}},
        ],
    )
    with pytest.raises(
        DataValidationError, match="unknown parameter 'valeu'.*did you mean 'value'"
    ):
        load_plan(bad)
    assert not results_path("ok").exists()


def test_plan_errors_unknown_notebook_duplicate_id_runner_param(sandbox, probe):
    bad = _write_plan(
        sandbox,
        [
            {"id": "a", "notebook": "99_probe", "title": "a"},
            {"id": "a", "notebook": "99_probe", "title": "again"},
            {"id": "c", "notebook": "nope", "title": "c"},
            {"id": "d", "notebook": "99_probe", "title": "d", "parameters": {"run_id": "x"}},
        ],
    )
    with pytest.raises(DataValidationError) as e:
        load_plan(bad)
    msg = str(e.value)
    assert (
        "duplicate run id" in msg
        and "unknown notebook 'nope'" in msg
        and "set by the runner" in msg
    )


def test_publish_hides_code_and_loads_nothing_external(probe):
    plan = load_plan(probe)
    run_plan(plan, progress=False)
    written, findings = publish(plan)
    assert findings == []
    html = page_path("probe_a", "en").read_text()
    assert '<html lang="en">' in html
    assert '<html lang="it">' in page_path("probe_a", "it").read_text()
    assert "deliberate failure" not in html
    assert "report.save" not in html and "display.start" not in html  # code hidden
    assert "Provenance" in html and "917f9ff7df70" in html  # input hash shown
    assert "value</th><td>21" in html  # parameters shown in the provenance block
    for page in written:
        text = page.read_text()
        external = re.findall(r"""(?:src|href)\s*=\s*["']?(https?:)?//""", text)
        assert not external, (page, external[:3])
        assert not re.search(r"@import\s+url\(\s*['\"]?https?:", text)
    index = index_path("en").read_text()
    assert "probe_a.html" in index and "value x 2" in index and "failed" in index
    assert "RuntimeError: deliberate failure for the test" in index  # the error, in its row


def _row(title="Probe", status="success", published=True, **results):
    run = Run(
        id="probe", notebook="99_probe", title=title, parameters={"label": "<b>", "n": [1, 2]}
    )
    return index_row(
        run,
        status=status,
        error="ValueError: x < 0 & y",
        results=results,
        published=published,
        lang="en",
    )


def test_index_template_escapes_and_formats():
    page = render_index(
        [
            _row(
                title="<script>alert(1)</script> & co",
                headline={"effect": 0.123456, "n": 12345, "tiny": 0.0001234},
                banners=["SIMULATED — NOT PROGRAMME RESULTS", "QUICK RUN — small"],
            ),
            _row(title="Broken", status="failed", published=False),
            _row(title="Not run", status="not run", published=False),
        ],
        lang="en",
    )
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert '<a href="probe.html">&lt;script&gt;' in page  # a published run links its page
    assert "label = &#34;&lt;b&gt;&#34;<br>n = [1, 2]" in page  # parameters as JSON, escaped
    assert "effect: <b>0.12</b><br>n: <b>12,345</b><br>tiny: <b>0.000123</b>" in page
    assert 'class="banner banner-sim"' in page and 'class="banner banner-quick"' in page
    # the error of a failed run is shown (escaped); a run that did not fail shows none
    assert page.count("ValueError: x &lt; 0 &amp; y") == 1
    assert '<td class="report">Broken<details' in page  # no link without a page
    # no verdict in any row (3 dashes), no headline numbers in the two runs without a page (2)
    assert page.count("<td>–</td>") == 5


# --- parallel plan (issue 14) --------------------------------------------------------------

SLEEPY = PROBE.replace(
    'print(f"VALUE={value}")', 'import time; time.sleep(sleep); print(f"VALUE={value}")'
)


def _sleepy_plan(root: Path, n: int, *, sleep: float = 0.0, fail: str | None = None) -> Path:
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    params = new_code_cell(
        'run_id = "interactive"\nvalue = 1\nlabel = "a"\nfail = False\nsleep = 0.0'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell("# Probe"), params, new_code_cell(SLEEPY)]
    nbformat.write(nb, root / "notebooks" / "99_probe.ipynb")
    runs = [
        {
            "id": f"probe_{i}",
            "notebook": "99_probe",
            "title": f"P{i}",
            "parameters": {"value": i, "sleep": sleep, "fail": f"probe_{i}" == fail},
        }
        for i in range(n)
    ]
    runs.append(
        {
            "id": "probe_last",
            "notebook": "99_probe",
            "title": "reads results",
            "parameters": {"value": 99},
            "inputs": ["reports/results/probe_*.json"],
        }
    )
    return _write_plan(root, runs)


def test_parallel_plan_equals_serial_with_isolation_and_stages(sandbox):
    from analysis.pipeline.runner import plan_stages

    plan = load_plan(_sleepy_plan(sandbox, 4, fail="probe_2"))
    stages = plan_stages(plan.runs)
    assert [r.id for r in stages[-1]] == ["probe_last"]  # reads the others' results: last
    serial = {o.run_id: o.status for o in run_plan(plan, progress=False, force=True, workers=1)}
    first = {rid: results_path(rid).read_bytes() for rid, s in serial.items() if s == "success"}
    parallel = run_plan(plan, progress=False, force=True, workers=3)
    assert [o.run_id for o in parallel] == [r.id for r in plan.runs]  # plan order
    assert {o.run_id: o.status for o in parallel} == serial
    assert serial["probe_2"] == "failed" and serial["probe_3"] == "success"
    for rid, blob in first.items():
        assert results_path(rid).read_bytes() == blob, rid
    cached = run_plan(plan, progress=False, workers=3)
    assert {o.status for o in cached if o.run_id != "probe_2"} == {"cached"}


def test_ctrl_c_stops_the_plan_marks_interrupted_and_exits_non_zero(sandbox):
    import os
    import signal
    import subprocess
    import sys
    import time

    plan = _sleepy_plan(sandbox, 4, sleep=60.0)
    env = {
        **os.environ,
        "ANALYSIS_ROOT": str(sandbox),
        "ANALYSIS_REPORTS_DIR": str(sandbox / "reports"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "analysis",
            "run",
            "--plan",
            str(plan),
            "--workers",
            "2",
            "--no-progress",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        (read_state(f"probe_{i}") or {}).get("status") == "running" for i in range(4)
    ):
        time.sleep(0.5)
    time.sleep(0.5)  # a kernel may still be starting: the runner must interrupt it once it runs
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-2000:]
    assert time.monotonic() - t0 < 30  # promptly, not after the 60 s cells
    states = {i: (read_state(f"probe_{i}") or {}).get("status") for i in range(4)}
    assert "interrupted" in states.values(), states
    assert "success" not in states.values()
    assert not results_path("probe_last").exists()


def test_publish_does_nothing_when_nothing_changed(probe):
    plan = load_plan(probe)
    run_plan(plan, progress=False)
    first, _ = publish(plan)
    assert page_path("probe_a") in first and index_path() in first
    again, _ = publish(plan)
    assert again == []  # no page converted, the index unchanged
    # a legitimate change to what one page is built from (its title) rebuilds that page only
    text = probe.read_text().replace("title: Probe B", "title: Probe B renamed")
    probe.write_text(text)
    plan = load_plan(probe)
    third, _ = publish(plan)
    assert page_path("probe_b") in third and page_path("probe_a") not in third
    assert "Probe B renamed" in page_path("probe_b").read_text()
    # an edited executed notebook is not a legitimate change: the page is withdrawn (issue 10)
    nb = nbformat.read(executed_path("probe_a"), as_version=4)
    nb.cells[0].source += "\n\nedited"
    nbformat.write(nb, executed_path("probe_a"))
    publish(plan)
    assert not page_path("probe_a").exists()


def test_stages_put_a_run_after_the_named_results_it_reads():
    from analysis.pipeline.runner import plan_stages

    def run(rid: str, notebook: str = "99_probe", inputs: tuple[str, ...] = ()) -> Run:
        return Run(id=rid, notebook=notebook, title=rid, parameters={}, inputs=inputs)

    runs = [
        run("note", inputs=("reports/results/*.json",)),
        run("pay", inputs=("reports/results/effect.json",)),
        run("effect", inputs=("data/raw/eurostat_edat_lfse_16/*",)),
        run("build", notebook="00_data_build"),
        run("context", inputs=("data/raw/istat_bes_territori/*",)),
    ]
    stages = [[r.id for r in s] for s in plan_stages(runs)]
    assert stages == [["build"], ["effect", "context"], ["pay"], ["note"]]
    # the real plan: SIINC reads the programme's headline, the note reads everything
    real = [[r.id for r in s] for s in plan_stages(load_plan().runs)]
    level = {rid: n for n, stage in enumerate(real) for rid in stage}
    assert real[-1] == ["methodology"]
    assert level["siinc_payments"] > level["programme_did_absence"]
    assert level["context_neet_lecce"] > level["data_build"]  # reads the processed panels


def test_stages_respect_a_run_that_reads_the_methodology_note_and_refuse_cycles():
    from analysis.pipeline.runner import plan_stages

    def run(rid: str, inputs: tuple[str, ...] = ()) -> Run:
        return Run(id=rid, notebook="99_probe", title=rid, parameters={}, inputs=inputs)

    runs = [
        run("dossier", ("reports/results/meth.json",)),
        run("meth", ("reports/results/*.json",)),
        run("prog"),
    ]
    # the note reads every run that does not read the note: the dossier waits for it
    assert [[r.id for r in s] for s in plan_stages(runs)] == [["prog"], ["meth"], ["dossier"]] or (
        pytest.fail("a run reading the note ran before it")
    )
    with pytest.raises(ValueError, match="cycle"):
        plan_stages([run("a", ("reports/results/b.json",)), run("b", ("reports/results/a.json",))])


def test_only_runs_that_read_raw_data_wait_for_the_data_build():
    from analysis.pipeline.runner import run_dependencies

    def run(rid: str, notebook: str = "99_probe", inputs: tuple[str, ...] = ()) -> Run:
        return Run(id=rid, notebook=notebook, title=rid, parameters={}, inputs=inputs)

    runs = [
        run("build", notebook="00_data_build", inputs=("data/raw/*/*",)),
        run("panel", inputs=("data/raw/istat_bes_territori/*", "config/programme.yaml")),
        run("pupils", inputs=("config/programme.yaml",)),
        run("pay", inputs=("reports/results/pupils.json",)),
        run("note", inputs=("reports/results/*.json",)),
    ]
    deps = run_dependencies(runs)
    assert deps["build"] == set() and deps["panel"] == {"build"}
    assert deps["pupils"] == set()  # simulated or registered pupils: starts with the build
    assert deps["pay"] == {"pupils"}
    assert deps["note"] == {"build", "panel", "pupils", "pay"}


def test_run_order_starts_the_longest_chains_first_and_keeps_plan_order_on_ties():
    from analysis.pipeline.runner import run_dependencies, run_order

    def run(rid: str, inputs: tuple[str, ...] = ()) -> Run:
        return Run(id=rid, notebook="99_probe", title=rid, parameters={}, inputs=inputs)

    runs = [
        run("short"),
        run("long"),
        run("feeder"),
        run("reader", ("reports/results/feeder.json",)),
        run("unknown"),
        run("tie"),
    ]
    deps = run_dependencies(runs)
    seconds = {"short": 1.0, "long": 10.0, "feeder": 4.0, "reader": 8.0, "tie": 1.0}
    order = [r.id for r in run_order(runs, deps, seconds)]
    # feeder opens a 12 s chain (itself + the run reading its results), long 10 s; a run never
    # executed counts as the mean of the known durations (4.8 s); short and tie in plan order
    assert order == ["feeder", "long", "reader", "unknown", "short", "tie"]
    assert [r.id for r in run_order(runs, deps, {})] == [
        "feeder",
        "short",
        "long",
        "reader",
        "unknown",
        "tie",
    ]


FORK_PROBE = """
import os, sys
from analysis import display
report = display.start(run_id, title="fork probe")
print(f"PARENT={os.getppid()} PRELOADED={'seaborn' in sys.modules} CWD={os.getcwd()}")
print(f"HASHSEED={os.environ.get('PYTHONHASHSEED')} HASH={hash('probe')}")
print(f"MAIN={sys.modules['__main__'].__name__}")
import pandas as pd
report.save(headline={"sum": value}, results={"frame": pd.DataFrame({"x": [value, 2.5]}).sum().tolist()})
"""


def test_kernels_forked_by_the_server_give_the_results_of_new_interpreters(sandbox):
    import psutil

    from analysis.pipeline.runner import KernelServer, deterministic_environment, execute

    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    params = new_code_cell('run_id = "interactive"\nvalue = 1')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell(FORK_PROBE)]
    nbformat.write(nb, sandbox / "notebooks" / "98_fork.ipynb")
    plan = _write_plan(sandbox, [])
    text = plan.read_text().replace("runs: []", "runs: [{id: fork, notebook: 98_fork, title: F}]")
    plan.write_text(text.replace("99_probe:", "98_fork:"))
    run = load_plan(plan).get("fork")
    deterministic_environment()

    def once(server):
        outcome = execute(
            run, quick=False, key="k", inputs={}, git={}, timeout=120, kernel_server=server
        )
        assert outcome.status == "success", outcome.error
        cells = nbformat.read(executed_path("fork"), as_version=4).cells
        printed = "".join(o.get("text", "") for o in cells[-1].outputs)
        return results_path("fork").read_bytes(), printed

    server = KernelServer()
    try:
        forked, printed = once(server)
        assert f"PARENT={server.pid} PRELOADED=True" in printed
        kernels = psutil.Process(server.pid).children()
    finally:
        server.close()
    assert not psutil.pid_exists(server.pid) or psutil.Process(server.pid).status() == "zombie"
    assert all(not k.is_running() or k.status() == "zombie" for k in kernels)
    plain, printed_plain = once(None)
    assert "PRELOADED=False" in printed_plain
    assert forked == plain  # same results, byte for byte
    # same working directory, hash seed and main module as a kernel started as a new process
    assert printed.split("PRELOADED=True")[1] == printed_plain.split("PRELOADED=False")[1]


def test_papermill_is_imported_without_the_iri_grammar_and_the_import_system_is_restored():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from analysis.pipeline.runner import _import_papermill\n"
        "papermill = _import_papermill()\n"
        "import jsonschema, nbformat\n"
        "print('rfc3987_syntax' in sys.modules, 'iri' in jsonschema.FormatChecker.checkers)\n"
        "nbformat.validate(nbformat.v4.new_notebook())\n"
        "import rfc3987_syntax\n"  # still importable by whoever needs it
        "print(rfc3987_syntax.is_valid_syntax('iri', 'http://example.org/a'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True"]
