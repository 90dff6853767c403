"""Plan input globs and SHA256SUMS lines cannot name files outside the repository (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from analysis.data.integrity import read_manifest
from analysis.errors import DataValidationError
from analysis.pipeline.plan import load_plan


@pytest.mark.parametrize("pattern", ["/etc/passwd", "../secrets/*", "data/../../x", "~/.ssh/*"])
def test_plan_inputs_outside_the_repository_are_refused(tmp_path: Path, pattern: str):
    p = tmp_path / "plan.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "runs": [
                    {
                        "id": "context_x",
                        "notebook": "01_context",
                        "title": "t",
                        "parameters": {},
                        "inputs": [pattern],
                    }
                ]
            }
        )
    )
    with pytest.raises(DataValidationError, match="stay inside it"):
        load_plan(p)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "sub/file.csv", ".."])
def test_manifest_lines_name_files_of_their_folder_only(tmp_path: Path, name: str):
    m = tmp_path / "SHA256SUMS"
    m.write_text(f"{'0' * 64}  {name}\n")
    with pytest.raises(DataValidationError, match="own folder only"):
        read_manifest(m)
