"""Execute the plan with papermill: cache, failure isolation, provenance, atomic results.

For each selected run the runner

1. checks the raw data against their SHA256SUMS (once per invocation);
2. computes a cache key from the notebook file, the effective parameters, the declared input
   files, the source of ``src/analysis`` and ``requirements.lock``; a run whose key equals that
   of its last *successful* execution is skipped (``--force`` reruns);
3. writes the run context (parameters, input hashes, git state, environment, the plan file)
   that the notebook's provenance block shows;
4. executes the notebook with the project's own ``python3`` kernel into
   ``reports/executed/<id>.ipynb`` (written via a temporary file); locally the kernel is a
   fork of a warm interpreter that has imported the common libraries once for the whole plan
   (:class:`KernelServer`);
5. on success promotes the notebook's staged results to ``reports/results/<id>.json``; on
   failure records the error and removes any previous results of that run, so the index can
   never show stale numbers as current.

A failing run never stops the others; :func:`run_plan` reports every outcome.  Every per-run
path comes from :mod:`analysis.pipeline.state`.

``--quick`` reaches a run through one channel: the run's ``quick`` overrides in the plan
(:meth:`~analysis.pipeline.plan.Run.effective_parameters`); the context records ``quick`` so
the notebook shows the QUICK banner and its results say they are quick.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import paths
from analysis.data import integrity
from analysis.pipeline import provenance
from analysis.pipeline.plan import Plan, Run
from analysis.pipeline.state import (
    PromotionError,
    atomic_write_text,
    context_path,
    executed_path,
    executed_staging_path,
    promote,
    read_state,
    results_path,
    staging_path,
    write_state,
)

KERNEL_NAME = "python3"

#: The environment every notebook kernel starts with, so that two runs give the same bits:
#: - one thread: parallel reductions (BLAS, numba, Rust/rayon in pyfixest and diff-diff) sum in
#:   an order that depends on thread scheduling;
#: - a fixed string-hash seed: with Python's random per-process hash seed, set iteration order
#:   inside pyfixest's fixed-effects code changed the last digit of the DiD estimate between
#:   runs (found by the byte-identical rerun test).
DETERMINISTIC_ENV = {
    **{
        name: "1"
        for name in (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "NUMEXPR_NUM_THREADS",
            "NUMBA_NUM_THREADS",
            "RAYON_NUM_THREADS",
            "POLARS_MAX_THREADS",
            "VECLIB_MAXIMUM_THREADS",
        )
    },
    "PYTHONHASHSEED": "0",
}


def deterministic_environment() -> None:
    """Set :data:`DETERMINISTIC_ENV` for the kernels started from this process."""
    os.environ.update(DETERMINISTIC_ENV)


#: Environment variable telling a kernel how many processes its replications may use
#: (read by :mod:`analysis.replicate`): the cores divided among the runs executing at once.
JOBS_ENV = "ANALYSIS_JOBS"
#: Environment variable naming the Dask scheduler (runs and, through joblib, replications).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def kernel_jobs(workers: int, cores: int | None = None) -> int:
    """Replication workers per kernel: ``max(1, cores // workers)``."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


@contextlib.contextmanager
def _kernel_env(values: dict[str, str | None]) -> Any:
    """Set environment variables for the kernels started inside the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def kernel_manager_class(server: KernelServer | None = None) -> type:
    """The kernel manager papermill starts each run's kernel with (quiet, encrypted transport).

    With ``server``, the kernel is a fork of the server's warm interpreter
    (:class:`KernelServer`) instead of a new interpreter; when the server cannot start one, the
    kernel starts as a new interpreter.

    Two log lines that every run used to print, removed at their cause:

    - "Kernel is running over TCP without encryption": the kernel's zmq sockets now use
      CurveZMQ keys provisioned by the manager (``transport_encryption="auto"``; the
      ipykernel kernelspec declares ``supported_encryption: curve``).  On a shared cluster node
      this also keeps other users from reading a kernel's traffic.
    - "KeyboardInterrupt caught in kernel": jupyter_client's ``shutdown_kernel`` sends SIGINT
      to the kernel before its shutdown request; a kernel still handling a message then logs
      the interrupt (seen in parallel builds, where kernels finish while the machine is busy).
      The run is over when papermill shuts the kernel down, so no interrupt is sent then: the
      shutdown request, and SIGTERM/SIGKILL after ``shutdown_wait_time``, still stop it.  A
      Ctrl-C still reaches the kernels (:func:`_interrupt_kernels`), and a cell timeout is still
      handled by nbclient.
    """
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport_encryption", "auto")
            super().__init__(**kwargs)

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            pid = None
            if server is not None:
                pid = server.launch(
                    kernel_cmd, env=kw.get("env") or dict(os.environ), cwd=kw.get("cwd")
                )
            if pid is None:
                await super()._async_launch_kernel(kernel_cmd, **kw)
                return
            # what LocalProvisioner.launch_kernel records of the process it starts
            provisioner = self.provisioner
            provisioner.process = ForkedKernel(pid)
            provisioner.pid = provisioner.pgid = pid  # the kernel leads its own session
            provisioner.cwd = kw.get("cwd")
            self._reconcile_connection_info(provisioner.connection_info)

    return QuietKernelManager


#: Modules that the kernels of a plan import and that the kernel server imports once for all
#: of them (:class:`KernelServer`): the kernel itself, the data and plotting stack every page
#: uses, scipy.stats (seaborn, diff_diff and the methods import it), the synthetic-control
#: backend, the pupil-register schemas and the replication pool.  Only modules that start no
#: thread of their own at import are listed (a fork keeps only the forking thread; pyarrow's
#: allocator thread is restarted by jemalloc in the child): pyfixest and statsmodels, which
#: start polars' threads, are left to the kernels.
KERNEL_PRELOAD = (
    "ipykernel.kernelapp",
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "scipy.stats",
    "matplotlib.pyplot",
    "seaborn",
    "diff_diff",
    "pandera.pandas",
    "joblib",
)


def fork_sensitive_differences(server: Mapping[str, str], kernel: Mapping[str, str]) -> str:
    """The variables read at interpreter start or library import whose values differ (names).

    A kernel forked by the :class:`KernelServer` has what the server read of its environment
    when it started and imported :data:`KERNEL_PRELOAD`: the string-hash seed (``PYTHONHASHSEED``
    acts only at interpreter start), the interpreter's other ``PYTHON*`` settings, the thread
    counts of :data:`DETERMINISTIC_ENV` (OpenBLAS sizes its pool when numpy is imported), the
    locale and matplotlib's configuration folder.  Only a kernel whose environment agrees on all
    of these may be forked; the names (never the values) of those that differ are returned,
    comma-separated ("" when none).
    """
    names = set(DETERMINISTIC_ENV) | set(_FORK_SENSITIVE)
    names |= {k for k in (*server, *kernel) if k.startswith("PYTHON")}
    return ", ".join(sorted(k for k in names if server.get(k) != kernel.get(k)))


_FORK_SENSITIVE = ("LANG", "LC_ALL", "LC_CTYPE", "LD_PRELOAD", "LD_LIBRARY_PATH", "MPLCONFIGDIR")


class ForkedKernel:
    """The process handle of a kernel forked by the :class:`KernelServer`.

    What jupyter_client's ``LocalProvisioner`` uses of a ``subprocess.Popen``: ``pid``,
    ``poll``, ``wait``, ``send_signal``, ``kill``, ``terminate`` and the (absent) pipes.  The
    kernel is a child of the server, which reaps it; this process sees it end through psutil.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """``None`` while the kernel runs, then 0 (its exit status is the server's to read)."""
        import psutil

        if self.returncode is None:
            try:
                if psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE:
                    return None
            except psutil.NoSuchProcess:
                pass
            self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the kernel has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                import subprocess

                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return 0

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the kernel (nothing when it has ended)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL."""
        import signal

        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM."""
        import signal

        self.send_signal(signal.SIGTERM)


class KernelServer:
    """Start a plan's kernels as forks of one interpreter that has imported their libraries.

    Every run executes in a new kernel.  Started as a new interpreter (jupyter_client's way),
    each kernel imports ipykernel, pandas, matplotlib, scipy.stats and seaborn again: 1-2 s of
    CPU per run, a fifth of the plan.  The server is a Python process, started with the
    plan's environment, that imports :data:`KERNEL_PRELOAD` once and then, for each kernel,
    forks: the child leads its own session (as jupyter_client's kernels do), takes the
    kernel's environment and working directory, drops any module of this package (the kernel
    imports it from its own environment) and runs the kernel command's module
    (``python -m ipykernel_launcher -f <connection file>``) as ``__main__``.  The kernel is
    the same program with the same environment; only the import of the listed libraries is
    shared (copy-on-write).  Jupyter has no provisioner that forks a warm interpreter, hence
    this class; the transport is the standard library's (``multiprocessing.connection`` on a
    Unix socket in a private temporary folder).

    The server ignores SIGINT (a Ctrl-C reaches the kernels through
    :func:`_interrupt_kernels`), reaps its kernels, and exits when :meth:`close` terminates it
    or when the process that started it ends.  A kernel command that is not
    ``<this python> -m <module> ...``, or a server that could not start, makes
    :meth:`launch` return ``None``: the kernel then starts as a new interpreter.
    """

    def __init__(self, preload: Sequence[str] = KERNEL_PRELOAD) -> None:
        import pickle
        import subprocess
        import tempfile

        self._dir = tempfile.mkdtemp(prefix="analysis-kernels-")  # mode 0700: ours only
        self.address = os.path.join(self._dir, "server")
        read_fd, write_fd = os.pipe()
        self._ready_fd: int | None = read_fd
        self._failed = False
        self._lock = threading.Lock()
        # what the server starts with is what every forked kernel has of its start-up
        self._env = dict(os.environ)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from analysis.pipeline.runner import _serve; _serve()"],
            stdin=subprocess.PIPE,
            pass_fds=(write_fd,),
            cwd=self._dir,
            env=self._env,
        )
        os.close(write_fd)
        config = {"address": self.address, "ready_fd": write_fd, "preload": list(preload)}
        self._proc.stdin.write(pickle.dumps(config))
        self._proc.stdin.close()

    @property
    def pid(self) -> int:
        """The server's process id (the parent of its kernels)."""
        return self._proc.pid

    def _wait_ready(self, timeout: float = 120.0) -> bool:
        import select

        with self._lock:  # the plan's threads launch kernels at the same time
            if self._ready_fd is not None:
                ready, _, _ = select.select([self._ready_fd], [], [], timeout)
                ok = bool(ready) and os.read(self._ready_fd, 1) == b"1"
                os.close(self._ready_fd)
                self._ready_fd = None
                if not ok:
                    self._fail("it did not start")
            return not self._failed

    def _fail(self, why: str) -> None:
        if not self._failed:
            self._failed = True
            print(
                f"analysis: the kernel server failed ({why}); kernels start as new interpreters",
                file=sys.stderr,
            )

    def launch(self, cmd: Sequence[str], *, env: Mapping[str, str], cwd: Any) -> int | None:
        """Fork a kernel running ``cmd``; return its pid (``None``: start it the usual way)."""
        from multiprocessing.connection import Client

        if (
            len(cmd) < 3
            or cmd[1] != "-m"
            or os.path.realpath(cmd[0]) != os.path.realpath(sys.executable)
        ):
            return None
        differ = fork_sensitive_differences(self._env, env)
        if differ:
            # a fork keeps the server's hash seed and the thread pools its libraries sized at
            # import: a kernel asking for other values must start as a new interpreter
            self._fail(f"the kernel's environment differs from the server's in {differ}")
            return None
        if not self._wait_ready():
            return None
        request = {"cmd": list(cmd), "env": dict(env), "cwd": str(cwd or os.getcwd())}
        try:
            with Client(self.address, family="AF_UNIX") as conn:
                conn.send(request)
                reply = conn.recv()
        except (OSError, EOFError) as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            return None
        if not isinstance(reply, int):
            self._fail(str(reply))
            return None
        return reply

    def close(self) -> None:
        """Stop the server (its kernels, already shut down by their runs, are not waited for)."""
        import shutil
        import subprocess

        with self._lock:
            if self._ready_fd is not None:
                os.close(self._ready_fd)
                self._ready_fd = None
        self._proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


