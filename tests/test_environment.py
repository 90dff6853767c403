"""environment.yml, pyproject.toml and requirements.lock agree; the Makefile is self-documenting."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import yaml
from packaging.markers import Marker

REPO = Path(__file__).resolve().parents[1]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert "--hash" not in line, "the lock must not carry hashes (pip refuses -e . with them)"
        spec, _, marker = line.partition(";")
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s]+)", spec.strip())
        assert m, f"every lock line must pin with ==: {line!r}"
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue  # a pin for another platform or Python (the lock is universal)
        pins[_norm(m.group(1))] = m.group(2)
    return pins


def _direct() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [_norm(re.split(r"[<>=!~\[; ]", d)[0]) for d in deps]


def test_every_direct_dependency_is_pinned_in_the_lock():
    pins = _lock()
    missing = [d for d in _direct() if d not in pins]
    assert not missing, f"pyproject dependencies missing from requirements.lock: {missing}"


def test_lock_matches_the_installed_environment():
    import importlib.metadata as md

    pins = _lock()
    wrong = {}
    for name in _direct():
        installed = md.version(name)
        if installed != pins[name]:
            wrong[name] = (pins[name], installed)
    assert not wrong, f"installed versions differ from the lock (run `make env`): {wrong}"


def test_environment_yml_delegates_to_lock_and_package():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip_section == ["-r requirements.lock", "-e ."]


def test_python_version_consistent():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"].startswith(">=3.11")
    header = (REPO / "requirements.lock").read_text().splitlines()[1]
    assert "--python-version 3.11" in header  # the command that generated the lock


def test_make_help_lists_targets():
    out = subprocess.run(
        ["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True
    )
    for target in ("report", "test", "lab", "clean", "verify", "env"):
        assert re.search(rf"make {target}\b", out.stdout), target


def test_ci_runs_make_test():
    text = (REPO / ".ci" / "run").read_text()
    assert "make test" in text
