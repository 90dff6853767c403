"""Read a configuration YAML file strictly: every failure is a ``DataValidationError``.

PyYAML's safe loader is still too lenient for files that decide payments and published numbers:

- it silently keeps the last of two equal mapping keys, so a second ``price:`` (or a second
  ``title:`` in the plan) would change a result without any message — refused here;
- it expands aliases, so a few hundred bytes (``a: &a [x, x]``, ``b: &b [*a, *a]`` …) become
  gigabytes (an "alias bomb") — aliases are refused, and files are bounded in size
  (:data:`MAX_BYTES`);
- it applies YAML 1.1 coercions: ``NO``, ``on``, ``yes`` become booleans (Norway's country code
  would be ``False``) — these words are refused unless quoted; only ``true``/``false`` are
  booleans — and bare dates become ``datetime.date`` objects, so that a title or a parameter
  that looks like a date changes type — here they stay strings, and the callers that want a date
  parse ``YYYY-MM-DD`` themselves (a bare date is refused: quote it).

Non-UTF-8 bytes, a missing file or a directory are reported with the file's name (found by the
fuzz tests).  Written by hand because no well-kept YAML library offers these rules together as
options of PyYAML's safe loader (ruamel's safe mode keeps aliases and YAML 1.1 booleans); this is
a small subclass of PyYAML's own pure-Python ``SafeLoader``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from analysis import paths
from analysis.errors import DataValidationError

#: Largest configuration file read (bytes); the plan and the agreement are a few kilobytes.
MAX_BYTES = 1_000_000

_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_YAML11_BOOL_TAG = "tag:analysis,2026:yaml11-bool"


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses repeated keys, aliases and YAML 1.1 booleans.

    Bare dates are refused (quoted, they are strings that the caller parses).
    """

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"found an alias (*{event.anchor}): aliases are not allowed in configuration "
                "files (write the value out)",
                event.start_mark,
            )
        return super().compose_node(parent, index)


# Implicit resolvers: those of SafeLoader, without timestamps and with YAML 1.2 booleans only.
UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
UniqueKeyLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
UniqueKeyLoader.add_implicit_resolver(
    _YAML11_BOOL_TAG,
    re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$"),
    list("yYnNoO"),
)


def _refuse_yaml11_bool(loader: Any, node: yaml.ScalarNode) -> Any:
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"{node.value!r} is a boolean in YAML 1.1 but a string in YAML 1.2: write true/false, "
        f'or quote it ("{node.value}") if it is text',
        node.start_mark,
    )


UniqueKeyLoader.add_constructor(_YAML11_BOOL_TAG, _refuse_yaml11_bool)

# A bare (unquoted) date is a type error: quoted, it is text that the caller parses if it wants a date.
_BARE_DATE_TAG = "tag:analysis,2026:bare-date"
UniqueKeyLoader.add_implicit_resolver(
    _BARE_DATE_TAG,
    next(rx for tag, rx in yaml.SafeLoader.yaml_implicit_resolvers["0"] if tag == _TIMESTAMP_TAG),
    list("0123456789"),
)


def _refuse_bare_date(loader: Any, node: yaml.ScalarNode) -> Any:
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"bare date {node.value!r}: YAML 1.1 turns it into a date object; quote it "
        f'("{node.value}") — dates are read as YYYY-MM-DD text and checked where they are used',
        node.start_mark,
    )


UniqueKeyLoader.add_constructor(_BARE_DATE_TAG, _refuse_bare_date)


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


def parse_yaml(text: str, *, source: str) -> Any:
    """Parse YAML text with the strict loader; errors name ``source``."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise DataValidationError(
            source, f"file is larger than {MAX_BYTES:,} bytes (a configuration file is a few KB)"
        )
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise DataValidationError(source, f"not valid YAML: {err}") from err
    except (ValueError, OverflowError, RecursionError) as err:
        raise DataValidationError(
            source, f"not valid YAML: a value cannot be built ({type(err).__name__}: {err})"
        ) from err


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; raise :class:`DataValidationError` naming the file on any failure."""
    path = Path(path)
    source = paths.relative(path)
    if not path.is_file():
        raise DataValidationError(
            source, "file not found" if not path.exists() else "not a file (a directory?)"
        )
    try:
        size = path.stat().st_size
        text = None if size > MAX_BYTES else path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataValidationError(
            source, f"file is not UTF-8 text ({err.reason} at byte {err.start})"
        ) from err
    except OSError as err:
        raise DataValidationError(source, f"cannot read the file ({err})") from err
    if text is None:
        raise DataValidationError(
            source, f"file is larger than {MAX_BYTES:,} bytes (a configuration file is a few KB)"
        )
    return parse_yaml(text, source=source)
