"""Read a configuration YAML file strictly: every failure is a ``DataValidationError``.

PyYAML silently keeps the last of two equal mapping keys, so a second ``price:`` (or a second
``title:`` in the plan) added by mistake would change a result without any message; this
loader refuses repeated keys.  Dates that cannot exist (``2023-02-30``), non-UTF-8 bytes, a
missing file or a directory are reported with the file's name (found by the fuzz tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from analysis import paths
from analysis.errors import DataValidationError


class UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """``yaml.SafeLoader`` (LibYAML's when available) that refuses a repeated mapping key."""


def _mapping_without_duplicates(
    loader: Any, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable key: construct_mapping reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; raise :class:`DataValidationError` naming the file on any failure."""
    path = Path(path)
    source = paths.relative(path)
    if not path.is_file():
        raise DataValidationError(
            source, "file not found" if not path.exists() else "not a file (a directory?)"
        )
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except UnicodeDecodeError as err:
        raise DataValidationError(
            source, f"file is not UTF-8 text ({err.reason} at byte {err.start})"
        ) from err
    except yaml.YAMLError as err:
        raise DataValidationError(source, f"not valid YAML: {err}") from err
    except (ValueError, OverflowError) as err:
        # PyYAML builds dates while parsing: "2023-02-30" raises a plain ValueError.
        raise DataValidationError(
            source, f"not valid YAML: a value cannot be built ({err})"
        ) from err
    except OSError as err:
        raise DataValidationError(source, f"cannot read the file ({err})") from err
