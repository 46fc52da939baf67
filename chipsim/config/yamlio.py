"""Safe YAML loading with clear errors, and a field-by-field reader for validation.

This module (with the rest of :mod:`chipsim.config`) is the only place that parses YAML.

* Safe loading only (no arbitrary Python objects).
* A syntax error becomes a :class:`ChipsimError` naming the file, the line and the column.
* A duplicate key in a mapping is an error (PyYAML silently keeps the last one).
* Only ``true``/``false`` (any case) are booleans; YAML 1.1's ``yes/no/on/off`` stay strings, so
  ``on_chip: yes`` is reported as "expected true or false" instead of silently becoming True.
* ``1e-3`` is a float (YAML 1.1 wants ``1.0e-3``).
* Every key's line is remembered, so validation errors can point at the line.

:class:`Section` reads one mapping of a loaded document: it rejects unknown keys (listing the
known ones), reports missing required keys, checks types and ranges, and names the dotted field
(``training.lr``, ``network.hidden.0.units``) in every error.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from chipsim.config.units import parse_quantity
from chipsim.errors import ChipsimError

MISSING = object()


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


def load_yaml(path) -> YamlDoc:
    """Load a YAML file whose top level must be a mapping."""
    doc = parse_yaml_text(read_text(path), file=str(path))
    if doc.data is None:
        raise ChipsimError("the file is empty", file=str(path), expected="a YAML mapping")
    if not isinstance(doc.data, dict):
        raise ChipsimError(f"the top level is a {_type_name(doc.data)}", file=str(path),
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


# ----------------------------------------------------------------------------------------
# overrides
# ----------------------------------------------------------------------------------------
#: Schema for overrides: a dict of field -> None (a value), a nested dict (a section) or a
#: one-element list holding the schema of the list's items.
Schema = dict


def apply_overrides(data: dict, overrides: Mapping[str, str] | None, schema: Schema, *,
                    file) -> dict:
    """Return a deep copy of ``data`` with ``overrides`` (dotted key -> YAML literal) applied.

    A key must name a field of ``schema`` (``training.epochs``, ``network.hidden.0.units``);
    any other key is a :class:`ChipsimError` naming it. Values are validated later, with the
    rest of the document.
    """
    out = copy.deepcopy(data)
    for key, text in (overrides or {}).items():
        if not isinstance(key, str) or not key:
            raise ChipsimError(f"override key {key!r} is not a dotted field name", file=file,
                               expected="a key such as 'training.epochs'")
        value = parse_yaml_value(text, file=file, field=key)
        parts = key.split(".")
        node, sch = out, schema
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            here = ".".join(parts[: i + 1])
            if isinstance(sch, dict):
                if part not in sch:
                    known = ", ".join(sch)
                    raise ChipsimError(f"unknown field '{part}' in override '{key}'; known fields"
                                       f"{' of ' + '.'.join(parts[:i]) if i else ''}: {known}",
                                       file=file, field=key, expected="a field of the workload")
                if not isinstance(node, dict):
                    raise ChipsimError(f"cannot set '{key}': '{'.'.join(parts[:i])}' is not a "
                                       f"mapping in the file", file=file, field=key)
                if last:
                    node[part] = value
                    break
                if sch[part] is None:
                    raise ChipsimError(f"unknown field '{parts[i + 1]}' in override '{key}': "
                                       f"'{here}' has no sub-fields", file=file, field=key,
                                       expected=f"an override of '{here}' itself")
                if node.get(part) is None:
                    if not isinstance(sch[part], dict):
                        raise ChipsimError(f"cannot set '{key}': '{here}' is not given in the file",
                                           file=file, field=key,
                                           expected=f"an override of the whole '{here}'")
                    node[part] = {}
                node, sch = node[part], sch[part]
            elif isinstance(sch, list):
                if not isinstance(node, list):
                    raise ChipsimError(f"cannot set '{key}': '{'.'.join(parts[:i])}' is not a list "
                                       f"in the file", file=file, field=key)
                if not part.isdigit() or int(part) >= len(node):
                    raise ChipsimError(f"unknown field '{part}' in override '{key}': "
                                       f"'{'.'.join(parts[:i])}' has {len(node)} item(s)",
                                       file=file, field=key,
                                       expected=f"an index 0..{len(node) - 1}")
                idx = int(part)
                if last:
                    node[idx] = value
                    break
                node, sch = node[idx], sch[0]
            else:
                raise ChipsimError(f"unknown field '{part}' in override '{key}': "
                                   f"'{'.'.join(parts[:i])}' has no sub-fields",
                                   file=file, field=key, expected="a field of the workload")
    return out


# ----------------------------------------------------------------------------------------
# reading fields
# ----------------------------------------------------------------------------------------
def type_name(value) -> str:
    """The YAML name of a value's type, for messages."""
    return _type_name(value)


