"""The one YAML loader for terms, scenarios, grading and releasability groups.

- YAML 1.2 core-schema scalars: only ``true``/``false`` are booleans (``NO``, Norway's code,
  stays the string "NO"; so do ``yes``, ``on``, ``off``); integers are decimal, ``0o`` octal or
  ``0x`` hexadecimal (``0777`` and ``1_000`` are strings, ``12:30`` is not sexagesimal);
  dates stay strings, for the caller to parse with its own rule.
- A duplicate key is refused (YAML says keys are unique; PyYAML silently keeps the last).
- Mappings load as ``ConfigMap`` and sequences as ``ConfigList``: plain dicts and lists that
  remember the line of each key or item, so that every error names file, key and line.
- Anchors and aliases work; no Python object is ever constructed (a SafeLoader).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from truceguard.errors import ConfigError

MAX_CONFIG_BYTES = 8 << 20  # no terms or scenario file comes near it


class ConfigMap(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class ConfigList(list[Any]):
    """A YAML sequence that remembers its own line and the line of each item (1-based)."""

    line: int = 0
    lines: list[int]

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, line-aware containers and unique keys."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> ConfigMap:
    loader.flatten_mapping(node)
    out = ConfigMap()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise ConfigError(loader.name, "(key)", "a key must be a plain value",
                              key_node.start_mark.line + 1) from None
        if key in out:
            raise ConfigError(loader.name, str(key),
                              f"duplicate key (first on line {out.lines[key]})",
                              key_node.start_mark.line + 1,
                              hint="keep one of the two; YAML keys are unique")
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> ConfigList:
    out = ConfigList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.lstrip("+-").startswith("0o"):
        sign = -1 if text.startswith("-") else 1
        return sign * int(text.lstrip("+-")[2:], 8)
    return int(text, 0) if text.lstrip("+-").startswith("0x") else int(text)


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith((".inf", ".nan")):
        return float(text.replace(".", ""))
    return float(text)


_CORE = {
    "tag:yaml.org,2002:bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    "tag:yaml.org,2002:int": (r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    "tag:yaml.org,2002:float": (
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    "tag:yaml.org,2002:null": (r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
}
_Loader.yaml_implicit_resolvers = {}
for _tag, (_rx, _first) in _CORE.items():
    _Loader.add_implicit_resolver(_tag, re.compile(_rx), list(_first))
for _first, _resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items():
    for _tag, _rx in _resolvers:
        if _tag in ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"):
            _Loader.add_implicit_resolver(_tag, _rx, [_first])
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def parse_yaml(text: str, path: str = "<yaml>") -> Any:
    """The document in ``text``; ConfigError (with the line) if it is not valid YAML."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # refuses characters YAML does not allow (ReaderError)
        loader.name = path
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, "(yaml)", f"not valid YAML: {problem}",
                          mark.line + 1 if mark else None,
                          hint="check the indentation and quoting near that line") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(path: str | Path) -> Any:
    """The YAML document in the file at ``path`` (bounded in size, UTF-8)."""
    return parse_yaml(read_config_text(Path(path)), str(path))


def read_config_text(p: Path, shown: str | None = None) -> str:
    """The text of a configuration file: bounded in size, UTF-8; ConfigError (naming the file
    as ``shown``, else its path) otherwise."""
    name = shown or str(p)
    try:
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(name, "(file)", f"{size:,} bytes is over the "
                              f"{MAX_CONFIG_BYTES:,}-byte limit for a configuration file")
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(name, "(file)", "no such file",
                          hint="give the path of an existing YAML file") from None
    except IsADirectoryError:
        raise ConfigError(name, "(file)", "is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(name, "(file)", f"not UTF-8 text (byte {exc.start})",
                          hint="save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(name, "(file)", f"cannot be read: {exc.strerror}") from None


def line_of(container: Any, key: Any = None) -> int | None:
    """The line of ``key`` in a ConfigMap/ConfigList (or of the container itself)."""
    if isinstance(container, ConfigMap):
        return container.line_of(key) if key is not None else container.line
    if isinstance(container, ConfigList):
        return container.line_of(key) if isinstance(key, int) else container.line
    return None


_ATOMS = (str, int, float, bool, type(None))


def copy_tree(node: Any, memo: dict[int, Any] | None = None) -> Any:
    """A deep copy of a loaded document, as ``copy.deepcopy`` makes it (the same values and
    lines, a node reached twice through an alias copied once), but walking ConfigMaps,
    ConfigLists and plain scalars directly: several times faster than ``deepcopy``'s generic
    reduce-and-rebuild for each container, which a sensitivity run pays once per changed
    number. Anything else is left to ``copy.deepcopy``."""
    if isinstance(node, _ATOMS):
        return node
    if memo is None:
        memo = {}
    done = memo.get(id(node))
    if done is not None:
        return done
    if type(node) in (ConfigMap, dict):
        out: Any = type(node)()
        memo[id(node)] = out
        for k, v in node.items():
            out[k] = v if isinstance(v, _ATOMS) else copy_tree(v, memo)
    elif type(node) in (ConfigList, list):
        out = type(node)()
        memo[id(node)] = out
        out.extend(v if isinstance(v, _ATOMS) else copy_tree(v, memo) for v in node)
    else:
        return copy.deepcopy(node, memo)
    for attr, value in vars(node).items() if hasattr(node, "__dict__") else ():
        setattr(out, attr, copy_tree(value, memo))
    return out


__all__ = ["ConfigList", "ConfigMap", "copy_tree", "line_of", "load_yaml", "parse_yaml"]
