"""Integrity of the immutable raw data: every ``data/raw/<source>/SHA256SUMS`` must hold.

The runner calls :func:`verify_raw` before every run and stops with an error that names the
file whose bytes changed.  Hashes of input files also go into each report's provenance block.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from analysis import paths
from analysis.errors import DataValidationError, Violation

UNMANIFESTED = {"SHA256SUMS", "PROVENANCE.md", "README.md"}


def sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    return _sha256_cached(
        str(Path(path).resolve()), Path(path).stat().st_mtime_ns, Path(path).stat().st_size
    )


@lru_cache(maxsize=4096)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(manifest: Path) -> dict[str, str]:
    """Parse a ``sha256sum``-style manifest into {file name: hash}."""
    out = {}
    for lineno, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataValidationError(
                paths.relative(manifest),
                [Violation(rule="each line must be '<sha256>  <file>'", rows=[lineno])],
            )
        name = parts[1].strip().lstrip("*")
        if "/" in name or "\\" in name or name in (".", "..") or name.startswith("~"):
            raise DataValidationError(
                paths.relative(manifest),
                [
                    Violation(
                        rule="a manifest lists files of its own folder only (no paths)",
                        rows=[lineno],
                    )
                ],
            )
        out[name] = parts[0].lower()
    return out


def verify_raw(raw_dir: Path | None = None) -> dict[str, str]:
    """Check every raw-data folder against its SHA256SUMS.

    Returns
    -------
    dict
        {path relative to the repository: sha256} for every file listed in a manifest.

    Raises
    ------
    DataValidationError
        When a listed file is missing or its bytes differ, or a folder has no manifest.
    """
    raw_dir = Path(raw_dir or paths.RAW_DIR)
    hashes: dict[str, str] = {}
    problems: list[Violation] = []
    for folder in sorted(p for p in raw_dir.iterdir() if p.is_dir()):
        if folder.name == paths.PROGRAMME_DIR.name:
            continue  # evaluator's confidential records: hashed per run, not manifested in git
        manifest = folder / "SHA256SUMS"
        if not manifest.exists():
            problems.append(
                Violation(rule="folder has no SHA256SUMS manifest", column=paths.relative(folder))
            )
            continue
        listed = read_manifest(manifest)
        for extra in sorted(p.name for p in folder.iterdir() if p.is_file()):
            if extra not in listed and extra not in UNMANIFESTED:
                problems.append(
                    Violation(
                        rule="file is not listed in SHA256SUMS (raw data must "
                        "be declared with their hash)",
                        column=paths.relative(folder / extra),
                    )
                )
        for name, expected in listed.items():
            f = folder / name
            rel = paths.relative(f)
            if not f.exists():
                problems.append(Violation(rule="file listed in SHA256SUMS is missing", column=rel))
                continue
            actual = sha256(f)
            if actual != expected:
                problems.append(
                    Violation(
                        rule=f"SHA-256 differs from SHA256SUMS (expected {expected[:12]}…, found "
                        f"{actual[:12]}…): raw data are immutable — restore the original file",
                        column=rel,
                    )
                )
            hashes[rel] = actual
    if problems:
        raise DataValidationError(paths.relative(raw_dir), problems)
    return hashes
