"""The kernel server (runner.KernelServer): a forked kernel starts and ends as a new interpreter
would, never with another hash seed or thread count than it asked for, and the server leaves
nothing behind when it or the process that started it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from analysis.pipeline import runner
from analysis.pipeline.runner import DETERMINISTIC_ENV, ForkedKernel, KernelServer

#: a module whose non-daemon thread waits for a hook of ``threading._register_atexit`` (as
#: loky's executor does to stop its replication workers) and then writes its file
EXIT_PROBE = """
import sys, threading
stop = threading.Event()
threading._register_atexit(stop.set)
def work():
    stop.wait()
    with open(sys.argv[1], "w") as f:
        f.write("stopped cleanly")
threading.Thread(target=work).start()
"""

HASH_PROBE = """
import sys
with open(sys.argv[1], "w") as f:
    f.write(repr(hash("analysis")))
"""


def _gone(pid: int, seconds: float = 60.0) -> bool:
    """Whether ``pid`` has ended (or is a zombie) within ``seconds`` (a liveness bound only)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def _fork(server: KernelServer, folder: Path, module: str, *args: str) -> int:
    pid = server.launch([sys.executable, "-m", module, *args], env=dict(os.environ), cwd=folder)
    assert isinstance(pid, int), "the server did not fork the module"
    ForkedKernel(pid).wait(timeout=120)
    return pid


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    (tmp_path / "exit_probe.py").write_text(EXIT_PROBE)
    (tmp_path / "hash_probe.py").write_text(HASH_PROBE)
    return tmp_path


def test_a_forked_kernel_ends_as_an_interpreter_does(modules):
    # as a new interpreter: the thread is told to stop, joined, and writes its file
    subprocess.run([sys.executable, "-m", "exit_probe", "plain.txt"], cwd=modules, check=True)
    assert (modules / "plain.txt").read_text() == "stopped cleanly"
    server = KernelServer(preload=())
    try:
        _fork(server, modules, "exit_probe", "forked.txt")
    finally:
        server.close()
    # before the fix the fork ran the atexit functions and _exit without these hooks: a kernel
    # with loky replication workers hung at exit or killed a worker still starting
    assert (modules / "forked.txt").read_text() == "stopped cleanly"


def test_a_forked_kernel_has_the_hash_seed_of_a_new_interpreter(modules, monkeypatch):
    for name, value in DETERMINISTIC_ENV.items():
        monkeypatch.setenv(name, value)
    subprocess.run(
        [sys.executable, "-m", "hash_probe", "plain.txt"],
        cwd=modules,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    server = KernelServer(preload=())
    try:
        _fork(server, modules, "hash_probe", "forked.txt")
    finally:
        server.close()
    assert (modules / "forked.txt").read_text() == (modules / "plain.txt").read_text()


@pytest.mark.parametrize("name", ["PYTHONHASHSEED", "OMP_NUM_THREADS"])
def test_a_kernel_asking_for_another_start_up_environment_is_not_forked(
    modules, monkeypatch, capsys, name
):
    monkeypatch.delenv(name, raising=False)
    server = KernelServer(preload=())  # started without the variable
    try:
        cmd = [sys.executable, "-m", "hash_probe", "forked.txt"]
        env = {**os.environ, name: DETERMINISTIC_ENV[name]}
        assert server.launch(cmd, env=env, cwd=modules) is None  # a new interpreter instead
    finally:
        server.close()
    err = capsys.readouterr().err
    assert name in err and "kernels start as new interpreters" in err
    assert not (modules / "forked.txt").exists()


def test_the_plan_starts_its_server_with_the_deterministic_environment(sandbox, monkeypatch):
    """PYTHONHASHSEED acts at interpreter start: the forked kernels inherit the server's."""
    from analysis.pipeline.plan import load_plan
    from analysis.pipeline.runner import run_plan
    from test_runner import _probe_notebook, _write_plan

    for name in DETERMINISTIC_ENV:
        monkeypatch.delenv(name, raising=False)
    seen: dict[str, object] = {}

    class Spy(KernelServer):
        def __init__(self) -> None:
            super().__init__()
            seen["env"] = dict(self._env)

        def launch(self, cmd, *, env, cwd):
            seen["pid"] = super().launch(cmd, env=env, cwd=cwd)
            return seen["pid"]

    monkeypatch.setattr(runner, "KernelServer", Spy)
    _probe_notebook(sandbox / "notebooks" / "99_probe.ipynb")
    plan = _write_plan(sandbox, [{"id": "probe_a", "notebook": "99_probe", "title": "A"}])
    outcomes = run_plan(load_plan(plan), progress=False, force=True)
    assert [o.status for o in outcomes] == ["success"], outcomes
    assert {k: seen["env"].get(k) for k in DETERMINISTIC_ENV} == DETERMINISTIC_ENV
    assert isinstance(seen["pid"], int)  # the kernel was forked, not started anew


def test_a_dead_server_makes_kernels_start_as_new_interpreters_and_says_so_once(modules, capsys):
    server = KernelServer(preload=())
    try:
        assert server._wait_ready()
        os.kill(server.pid, signal.SIGKILL)
        server._proc.wait()
        cmd = [sys.executable, "-m", "hash_probe", "forked.txt"]
        assert server.launch(cmd, env=dict(os.environ), cwd=modules) is None
        assert server.launch(cmd, env=dict(os.environ), cwd=modules) is None
    finally:
        server.close()
    err = capsys.readouterr().err
    assert err.count("the kernel server failed") == 1, err
    assert not Path(server.address).parent.exists()


def test_a_server_whose_starter_was_killed_ends_and_removes_its_folder(tmp_path):
    code = (
        "import os\n"
        "from analysis.pipeline.runner import KernelServer\n"
        "s = KernelServer(preload=())\n"
        "assert s._wait_ready()\n"
        "print(s.pid, s.address, flush=True)\n"
        "os._exit(0)\n"  # killed: close() never runs
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pid, address = out.stdout.split()
    assert _gone(int(pid)), "the server outlived the process that started it"
    deadline = time.monotonic() + 30
    while Path(address).parent.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(address).parent.exists()  # its socket folder went with it