def _type_name(value) -> str:
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
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _show(value) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (dict, list)):
        return f"a {_type_name(value)}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class Section:
    """One mapping of a YAML document, read field by field.

    ``known`` lists the allowed keys; any other key is an error that lists them. Every error
    names the document's file, the dotted field and (when known) its line.
    """

    def __init__(self, doc: YamlDoc, data, prefix: str, known: Iterable[str]):
        self.doc = doc
        self.prefix = prefix
        self.known = tuple(known)
        if not isinstance(data, dict):
            raise self._err(prefix, f"got {_show(data)}", "a mapping of field: value")
        self.data = data
        for key in data:
            if key not in self.known:
                raise self._err(self.path(str(key)),
                                f"unknown field '{key}'; known fields: {', '.join(self.known)}")

    # -- helpers --------------------------------------------------------------------------
    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def _err(self, dotted: str, message: str, expected: str | None = None) -> ChipsimError:
        where = self.doc.where(dotted) if dotted else None
        if where is not None:
            message = f"{where.removeprefix('at ')}: {message}"
        return ChipsimError(message, file=self.doc.path, field=dotted or None, expected=expected)

    def error(self, key: str, message: str, expected: str | None = None) -> ChipsimError:
        """A :class:`ChipsimError` about ``key`` of this section."""
        return self._err(self.path(key), message, expected)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default=MISSING, expected: str | None = None):
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            where = f"section '{self.prefix}'" if self.prefix else "the file"
            line = self.doc.line(self.prefix) if self.prefix else None
            message = f"missing required field '{key}' in {where}"
            if line is not None:
                message += f" (line {line})"
            raise ChipsimError(message, file=self.doc.path, field=self.path(key),
                               expected=expected)
        return default

    # -- typed readers --------------------------------------------------------------------
    def str(self, key: str, default=MISSING, *, choices: Iterable[str] | None = None,
            allow_none: bool = False, nonempty: bool = True):
        choices = tuple(choices) if choices is not None else None
        expected = ("one of " + ", ".join(choices)) if choices else "a string"
        if allow_none:
            expected += " or null"
        v = self.raw(key, default, expected)
        if v is None and (allow_none or default is None):
            return None
        if not isinstance(v, str):
            raise self.error(key, f"got {_show(v)}", expected)
        if choices is not None and v not in choices:
            raise self.error(key, f"got {v!r}", expected)
        if nonempty and not v.strip():
            raise self.error(key, "is empty", expected)
        return v

    def int(self, key: str, default=MISSING, *, lo: int | None = None, hi: int | None = None,
            allow_none: bool = False):
        expected = _range_text("an integer", lo, hi, False, False)
        if allow_none:
            expected += " or null"
        v = self.raw(key, default, expected)
        if v is None and (allow_none or default is None):
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(key, f"got {_show(v)}", expected)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.error(key, f"got {v}", expected)
        return v

    def float(self, key: str, default=MISSING, *, lo: float | None = None,
              hi: float | None = None, lo_open: bool = False, hi_open: bool = False,
              allow_none: bool = False):
        expected = _range_text("a number", lo, hi, lo_open, hi_open)
        if allow_none:
            expected += " or null"
        v = self.raw(key, default, expected)
        if v is None and (allow_none or default is None):
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(key, f"got {_show(v)}", expected)
        v = float(v)
        if not math.isfinite(v):
            raise self.error(key, f"got {v}", expected)
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise self.error(key, f"got {v:g}", expected)
        if hi is not None and (v > hi or (hi_open and v == hi)):
            raise self.error(key, f"got {v:g}", expected)
        return v

    def bool(self, key: str, default=MISSING):
        v = self.raw(key, default, "true or false")
        if not isinstance(v, bool):
            raise self.error(key, f"got {_show(v)}", "true or false")
        return v

    def quantity(self, key: str, dimension: str, default=MISSING):
        v = self.raw(key, default, f"a {dimension} with a unit")
        return parse_quantity(v, dimension, file=self.doc.path, field=self.path(key))

    def section(self, key: str, known: Iterable[str], default=MISSING) -> "Section":
        v = self.raw(key, default, "a mapping")
        return Section(self.doc, v, self.path(key), known)

    def list(self, key: str, default=MISSING, *, min_len: int = 0) -> list:
        expected = "a list" + (f" of at least {min_len} item(s)" if min_len else "")
        v = self.raw(key, default, expected)
        if not isinstance(v, list):
            raise self.error(key, f"got {_show(v)}", expected)
        if len(v) < min_len:
            raise self.error(key, f"has {len(v)} item(s)", expected)
        return v


def _range_text(kind: str, lo, hi, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        return f"{kind} in {left}{lo:g}, {hi:g}{right}"
    if lo is not None:
        return f"{kind} {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{kind} {'<' if hi_open else '<='} {hi:g}"
    return kind
