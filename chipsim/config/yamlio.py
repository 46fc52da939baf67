"""Safe YAML loading with clear errors, and a field-by-field reader for validation.

This module (with the rest of :mod:`chipsim.config`) is the only place that parses YAML.

* Safe loading only (no arbitrary Python objects).
* A syntax error becomes a :class:`ChipsimError` naming the file, the line and the column.
* A duplicate key in a mapping is an error (PyYAML silently keeps the last one).
* Only ``true``/``false`` (any case) are booleans; YAML 1.1's ``yes/no/on/off`` stay strings, so
  ``on_chip: yes`` is reported as "expected true or false" instead of silently becoming True.
* ``1e-3`` is a float (YAML 1.1 wants ``1.0e-3``).
* Every key's line is remembered, so validation errors can point at the line.

The sections of a document are typed models (chipsim/config/schema.py validates a loaded
:class:`YamlDoc` against them and names the dotted field and its line in every error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from chipsim.errors import ChipsimError


# ----------------------------------------------------------------------------------------
# the loader
# ----------------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """SafeLoader with strict booleans, ``1e-3`` floats and duplicate-key detection."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue
                if first is not None:
                    raise ConstructorError(
                        None, None,
                        f"duplicate key '{key}' (first given at line {first + 1})",
                        key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


@dataclass(frozen=True)
class YamlDoc:
    """A loaded YAML document: its data, its text and the line of every key."""

    path: str
    text: str
    data: Any
    lines: dict = field(default_factory=dict)   # dotted path -> 1-based line
    overrides: dict = field(default_factory=dict)   # dotted key -> YAML literal applied on top

    def where(self, dotted: str) -> str | None:
        """Where ``dotted`` comes from: ``"line 12"`` or ``"override rule.k=11"`` (or None)."""
        parts = dotted.split(".")
        while parts:
            key = ".".join(parts)
            if key in self.overrides:
                return f"set by override {key}={self.overrides[key]}"
            parts.pop()
        line = self.line(dotted)
        return None if line is None else f"at line {line}"

    def line(self, dotted: str) -> int | None:
        """Line of ``dotted`` or of its nearest given parent."""
        parts = dotted.split(".")
        while parts:
            n = self.lines.get(".".join(parts))
            if n is not None:
                return n
            parts.pop()
        return None


def _line_map(node, prefix: str, lines: dict, depth: int = 0) -> None:
    if depth > 50:
        return
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                continue
            path = f"{prefix}.{k.value}" if prefix else str(k.value)
            lines.setdefault(path, k.start_mark.line + 1)
            _line_map(v, path, lines, depth + 1)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}.{i}" if prefix else str(i)
            lines.setdefault(path, item.start_mark.line + 1)
            _line_map(item, path, lines, depth + 1)


def _yaml_error(exc: yaml.YAMLError, file, text: str = "") -> ChipsimError:
    if isinstance(exc, yaml.reader.ReaderError):
        pos = exc.position if isinstance(exc.position, int) else 0
        line = text[:pos].count("\n") + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        char = exc.character
        what = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        return ChipsimError(f"malformed YAML at line {line}, column {column}: character {what} "
                            f"is not allowed ({exc.reason})", file=file,
                            expected="valid YAML (printable UTF-8 text)")
    mark = getattr(exc, "problem_mark", None)
    problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
    context = getattr(exc, "context", None)
    if mark is not None:
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        text = f"malformed YAML at {where}: {problem}"
        if context and context not in problem:
            text += f" ({context})"
    else:
        text = f"malformed YAML: {problem}"
    return ChipsimError(text, file=file, expected="valid YAML")


def parse_yaml_text(text: str, *, file) -> YamlDoc:
    """Parse YAML ``text`` (the contents of ``file``) into a :class:`YamlDoc`."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, text) from None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, text) from None
    finally:
        loader.dispose()
    lines: dict = {}
    if node is not None:
        _line_map(node, "", lines)
    return YamlDoc(path=str(file), text=text, data=data, lines=lines)


def read_text(path) -> str:
    """Read a UTF-8 text file; a missing or unreadable file is a :class:`ChipsimError`."""
    p = Path(path)
    if not p.exists():
        raise ChipsimError("file not found", file=str(path), expected="an existing YAML file")
    if p.is_dir():
        raise ChipsimError("is a directory", file=str(path), expected="a YAML file")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ChipsimError(f"not UTF-8 text (byte {exc.start})", file=str(path),
                           expected="a UTF-8 YAML file") from None
    except OSError as exc:
        raise ChipsimError(f"cannot read: {exc.strerror}", file=str(path)) from None


def type_name(value) -> str:
    """The YAML name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def load_yaml(path) -> YamlDoc:
    """Load a YAML file whose top level must be a mapping."""
    doc = parse_yaml_text(read_text(path), file=str(path))
    if doc.data is None:
        raise ChipsimError("the file is empty", file=str(path), expected="a YAML mapping")
    if not isinstance(doc.data, dict):
        raise ChipsimError(f"the top level is a {type_name(doc.data)}", file=str(path),
                           expected="a YAML mapping of field: value")
    return doc


def parse_yaml_value(text: str, *, file, field: str) -> Any:
    """Parse one YAML literal (an override value such as ``'1'``, ``'sltt'``, ``'null'``)."""
    if not isinstance(text, str):
        raise ChipsimError(f"override value {text!r} is not a string", file=file, field=field,
                           expected="a YAML literal as a string, e.g. '1' or 'sltt'")
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        return loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
        problem = " ".join(str(problem).split())
        where = f" at column {mark.column + 1}" if mark is not None else ""
        raise ChipsimError(f"override value '{text}' is not valid YAML{where}: {problem}",
                           file=file, field=field, expected="a YAML literal, e.g. 1, 0.05, sltt, "
                           "null, [1, 2]") from None
