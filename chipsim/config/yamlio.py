"""Safe YAML loading with clear errors, and a field-by-field reader for validation.

This module (with the rest of :mod:`chipsim.config`) is the only place that parses YAML.

* Safe loading only (no arbitrary Python objects).
* A syntax error becomes a :class:`ChipsimError` naming the file, the line and the column.
* A duplicate key in a mapping is an error (PyYAML silently keeps the last one).
* Only ``true``/``false`` (any case) are booleans; YAML 1.1's ``yes/no/on/off`` stay strings, so
  ``on_chip: yes`` is reported as "expected true or false" instead of silently becoming True.
* ``1e-3`` is a float (YAML 1.1 wants ``1.0e-3``).
* Every key's line is remembered, so validation errors can point at the line.
* Bounded (issue 11): only regular files of at most :data:`MAX_YAML_BYTES` are read (a FIFO
  or ``/dev/zero`` is refused before it is opened); nesting deeper than
  :data:`MAX_YAML_DEPTH` and documents of more than :data:`MAX_YAML_VALUES` values once their
  aliases are expanded ("billion laughs") are refused with the line, before they are built.

The sections of a document are typed models (chipsim/config/schema.py validates a loaded
:class:`YamlDoc` against them and names the dotted field and its line in every error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from chipsim.errors import ChipsimError
from chipsim.memory import regular_file_size

#: The largest YAML file chipsim reads: 1 MiB, 50x the largest shipped profile (20 kB); a
#: workload or profile far larger is not one (or is a stream such as /dev/zero).
MAX_YAML_BYTES = 2**20
#: The deepest nesting of lists and mappings: the shipped workloads and profiles need at most
#: 5 levels; PyYAML's composer recurses once per level, and 5,000 levels exhaust Python's stack.
MAX_YAML_DEPTH = 32
#: The most values (scalars, lists, mappings) a document may hold with its aliases expanded:
#: the shipped profiles hold at most 807; a "billion laughs" file holds 10**9 in 640 bytes.
MAX_YAML_VALUES = 100_000

# ----------------------------------------------------------------------------------------
# the loader
# ----------------------------------------------------------------------------------------
class _TooLarge(yaml.YAMLError):
    """A document beyond chipsim's bounds (nesting, expanded size): message, mark, expected."""

    def __init__(self, message: str, mark, expected: str):
        super().__init__(message)
        self.message, self.mark, self.expected = message, mark, expected


class _Loader(yaml.SafeLoader):
    """SafeLoader with strict booleans, ``1e-3`` floats, duplicate-key detection and bounded
    nesting (:data:`MAX_YAML_DEPTH`); it notes where aliases are used."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self.alias_marks: list = []

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            self.alias_marks.append(self.peek_event().start_mark)
        elif self._depth >= MAX_YAML_DEPTH:
            raise _TooLarge(f"lists and mappings nested more than {MAX_YAML_DEPTH} levels deep",
                            self.peek_event().start_mark,
                            f"at most {MAX_YAML_DEPTH} nested levels")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ArithmeticError, LookupError, AttributeError, TypeError, ValueError) as exc:
            # an explicit tag PyYAML cannot apply (!!int x, !!float '', !!bool x,
            # !!timestamp x): its constructors fail with Python's errors, not a YAMLError
            what = repr(node.value)[:40] if isinstance(node, ScalarNode) else "this node"
            raise ConstructorError(None, None, f"cannot read {what} as {node.tag} "
                                   f"({type(exc).__name__}: {exc})", node.start_mark) from None

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


def _expanded_values(node) -> int:
    """How many values (nodes) the document under ``node`` holds with every alias expanded
    (an alias counts as a copy of what it names). Linear in the distinct nodes; the depth is
    bounded by the loader."""
    sizes: dict = {}

    def size(n) -> int:
        got = sizes.get(id(n))
        if got is None:
            if isinstance(n, SequenceNode):
                got = 1 + sum(size(c) for c in n.value)
            elif isinstance(n, MappingNode):
                got = 1 + sum(size(k) + size(v) for k, v in n.value)
            else:
                got = 1
            sizes[id(n)] = got
        return got

    return size(node)


def _compose(loader: _Loader):
    """The document's node, refused (:class:`_TooLarge`) when it holds more than
    :data:`MAX_YAML_VALUES` values once its aliases are expanded."""
    node = loader.get_single_node()
    if node is None:
        return None
    n = _expanded_values(node)
    if n > MAX_YAML_VALUES:
        marks = loader.alias_marks
        if marks:
            lines = sorted({m.line + 1 for m in marks})
            shown = ", ".join(map(str, lines[:5])) + (", ..." if len(lines) > 5 else "")
            raise _TooLarge(f"its {len(marks)} alias(es) (*name, at line(s) {shown}) expand "
                            f"the document to {n} values, more than {MAX_YAML_VALUES}",
                            marks[0], f"at most {MAX_YAML_VALUES} values once aliases are "
                            "expanded")
        raise _TooLarge(f"the document holds {n} values, more than {MAX_YAML_VALUES}",
                        node.start_mark, f"at most {MAX_YAML_VALUES} values")
    return node


def _yaml_error(exc: yaml.YAMLError, file, text: str = "") -> ChipsimError:
    if isinstance(exc, _TooLarge):
        return ChipsimError(f"line {exc.mark.line + 1}: {exc.message}", file=file,
                            expected=exc.expected)
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
    if len(text) > MAX_YAML_BYTES:
        raise ChipsimError(f"the YAML text is {len(text)} characters long", file=file,
                           expected=f"at most {MAX_YAML_BYTES} (a workload or profile)")
    try:
        node = _compose(loader)
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
    """Read a UTF-8 YAML file of at most :data:`MAX_YAML_BYTES`; a missing, unreadable,
    non-regular (FIFO, device) or larger file is a :class:`ChipsimError`, found before reading."""
    what = f"a YAML file of at most {MAX_YAML_BYTES // 2**20} MiB"
    size = regular_file_size(path, what)
    if size > MAX_YAML_BYTES:
        raise ChipsimError(f"is {size / 2**20:.1f} MiB ({size} bytes), larger than any workload "
                           "or profile", file=str(path), expected=what)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_YAML_BYTES + 1)       # the file may have grown since stat
    except OSError as exc:
        raise ChipsimError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if len(data) > MAX_YAML_BYTES:
        raise ChipsimError(f"holds more than {MAX_YAML_BYTES} bytes", file=str(path),
                           expected=what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChipsimError(f"not UTF-8 text (byte {exc.start})", file=str(path),
                           expected="a UTF-8 YAML file") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")   # as Path.read_text reads it


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
    if len(text) > MAX_YAML_BYTES:
        raise ChipsimError(f"override value is {len(text)} characters long", file=file,
                           field=field, expected=f"at most {MAX_YAML_BYTES}")
    try:
        loader = _Loader(text)
        node = _compose(loader)
        return loader.construct_document(node) if node is not None else None
    except _TooLarge as exc:
        raise ChipsimError(f"override value: {exc.message}", file=file, field=field,
                           expected=exc.expected) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
        problem = " ".join(str(problem).split())
        where = f" at column {mark.column + 1}" if mark is not None else ""
        raise ChipsimError(f"override value '{text}' is not valid YAML{where}: {problem}",
                           file=file, field=field, expected="a YAML literal, e.g. 1, 0.05, sltt, "
                           "null, [1, 2]") from None