def _serve() -> None:
    """The body of the :class:`KernelServer` process (configuration read from stdin)."""
    import gc
    import importlib
    import pickle
    import signal
    import socket

    config = pickle.loads(sys.stdin.buffer.read())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The environment the kernels will have, for what modules read from it at import:
    # ipykernel's parent process (jupyter_client sets it; the kernels' parent is this process)
    # and the backend ipykernel chooses when a kernel starts, before matplotlib reads it.
    os.environ["JPY_PARENT_PID"] = str(os.getpid())
    if not os.environ.get("MPLBACKEND"):
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    for name in config["preload"]:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    # the objects of the preloaded modules live as long as the kernels: the kernels' garbage
    # collections skip them (IPython's collection at kernel exit took 0.15 s otherwise), and
    # their pages stay shared between the kernels (Python's advice for forking servers)
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(config["address"])
    listener.listen()
    listener.settimeout(0.5)
    os.write(config["ready_fd"], b"1")
    os.close(config["ready_fd"])
    parent = os.getppid()
    try:
        _accept_loop(listener, parent)
    finally:  # the process that started the server ended without closing it (killed)
        import shutil

        shutil.rmtree(os.path.dirname(config["address"]), ignore_errors=True)


def _accept_loop(listener: Any, parent: int) -> None:
    """Fork a kernel for each request until the process that started the server has ended."""
    from multiprocessing.connection import Connection

    while os.getppid() == parent:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            continue
        sock.setblocking(True)
        conn = Connection(sock.detach())
        try:
            request = conn.recv()
            pid = os.fork()
            if pid == 0:
                _kernel_child(request, listener, conn)
            conn.send(pid)
        except Exception as exc:  # noqa: BLE001 - the requester falls back and says why
            with contextlib.suppress(OSError):
                conn.send(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()


def _kernel_child(request: dict[str, Any], listener: Any, conn: Any) -> None:
    """In a forked child of the server: become the kernel ``request`` describes; never return."""
    import atexit
    import runpy
    import signal
    import traceback

    code = 1
    try:
        listener.close()
        conn.close()
        os.setsid()
        for sig in (signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["JPY_PARENT_PID"] = str(os.getppid())  # the kernel watches its parent
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for name in [m for m in sys.modules if m == "analysis" or m.startswith("analysis.")]:
            del sys.modules[name]
        sys.path[0] = os.getcwd()  # as `python -m` sets it
        cmd = request["cmd"]
        sys.argv = [cmd[2], *cmd[3:]]
        runpy.run_module(cmd[2], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported on stderr as an interpreter would
        traceback.print_exc()
    finally:
        # what the interpreter does at exit, in its order: wait for the threads that are not
        # daemons after calling the hooks registered for that moment (loky's executor stops its
        # replication workers there; skipped, the kernel hung at exit in multiprocessing's join
        # of a worker never told to stop, or a worker still starting found its semaphores
        # unlinked), then the atexit functions; os._exit so that nothing of the server runs
        with contextlib.suppress(BaseException):
            threading._shutdown()  # type: ignore[attr-defined]  # Py_FinalizeEx's first step
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _import_papermill() -> Any:
    """Import papermill without jsonschema's IRI format checker.

    papermill validates notebooks with nbformat, which imports jsonschema; jsonschema's format
    checkers import ``rfc3987_syntax`` when it is installed (here through jupyter-events'
    ``format-nongpl`` extra), and that module builds a parser for the IRI grammar at import:
    1.2 s on a quiet machine, twice the rest of papermill, paid by every command that runs the
    plan before its first kernel starts, for a format that no notebook schema uses.  The module
    is hidden while jsonschema is first imported, then the import system is left as it was.
    """
    hide = "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules
    if hide:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # ImportError
    try:
        import papermill
    finally:
        if hide and sys.modules.get("rfc3987_syntax", 0) is None:
            del sys.modules["rfc3987_syntax"]
    return papermill


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one run."""

    run_id: str
    status: str  # "success", "cached", "failed"
    seconds: float
    error: str | None = None


def _hash_files(files: Iterable[Path]) -> dict[str, str]:
    return {paths.relative(f): integrity.sha256(f) for f in sorted(set(files))}


def declared_inputs(run: Run, parameters: dict[str, Any]) -> dict[str, str]:
    """Hash the files a run reads: its plan ``inputs`` globs and any parameter naming a file."""
    files: list[Path] = []
    own = results_path(run.id).resolve()
    for pattern in run.inputs:
        # "reports/..." patterns (other runs' results) follow the reports folder in use
        base = paths.REPORTS_DIR.parent if pattern.startswith("reports/") else paths.ROOT
        if pattern.startswith("reports/"):
            pattern = paths.REPORTS_DIR.name + pattern[len("reports") :]
        matches = [Path(p) for p in glob.glob(str(base / pattern), recursive=True)]
        files += [
            p
            for p in matches
            if p.is_file() and p.name not in integrity.UNMANIFESTED and p.resolve() != own
        ]
    for value in parameters.values():
        if (
            isinstance(value, str)
            and value
            and ("/" in value or value.endswith((".csv", ".parquet")))
        ):
            candidate = (paths.ROOT / value) if not Path(value).is_absolute() else Path(value)
            if candidate.is_file():
                files.append(candidate)
    return _hash_files(files)


def source_fingerprint() -> str:
    """Hash of the package source (``src/analysis``) and the lock file."""
    h = hashlib.sha256()
    pkg = paths.PACKAGE_DIR
    for f in sorted(pkg.rglob("*")):
        if (
            f.is_file()
            and "__pycache__" not in f.parts
            and f.suffix in {".py", ".yaml", ".j2", ".json", ".css"}
        ):
            h.update(f.relative_to(pkg).as_posix().encode())
            h.update(f.read_bytes())
    if paths.LOCK_FILE.exists():
        h.update(paths.LOCK_FILE.read_bytes())
    return h.hexdigest()


def reports_fingerprint(plan: Plan, *, extra: str = "") -> str:
    """Hash of everything a published reports folder is built from and consists of.

    The plan file, every file of the package (code, templates, catalogues), every file under
    the reports folder (state files, executed notebooks, results, pages, index) and the
    registered pupil-id lists.  ``python -m analysis report`` records it after a complete build
    and skips ``publish`` when it is unchanged: a no-op rerun does no work beyond hashing.
    """
    h = hashlib.sha256()
    h.update(extra.encode())
    skip = {published_stamp_path().resolve(), (paths.STATE_DIR / "lock").resolve()}
    groups = (
        ("plan", [plan.source]),
        ("package", sorted(paths.PACKAGE_DIR.rglob("*"))),
        ("reports", sorted(paths.REPORTS_DIR.rglob("*"))),
        ("ids", sorted((paths.PRIVATE_DIR / "pupil_ids").glob("*.txt"))),
    )
    for name, files in groups:
        h.update(name.encode())
        for f in files:
            if (
                not f.is_file()
                or "__pycache__" in f.parts
                or f.name.endswith(".tmp")
                or f.resolve() in skip
            ):
                continue
            h.update(str(f).encode())
            h.update(integrity.sha256(f).encode())
    return h.hexdigest()


def published_stamp_path() -> Path:
    """Where ``report`` records :func:`reports_fingerprint` after a complete build."""
    return paths.STATE_DIR / "published.sha256"


def cache_key(
    run: Run,
    parameters: dict[str, Any],
    inputs: dict[str, str],
    source: str,
    *,
    quick: bool = False,
) -> str:
    """The hash that decides whether a run can be skipped (``quick`` changes the banner)."""
    h = hashlib.sha256()
    h.update(b"quick" if quick else b"full")
    h.update(run.notebook_path.read_bytes())
    h.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    h.update(json.dumps(inputs, sort_keys=True).encode())
    h.update(source.encode())
    return h.hexdigest()


def artefact_hashes(run_id: str) -> dict[str, str | None]:
    """SHA-256 of the run's executed notebook and results JSON (``None`` when missing)."""
    return {
        name: integrity.sha256(p) if p.exists() else None
        for name, p in (("executed", executed_path(run_id)), ("results", results_path(run_id)))
    }


def artefacts_intact(run_id: str, state: dict[str, Any] | None = None) -> bool:
    """Whether the executed notebook and results are byte for byte what the run wrote.

    An edited, truncated or corrupted artefact is never cached, published or verified as
    current: the state records their hashes when the run succeeds.
    """
    state = read_state(run_id) if state is None else state
    recorded = (state or {}).get("artefacts")
    return bool(recorded) and recorded == artefact_hashes(run_id) and None not in recorded.values()


def _is_cached(run: Run, key: str) -> bool:
    state = read_state(run.id)
    return bool(
        state
        and state.get("status") == "success"
        and state.get("cache_key") == key
        and artefacts_intact(run.id, state)
    )


def _error_excerpt(exc: BaseException, limit: int = 1500) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    text = f"{ename}: {evalue}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def execute(
    run: Run,
    *,
    quick: bool,
    key: str,
    inputs: dict[str, str],
    git: dict[str, Any],
    timeout: int | None,
    plan_file: Path | None = None,
    kernel_server: KernelServer | None = None,
) -> RunOutcome:
    """Execute one run (no cache check); record its state; never raise for notebook errors.

    ``plan_file`` is the plan the run belongs to; the context records it so that a notebook
    that describes the plan (the methodology note) reads the one that ran.  ``kernel_server``
    forks the run's kernel (:class:`KernelServer`); without it the kernel is a new interpreter.
    """
    papermill = _import_papermill()
    params = run.effective_parameters(quick=quick)
    t0 = time.monotonic()
    context = {
        "run_id": run.id,
        "title": run.title,
        "notebook": paths.relative(run.notebook_path),
        "parameters": {k: v for k, v in params.items() if k != "run_id"},
        "quick": quick,
        "plan": paths.relative(plan_file or paths.PLAN_FILE),
        "inputs": inputs,
        "git": git,
        "started_utc": provenance.utc_now(),
        "environment": provenance.environment(),
    }
    atomic_write_text(context_path(run.id), json.dumps(context, indent=1, sort_keys=True))
    # Until this run finishes, nothing of its previous execution may pass for current: the state
    # says "running" (an interrupted run stays so) and the old results and notebook are removed.
    write_state(
        run.id,
        {
            "run_id": run.id,
            "status": "running",
            "cache_key": None,
            "started_utc": context["started_utc"],
        },
    )
    results_path(run.id).unlink(missing_ok=True)
    executed_path(run.id).unlink(missing_ok=True)
    staged = staging_path(run.id)
    staged.unlink(missing_ok=True)
    out = executed_path(run.id)
    tmp = executed_staging_path(run.id)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    error = None
    try:
        papermill.execute_notebook(
            str(run.notebook_path),
            str(tmp),
            parameters=params,
            kernel_name=KERNEL_NAME,
            cwd=str(paths.NOTEBOOKS_DIR),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            execution_timeout=timeout,
            kernel_manager_class=kernel_manager_class(kernel_server),
        )
        if not staged.exists():
            raise RuntimeError(
                "the notebook finished without saving results (report.save(...) was not called)"
            )
    except BaseException as exc:  # noqa: BLE001 - any failure is recorded, the plan goes on
        if isinstance(exc, KeyboardInterrupt):
            tmp.unlink(missing_ok=True)
            raise
        error = _error_excerpt(exc)
        if not hasattr(exc, "ename"):
            error += "\n" + "".join(traceback.format_exception(exc)[-3:])
    seconds = round(time.monotonic() - t0, 2)
    # Promotion: fsync, parse, rename (state.promote).  A notebook or results file cut short (a
    # full disk) is removed, never promoted, and the run is failed with the reason.
    problems: list[str] = []
    if tmp.exists():
        try:
            promote(tmp, out)
        except PromotionError as exc:
            problems.append(str(exc))
    elif error is None:
        problems.append("papermill wrote no executed notebook")
    if error is None and not problems:
        try:
            promote(staged, results_path(run.id))
        except PromotionError as exc:
            problems.append(str(exc))
    if problems:
        error = "\n".join(([error] if error else []) + problems)
    if error is None:
        status = "success"
    else:
        staged.unlink(missing_ok=True)
        results_path(run.id).unlink(missing_ok=True)
        if problems:
            out.unlink(missing_ok=True)  # the run did not complete: show nothing of it as current
        status = "failed"
    state = {
        "run_id": run.id,
        "status": status,
        "cache_key": key if status == "success" else None,
        "artefacts": artefact_hashes(run.id) if status == "success" else None,
        "seconds": seconds,
        "error": error,
        "quick": quick,
        "finished_utc": provenance.utc_now(),
    }
    write_state(run.id, state)
    return RunOutcome(run.id, status, seconds, error)


def _reads_all(run: Run) -> bool:
    return any(i.startswith("reports/") and "*" in i for i in run.inputs)


def _named_results(run: Run) -> set[str]:
    return {
        i.removeprefix("reports/results/").removesuffix(".json")
        for i in run.inputs
        if i.startswith("reports/results/") and "*" not in i
    }


def run_dependencies(runs: Sequence[Run]) -> dict[str, set[str]]:
    """The runs each run must wait for (ids among ``runs``), from what it reads.

    1. the data build (notebook ``00_data_build``) builds the processed panels from the raw
       data: a run that declares raw data among its inputs (``data/...``) waits for it, so that
       two runs never rebuild the same panel at once.  A run that reads no raw data (the
       programme reports on their pupil panels) does not wait for it;
    2. a run that reads named results (``reports/results/<id>.json``: the SIINC payments read
       the programme's headline) waits for those runs;
    3. a run that reads every result (``reports/results/*.json``: the methodology note) waits
       for every run that neither reads every result nor reads such a run's results.

    Raises
    ------
    ValueError
        When runs read each other's results in a cycle.
    """
    builds = {r.id for r in runs if r.notebook == "00_data_build"}
    ids = {r.id for r in runs}
    all_readers = {r.id for r in runs if _reads_all(r)}
    deps: dict[str, set[str]] = {}
    for r in runs:
        out: set[str] = set()
        if r.id not in builds:
            if any(i.startswith("data/") for i in r.inputs) or _reads_all(r):
                out |= builds
            out |= {rid for rid in _named_results(r) if rid in ids and rid != r.id}
            if _reads_all(r):
                out |= {
                    o.id
                    for o in runs
                    if o is not r
                    and o.id not in builds
                    and not _reads_all(o)
                    and not (_named_results(o) & all_readers)
                }
        deps[r.id] = out
    _levels(runs, deps)  # refuses cycles
    return deps


def _levels(runs: Sequence[Run], deps: Mapping[str, set[str]]) -> dict[str, int]:
    level: dict[str, int] = {}
    pending = list(runs)
    while pending:
        ready = [r for r in pending if deps[r.id] <= set(level)]
        if not ready:
            cycle = ", ".join(r.id for r in pending)
            raise ValueError(f"the plan's runs read each other's results in a cycle: {cycle}")
        for r in ready:
            level[r.id] = 1 + max((level[d] for d in deps[r.id]), default=-1)
        pending = [r for r in pending if r not in ready]
    return level


def plan_stages(runs: list[Run]) -> list[list[Run]]:
    """Order runs into stages: each run comes after every run it waits for.

    Stage ``n`` holds the runs whose longest chain of :func:`run_dependencies` has ``n`` links,
    in plan order.  A serial plan (one worker) runs the stages one after the other; a parallel
    plan starts each run as soon as the runs it waits for have finished (:func:`run_order`).
    """
    level = _levels(runs, run_dependencies(runs))
    return [
        stage
        for n in sorted(set(level.values()))
        if (stage := [r for r in runs if level[r.id] == n])
    ]


def run_order(
    runs: Sequence[Run], deps: Mapping[str, set[str]], seconds: Mapping[str, float]
) -> list[Run]:
    """The order in which a parallel plan starts the runs that are ready (most urgent first).

    Runs are ranked by the longest chain of work they open: their own duration plus the
    longest such chain among the runs waiting for them (the "upward rank" of list scheduling,
    which for independent runs is longest-first).  Starting long runs and the runs others wait
    for first keeps every worker busy until the end of the plan instead of leaving one long
    run alone at the tail.  ``seconds`` are the durations of the last executions (state files);
    a run never executed counts as the mean of the known ones.  Ties keep the plan order.
    The order changes only when runs start, never what they compute.
    """
    known = [v for v in seconds.values() if v and v > 0]
    default = sum(known) / len(known) if known else 1.0
    waiting_on: dict[str, list[str]] = {r.id: [] for r in runs}
    for rid, ds in deps.items():
        for d in ds:
            waiting_on[d].append(rid)
    rank: dict[str, float] = {}

    def upward(rid: str) -> float:
        if rid not in rank:
            own = seconds.get(rid) or default
            rank[rid] = own + max((upward(w) for w in waiting_on[rid]), default=0.0)
        return rank[rid]

    position = {r.id: i for i, r in enumerate(runs)}
    return sorted(runs, key=lambda r: (-upward(r.id), position[r.id]))


def last_seconds(runs: Sequence[Run]) -> dict[str, float]:
    """The duration of each run's last execution, from its state file (missing: not known)."""
    out = {}
    for r in runs:
        with contextlib.suppress(OSError, ValueError):
            seconds = (read_state(r.id) or {}).get("seconds")
            if isinstance(seconds, int | float) and seconds > 0:
                out[r.id] = float(seconds)
    return out


def run_plan(
    plan: Plan,
    *,
    only: str | None = None,
    force: bool = False,
    quick: bool = False,
    progress: bool = True,
    workers: int | None = 1,
    scheduler: str | None = None,
    jobs: int | None = None,
) -> list[RunOutcome]:
    """Run the selected runs of the plan; return one outcome per run, in plan order.

    ``workers`` runs execute at the same time (each in its own kernel, started from a thread of
    this process), stage by stage (:func:`plan_stages`); ``None`` means one per core, or with a
    ``scheduler`` as many as the cluster has worker threads.  Results do not depend on
    ``workers``: every kernel is single-threaded with a fixed hash seed, and each run writes
    only its own artefacts.  Ctrl-C (SIGINT) stops the plan: no new run starts, the kernels
    that received the signal stop their cell, the interrupted runs are recorded as
    ``interrupted`` and :class:`KeyboardInterrupt` is raised once every worker has stopped.

    ``scheduler`` (a ``dask.distributed`` scheduler address) sends each run that must execute
    to the cluster as a task (:func:`cluster_task`); the workers must see this repository at the
    same path (a shared filesystem).  The cache check, the stages and the state files are the
    same as locally; the kernels also receive ``DASK_SCHEDULER_ADDRESS`` so that their
    replications run on the cluster (joblib's Dask backend).

    ``jobs`` is the ``ANALYSIS_JOBS`` every kernel receives (replication processes per kernel);
    default ``max(1, cores // workers)`` (:func:`kernel_jobs`).

    Raises
    ------
    DataValidationError
        Before any run, when the raw data differ from their manifests.
    KeyboardInterrupt
        After Ctrl-C, once the interrupted runs are recorded.
    ImportError
        With ``scheduler``, when the optional extra ``dask`` is not installed.
    """
    import signal
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer or None, got {jobs!r}")
    runs = plan.select(only)
    integrity.verify_raw()
    deterministic_environment()
    source = source_fingerprint()
    timeout = plan.settings.get("cell_timeout", 1800)
    outcomes: dict[str, RunOutcome] = {}
    stop = threading.Event()
    clusters: list[_Cluster] = []  # connected when the first run must execute
    git_cache: list[dict[str, Any]] = []
    bars: list[Any] = []

    def cluster() -> _Cluster | None:
        if scheduler and not clusters:
            clusters.append(_Cluster(scheduler, plan=plan, quick=quick))
        return clusters[0] if clusters else None

    def one(run: Run, key: str, inputs: dict[str, str]) -> RunOutcome:
        if stop.is_set():
            return RunOutcome(run.id, "not run", 0.0, "interrupted before it started")
        if scheduler:
            outcome = cluster().execute(run, key=key, stop=stop)
        else:
            if not git_cache:
                git_cache.append(provenance.git_state())
            try:
                outcome = execute(
                    run,
                    quick=quick,
                    key=key,
                    inputs=inputs,
                    git=git_cache[0],
                    timeout=timeout,
                    plan_file=plan.source,
                    kernel_server=servers[0] if servers else None,
                )
            except OSError as exc:  # the state itself could not be written (disk full)
                outcome = _record_failure(run.id, f"{type(exc).__name__}: {exc}")
        if stop.is_set() and outcome.status == "failed":
            outcome = _mark_interrupted(run.id, outcome)
        return outcome

    def done(o: RunOutcome) -> None:
        outcomes[o.run_id] = o
        if bars:
            bars[0].set_postfix_str(o.run_id)
            bars[0].update(1)

    def start_bar() -> None:
        # only when a run must execute: a plan with nothing to run imports neither tqdm nor
        # papermill, starts no kernel and contacts no cluster (the no-op rerun is hashing only)
        from tqdm import tqdm

        bars.append(
            tqdm(
                total=len(runs),
                initial=len(outcomes),
                unit="run",
                desc="runs",
                file=sys.stderr,
                disable=not progress,
                ascii=True,
                dynamic_ncols=False,
                ncols=90,
            )
        )

    deps = run_dependencies(runs)
    order = run_order(runs, deps, last_seconds(runs))
    rank = {r.id: i for i, r in enumerate(order)}
    finished: set[str] = set()
    waiting = list(order)
    running: dict[Any, str] = {}  # future -> run id
    pools: list[ThreadPoolExecutor] = []
    servers: list[KernelServer] = []  # local kernels fork from it (started with the first run)
    env_set = contextlib.ExitStack()

    def ready_runs() -> list[tuple[Run, str, dict[str, str]]]:
        """Check the cache of every run whose dependencies have finished; return those to run.

        A run's cache key is computed when the runs it waits for have finished: the methodology
        note's inputs are the other runs' results.
        """
        todo = []
        progressed = True
        while progressed:
            progressed = False
            for run in [r for r in waiting if deps[r.id] <= finished]:
                waiting.remove(run)
                params = run.effective_parameters(quick=quick)
                inputs = declared_inputs(run, params)
                key = cache_key(run, params, inputs, source, quick=quick)
                if not force and _is_cached(run, key):
                    done(RunOutcome(run.id, "cached", 0.0))
                    finished.add(run.id)
                    progressed = True
                else:
                    todo.append((run, key, inputs))
        return todo

    def start_executing() -> int:
        nonlocal workers
        if not bars:
            start_bar()
        if scheduler and workers is None:
            workers = cluster().threads
        elif workers is None:
            workers = os.cpu_count() or 1
        env = {JOBS_ENV: str(jobs or kernel_jobs(workers))}
        if scheduler:
            env[SCHEDULER_ENV] = scheduler
        env_set.enter_context(_kernel_env(env))
        if not scheduler:  # started with the kernels' environment
            servers.append(KernelServer())
        return workers

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    plan_done = threading.Event()
    threading.Thread(target=_watch, args=(stop, plan_done, clusters), daemon=True).start()
    try:
        queue: list[tuple[Run, str, dict[str, str]]] = []
        while not stop.is_set():
            queue += ready_runs()
            queue.sort(key=lambda item: rank[item[0].id])
            if not queue and not running:
                break  # every run done (the dependencies cannot cycle: checked above)
            if queue and not bars:
                start_executing()
            if workers == 1:  # one run at a time, in this thread
                run, key, inputs = queue.pop(0)
                done(one(run, key, inputs))
                finished.add(run.id)
                continue
            if not pools:
                pools.append(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run"))
            while queue and len(running) < workers:
                item = queue.pop(0)
                running[pools[0].submit(one, *item)] = item[0].id
            completed, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
            for f in completed:
                done(f.result())
                finished.add(running.pop(f))
        if running:  # Ctrl-C: the kernels were interrupted; record how their runs ended
            completed, _ = wait(list(running))
            for f in completed:
                done(f.result())
            running.clear()
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
        for server in servers:
            server.close()
        env_set.close()
        plan_done.set()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        for bar in bars:
            bar.close()
        for c in clusters:
            c.close()
    if stop.is_set():
        raise KeyboardInterrupt(
            "plan interrupted: "
            + ", ".join(o.run_id for o in outcomes.values() if o.status == "interrupted")
        )
    return [outcomes[r.id] for r in runs if r.id in outcomes]


def run_task(plan: Plan, run_id: str, *, key: str, quick: bool, jobs: int) -> RunOutcome:
    """Execute one run with the cache key its submitter decided on (a cluster task's body).

    The submitting command checked the cache and holds the reports lock; this records ``key``
    on success, so the submitter's next cache check finds it.  SIGINT stops the kernel's cell and
    records the run as ``interrupted`` (then :class:`KeyboardInterrupt` is raised).
    """
    import signal

    run = plan.get(run_id)
    deterministic_environment()
    params = run.effective_parameters(quick=quick)
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    finished = threading.Event()
    threading.Thread(target=_watch, args=(stop, finished), daemon=True).start()
    try:
        with _kernel_env({JOBS_ENV: str(jobs)}):
            outcome = execute(
                run,
                quick=quick,
                key=key,
                inputs=declared_inputs(run, params),
                git=provenance.git_state(),
                timeout=plan.settings.get("cell_timeout", 1800),
                plan_file=plan.source,
            )
    except OSError as exc:
        outcome = _record_failure(run.id, f"{type(exc).__name__}: {exc}")
    finally:
        finished.set()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if stop.is_set():
        _mark_interrupted(run.id, outcome)
        raise KeyboardInterrupt(run.id)
    return outcome


def _record_failure(run_id: str, error: str) -> RunOutcome:
    """Record a run as failed when its execution could not even be recorded (best effort)."""
    with contextlib.suppress(OSError):
        state = read_state(run_id) or {"run_id": run_id}
        state.update({"status": "failed", "cache_key": None, "artefacts": None, "error": error})
        write_state(run_id, state)
    return RunOutcome(run_id, "failed", 0.0, error)


DASK_MISSING = (
    "--scheduler needs dask.distributed, the optional extra 'dask': "
    "pip install -e '.[dask]' (pinned in requirements.lock)"
)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(DASK_MISSING) from exc
    return distributed


class _Cluster:
    """The runs of a plan as tasks on a ``dask.distributed`` cluster (one task per run).

    Each task (:func:`cluster_task`) executes ``python -m analysis run-task`` for one run on a
    worker: the same :func:`execute` as a local run, writing the same state files on the shared
    filesystem.  The reports-folder lock stays with the command that submitted the tasks.
    """

    def __init__(self, address: str, *, plan: Plan, quick: bool) -> None:
        import uuid

        distributed = _import_distributed()
        self._client = distributed.Client(address, set_as_default=False, timeout="30s")
        self._plan = plan
        self._quick = quick
        self._stop_name = f"analysis-stop-{uuid.uuid4().hex}"
        self._stop = distributed.Event(self._stop_name, client=self._client)
        self.threads = max(1, sum(self._client.nthreads().values()))

    def execute(self, run: Run, *, key: str, stop: Any) -> RunOutcome:
        """Run ``run`` on the cluster and read its outcome from its state file."""
        spec = {
            "root": str(paths.ROOT),
            "reports": str(paths.REPORTS_DIR),
            "plan": str(self._plan.source),
            "run_id": run.id,
            "key": key,
            "quick": self._quick,
            "stop_event": self._stop_name,
            "env": {SCHEDULER_ENV: self._client.scheduler.address, **DETERMINISTIC_ENV},
        }
        t0 = time.monotonic()
        future = self._client.submit(cluster_task, spec, key=f"run-{run.id}-{self._stop_name}")
        try:
            report = future.result()
        except Exception as exc:  # noqa: BLE001 - a lost worker fails this run only
            report = {"returncode": None, "stderr": _error_excerpt(exc)}
        seconds = round(time.monotonic() - t0, 2)
        state = read_state(run.id) or {}
        status = state.get("status")
        if status in ("success", "failed", "interrupted"):
            return RunOutcome(run.id, status, state.get("seconds", seconds), state.get("error"))
        if stop.is_set():
            return _mark_interrupted(run.id, RunOutcome(run.id, "failed", seconds))
        tail = (report.get("stderr") or "").strip()[-1500:]
        return _record_failure(
            run.id,
            f"the cluster task ended without recording the run (exit {report.get('returncode')})"
            + (f": {tail}" if tail else ""),
        )

    def interrupt(self) -> None:
        """Tell every task of this plan to interrupt its run (Ctrl-C on the submitting side)."""
        with contextlib.suppress(Exception):
            self._stop.set()

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        with contextlib.suppress(Exception):
            self._client.close()


def cluster_task(spec: dict[str, Any]) -> dict[str, Any]:
    """Execute one run on a Dask worker: ``python -m analysis run-task`` in a subprocess.

    A subprocess (rather than papermill inside the worker) because the worker may have imported
    the package for another root, and a run must be stoppable: the task polls the plan's stop
    event and forwards it to the run as SIGINT, which stops the kernel's cell.  The kernel
    receives ``ANALYSIS_JOBS = max(1, cores // worker threads)`` of the worker's machine.
    """
    import signal
    import subprocess

    distributed = _import_distributed()
    try:
        threads = distributed.get_worker().state.nthreads
    except (ValueError, AttributeError):  # not inside a worker (direct call)
        threads = 1
    env = {
        **os.environ,
        **spec["env"],
        "ANALYSIS_ROOT": spec["root"],
        "ANALYSIS_REPORTS_DIR": spec["reports"],
    }
    cmd = [sys.executable, "-m", "analysis", "run-task", "--plan", spec["plan"]]
    cmd += ["--run", spec["run_id"], "--key", spec["key"], "--jobs", str(kernel_jobs(threads))]
    if spec["quick"]:
        cmd.append("--quick")
    stop = distributed.Event(spec["stop_event"])
    with subprocess.Popen(
        cmd,
        env=env,
        cwd=spec["root"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        signalled = False
        while True:
            try:
                out, err = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if not signalled and stop.is_set():
                    proc.send_signal(signal.SIGINT)
                    signalled = True
    return {"returncode": proc.returncode, "stdout": out[-4000:], "stderr": err[-4000:]}


def _interrupt_kernels() -> None:
    """Send SIGINT to the kernels started from this process.

    jupyter_client starts kernels in their own session, so the Ctrl-C of the terminal does not
    reach them: the runner forwards it, and each kernel stops its cell at once.
    """
    import signal

    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # already gone
            child.send_signal(signal.SIGINT)


def _watch(stop: Any, finished: Any, clusters: list[_Cluster] = ()) -> None:  # type: ignore[assignment]
    """Forward a Ctrl-C to the running kernels (local, or the cluster's) until the plan ends.

    The local kernels get SIGINT every second until the plan has stopped, so that a kernel
    that was still starting when Ctrl-C came (and so ignored it) is interrupted once it runs.
    """
    while not stop.wait(0.2):
        if finished.is_set():
            return
    for cluster in clusters:
        cluster.interrupt()
    # Repeated until the plan has stopped: a kernel still starting (ipykernel ignores SIGINT
    # until it executes a cell) would otherwise miss a single signal and run its cell to the end.
    while True:
        _interrupt_kernels()
        if finished.wait(1.0):
            return


def _mark_interrupted(run_id: str, outcome: RunOutcome) -> RunOutcome:
    """Record a run stopped by Ctrl-C as interrupted (not as failed)."""
    state = read_state(run_id) or {"run_id": run_id}
    state.update({"status": "interrupted", "cache_key": None, "error": "interrupted (Ctrl-C)"})
    write_state(run_id, state)
    return RunOutcome(run_id, "interrupted", outcome.seconds, "interrupted (Ctrl-C)")
