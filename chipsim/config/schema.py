"""The typed sections of the configuration (pydantic v2) and what derives from them.

Every workload and profile section is a pydantic model. From the models derive:

* validation: ``validate(model, doc)`` runs pydantic (strict: ``1`` is not ``true``, ``6.0`` is
  not an integer, ``'3'`` is not a number) on a loaded :class:`~chipsim.config.yamlio.YamlDoc`
  and turns the first problem into one :class:`ChipsimError` naming the file, the dotted field
  (``network.hidden.0.units``), where it comes from (its line, or the ``--set`` override that
  gave it) and what was expected, written from the field's type and bounds;
* the ``--set KEY=VALUE`` overrides: ``apply_overrides(data, overrides, model)`` accepts a
  dotted key into any section, a list index into a list, a whole section as a YAML mapping;
  an unknown key names the known ones;
* the field reference in the docs (chipsim/config/reference.py): types, bounds, defaults and
  the fields' descriptions.

Conventions for the models (here, in workload.py and profile.py, and in the registries the
workload is read against: learning rules' ``Options``, ``LOSSES``, ``LAYER_KINDS``):

* a discriminated union (``Field(discriminator=...)`` or ``Tag``-ged members) is a section whose
  fields depend on a name (``rule.name``, ``loss.kind``, a layer's ``kind``); a field of another
  member is reported as such ("'k' is not a field of rule 'bptt' ... only with rule sltt");
* a validator raises :class:`FieldProblem` (a ValueError) for a problem it can name precisely:
  the field below the validated model (``field``), what was given and what was expected;
  a plain ValueError whose text is ``"<field> ...; expected ..."`` is read the same way;
* ``json_schema_extra`` of a field may give ``expected`` (the text of what is expected, when
  the type says it badly), ``missing`` (the message when it is left out; ``{name}`` is its
  name), ``union`` (the noun of a union's members in messages: ``rule``, ``loss``, ``layer``)
  and ``default_text`` (the default as the docs should say it); a model's own
  ``json_schema_extra`` may give ``expected`` and ``scalar_hint`` (for a scalar written where
  the model's mapping belongs).

Of several problems, an unknown key is reported first (it is usually a misspelling that also
explains a missing field), else the first in the models' field order.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Mapping, Union, get_args, get_origin

import annotated_types as at
from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Tag, ValidationError
from pydantic.fields import FieldInfo

from chipsim.config.yamlio import parse_yaml_value, type_name
from chipsim.errors import ChipsimError


# ----------------------------------------------------------------------------------------
# the base of every section, and a few field types
# ----------------------------------------------------------------------------------------
class Section(BaseModel):
    """A section of a workload or a profile: unknown keys refused, frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldProblem(ValueError):
    """A validator's precise complaint: ``detail`` about ``field`` (dotted, below the model
    being validated; None: the validated value itself), and what was ``expected``."""

    def __init__(self, detail: str, expected: str | None = None, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.expected = expected
        self.field = field


def _nonblank(v: str) -> str:
    if not v.strip():
        raise FieldProblem("is empty", "a non-empty string")
    return v


#: A string that is not empty (nor only blanks).
Text = Annotated[str, AfterValidator(_nonblank)]


def as_tuple(value):
    """Before-validator of list fields: YAML gives lists, the sections keep tuples (frozen)."""
    return tuple(value) if isinstance(value, list) else value


# ----------------------------------------------------------------------------------------
# walking the types of the models
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """What a type annotation is, for messages, overrides and the docs."""

    kind: str                    # 'model' | 'union' | 'list' | 'dict' | 'scalar'
    tp: Any                      # the type with Annotated and None taken off
    meta: tuple = ()             # constraints and FieldInfos from Annotated / Field
    nullable: bool = False
    models: tuple = ()           # 'model': (cls,); 'union': the member classes
    tags: tuple = ()             # 'union': per member, the tag values that select it
    disc: str | None = None      # 'union': the discriminating field's name
    item: Any = None             # 'list' / 'dict': the items' annotation
    extra: Any = None            # json_schema_extra of the field (a dict) or None


def _strip(tp):
    """(type, metadata, nullable) with Annotated layers and ``None`` taken off."""
    meta: list = []
    nullable = False
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            args = get_args(tp)
            tp, meta = args[0], meta + list(args[1:])
            continue
        if origin in (Union, types.UnionType):
            args = get_args(tp)
            rest = [a for a in args if a is not type(None)]
            if len(rest) < len(args):
                nullable = True
                if len(rest) == 1:
                    tp = rest[0]
                    continue
                tp = Union[tuple(rest)]
        return tp, meta, nullable


def _is_model(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _discriminator(meta) -> str | None:
    for m in meta:
        if isinstance(m, FieldInfo) and m.discriminator is not None:
            d = m.discriminator
            return d if isinstance(d, str) else None
        if isinstance(m, Discriminator):
            return m.discriminator if isinstance(m.discriminator, str) else None
    return None


def node(annotation, field: FieldInfo | None = None) -> Node:
    """The :class:`Node` of ``annotation`` (with the FieldInfo of the field it types, if any)."""
    tp, meta, nullable = _strip(annotation)
    extra = None
    if field is not None:
        meta = list(field.metadata) + meta
        if field.discriminator is not None:
            meta.append(Discriminator(field.discriminator) if not isinstance(
                field.discriminator, Discriminator) else field.discriminator)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else None
    for m in meta:
        if isinstance(m, FieldInfo) and isinstance(m.json_schema_extra, dict):
            extra = {**m.json_schema_extra, **(extra or {})}
    meta = tuple(meta)
    origin = get_origin(tp)
    if _is_model(tp):
        return Node("model", tp, meta, nullable, models=(tp,), extra=extra)
    if origin in (Union, types.UnionType):
        members, tags = [], []
        for arg in get_args(tp):
            m_tp, m_meta, _ = _strip(arg)
            if not _is_model(m_tp):
                return Node("scalar", tp, meta, nullable, extra=extra)
            members.append(m_tp)
            tags.append(tuple(t.tag for t in m_meta if isinstance(t, Tag)))
        disc = _discriminator(meta)      # None: a callable picks the member, by its Tag
        if disc is not None:
            tags = [t or _literal_values(mod.model_fields[disc].annotation)
                    for t, mod in zip(tags, members)]
        return Node("union", tp, meta, nullable, models=tuple(members), tags=tuple(tags),
                    disc=disc, extra=extra)
    if origin in (tuple, list):
        args = get_args(tp)
        return Node("list", tp, meta, nullable, item=args[0] if args else Any, extra=extra)
    if origin is dict:
        args = get_args(tp)
        return Node("dict", tp, meta, nullable, item=args[1] if args else Any, extra=extra)
    return Node("scalar", tp, meta, nullable, extra=extra)


def field_node(model: type[BaseModel], name: str) -> Node:
    fi = model.model_fields[name]
    return node(fi.annotation, fi)


def _literal_values(tp) -> tuple:
    tp, _, _ = _strip(tp)
    return get_args(tp) if get_origin(tp) is Literal else ()


def fields_of(n: Node) -> dict[str, FieldInfo]:
    """The fields of a model node, or of every member of a union node (first member wins)."""
    out: dict[str, FieldInfo] = {}
    for m in n.models:
        for k, fi in m.model_fields.items():
            out.setdefault(k, fi)
    return out


def member(n: Node, tag) -> type[BaseModel] | None:
    """The member of union ``n`` that tag ``tag`` selects."""
    for m, tags in zip(n.models, n.tags):
        if tag in tags or tag == m.__name__:
            return m
    return None


def owners(n: Node, field: str) -> list[str]:
    """The tags of the members of union ``n`` that have ``field``."""
    out: list[str] = []
    for m, tags in zip(n.models, n.tags):
        if field in m.model_fields:
            out += [str(t) for t in tags if str(t) not in out]
    return out


# ----------------------------------------------------------------------------------------
# what a type expects, in words
# ----------------------------------------------------------------------------------------
def _bounds(meta) -> dict:
    out: dict = {}
    for m in meta:
        if isinstance(m, FieldInfo):
            out.update(_bounds(m.metadata))
        elif isinstance(m, at.Ge):
            out["ge"] = m.ge
        elif isinstance(m, at.Gt):
            out["gt"] = m.gt
        elif isinstance(m, at.Le):
            out["le"] = m.le
        elif isinstance(m, at.Lt):
            out["lt"] = m.lt
        elif isinstance(m, at.MinLen):
            out["min_length"] = m.min_length
        elif isinstance(m, at.MaxLen):
            out["max_length"] = m.max_length
    return out


def range_text(kind: str, b: dict) -> str:
    lo = b.get("ge", b.get("gt"))
    hi = b.get("le", b.get("lt"))
    lo_open, hi_open = "gt" in b, "lt" in b
    if lo is not None and hi is not None:
        return f"{kind} in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{kind} {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{kind} {'<' if hi_open else '<='} {hi:g}"
    return kind


def _model_expected(model) -> str:
    extra = model.model_config.get("json_schema_extra")
    if isinstance(extra, dict) and extra.get("expected"):
        return extra["expected"]
    return "a mapping of field: value"


def expected(n: Node, *, with_null: bool = True) -> str:
    """What a value of node ``n`` must be, e.g. ``"an integer >= 1"``, ``"one of a, b"``."""
    if n.extra and n.extra.get("expected"):
        text = n.extra["expected"]
        return text + (" or null" if n.nullable and with_null and "null" not in text else "")
    b = _bounds(n.meta)
    tp = n.tp
    if n.kind == "model":
        text = _model_expected(n.models[0])
    elif n.kind == "union":
        text = _model_expected(n.models[0])
        if n.disc:
            text += f" with {n.disc} " + " or ".join(str(t) for tags in n.tags for t in tags)
    elif n.kind == "list":
        text = "a list" + (f" of at least {b['min_length']} item(s)" if b.get("min_length") else "")
    elif n.kind == "dict":
        text = "a mapping"
        if b.get("min_length"):
            text = "a non-empty mapping"
    elif tp is bool:
        text = "true or false"
    elif tp is int:
        text = range_text("an integer", b)
    elif tp is float:
        text = range_text("a number", b)
    elif tp is str:
        text = "a string"
    elif get_origin(tp) is Literal:
        text = "one of " + ", ".join(str(v) for v in get_args(tp))
    elif get_origin(tp) in (Union, types.UnionType):
        parts = []
        for arg in get_args(tp):
            a = node(arg)
            vals = _literal_values(arg)
            parts.append(repr(vals[0]) if len(vals) == 1 else expected(a, with_null=False))
        text = " or ".join(parts)
    else:
        text = tp.__name__ if isinstance(tp, type) else str(tp)
    if n.nullable and with_null:
        text += " or null"
    return text


# ----------------------------------------------------------------------------------------
# showing a value in a message
# ----------------------------------------------------------------------------------------
def show(value) -> str:
    """A value as a message shows it: ``'ten'``, ``5``, ``true``, ``null``, ``a mapping``."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (dict, list, tuple)):
        return f"a {type_name(value)}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return repr(value)


# ----------------------------------------------------------------------------------------
# one ChipsimError from a pydantic ValidationError
# ----------------------------------------------------------------------------------------
@dataclass
class Place:
    """Where a pydantic ``loc`` points in the models."""

    parts: list                  # the dotted field's components (union tags left out)
    node: Node                   # the node reached
    union: Node | None           # the union the model reached was chosen from
    tag: Any                     # ... and its tag
    rest: tuple                  # the part of loc below the node reached (an extra key, labels)


def locate(root: type[BaseModel], loc) -> Place:
    n = node(root)
    parts: list = []
    union = tag = None
    i = 0
    while i < len(loc):
        el = loc[i]
        if n.kind == "model":
            fields = n.models[0].model_fields
            if not isinstance(el, str) or el not in fields:
                break
            fi = fields[el]
            parts.append(el)
            n, union, tag = node(fi.annotation, fi), None, None
        elif n.kind == "union":
            m = member(n, el)
            if m is None:
                break
            union, tag = n, el
            n = Node("model", m, models=(m,))
        elif n.kind in ("list", "dict"):
            parts.append(str(el))
            n, union, tag = item_node(n), None, None
        else:
            break
        i += 1
    return Place(parts, n, union, tag, tuple(loc[i:]))


def item_node(n: Node) -> Node:
    """The node of the items of list or dict node ``n`` (a union of items keeps the noun its
    container's field gives them, ``json_schema_extra={"union": ...}``)."""
    item = node(n.item)
    if item.kind == "union" and n.extra and n.extra.get("union"):
        item = dataclasses.replace(item, extra={**(item.extra or {}), "union": n.extra["union"]})
    return item


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _takes(model) -> str:
    req = [k for k, f in model.model_fields.items() if f.is_required()]
    opt = [k for k, f in model.model_fields.items() if not f.is_required()]
    disc_free = [k for k in opt if _literal_values(model.model_fields[k].annotation) == ()]
    takes = ", ".join(req) if req else "no other field"
    if disc_free:
        takes += f" (optional: {', '.join(disc_free)})"
    return takes


class _Reporter:
    """Turns the first of pydantic's errors into one ChipsimError about ``doc``."""

    def __init__(self, root: type[BaseModel], doc):
        self.root = root
        self.doc = doc

    def error(self, dotted: str, detail: str, expected_text: str | None = None) -> ChipsimError:
        if dotted:
            w = self.doc.where(dotted)
            if w is not None:
                detail = f"{w.removeprefix('at ')}: {detail}"
        return ChipsimError(detail, file=self.doc.path, field=dotted or None,
                            expected=expected_text)

    def missing(self, parts: list, n: Node) -> ChipsimError:
        name, section = parts[-1], ".".join(parts[:-1])
        extra = n.extra or {}
        where = self.doc.where(section) if section else None     # its line, or the override
        if extra.get("missing"):
            detail = extra["missing"].replace("{name}", name)
        else:
            detail = f"missing required field '{name}' in " + (
                f"section '{section}'" if section else "the file")
        if where is not None:
            detail += f" ({where.removeprefix('at ')})"
        return ChipsimError(detail, file=self.doc.path, field=".".join(parts),
                            expected=expected(n).replace("{name}", name))

    def foreign(self, place: Place, key: str, siblings: list) -> ChipsimError | None:
        """A field of another member of the union the model was chosen from."""
        u = place.union
        if u is None:
            return None
        who = owners(u, key)
        if not who:
            return None
        model = place.node.models[0]
        tag = place.tag
        base = ".".join(place.parts)
        dotted = f"{base}.{key}" if base else key
        noun = (u.extra or {}).get("union") or u.disc
        if noun is None:
            return None
        if noun == "layer":
            own = " or ".join(who)
            takes = _takes(model)
            missing = [s for s in siblings if s["type"] == "missing"]
            foreign = [s["loc"][-1] for s in siblings if s["type"] == "extra_forbidden"]
            if missing:
                # e.g. {kind: conv, units: 32}: the fields say another kind, so the kind is wrong
                given = ", ".join(str(f) for f in foreign)
                return self.error(f"{base}.{u.disc}", f"got {tag!r} but the layer gives {given}, "
                                  f"field(s) of kind {' or '.join(owners_any(u, foreign))}",
                                  f"kind {' or '.join(owners_any(u, foreign))}, or "
                                  f"{_a(str(tag))} layer with {takes}")
            return self.error(dotted, f"is not a field of {_a(str(tag))} layer (it belongs to "
                              f"kind {own})", f"{_a(str(tag))} layer with {takes}; remove '{key}'")
        if noun == "loss":
            return self.error(dotted, f"is not a field of loss '{tag}'",
                              f"'{key}' only with loss {u.disc} {' or '.join(who)}; remove it "
                              f"(from the command line, replace the whole section, e.g. "
                              f"{base}={{{u.disc}: {tag}}})")
        return self.error(dotted, f"is not a field of {noun} '{tag}'",
                          f"'{key}' only with {noun} {' or '.join(who)}; remove it")

    def convert(self, exc: ValidationError) -> ChipsimError:
        errors = exc.errors(include_url=False)
        # an unknown key first: it is usually a misspelling that also explains a missing field
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        place = locate(self.root, first["loc"])
        kind, value = first["type"], first.get("input")
        n = place.node
        dotted = ".".join(place.parts)

        if kind == "extra_forbidden":
            key = str(place.rest[0]) if place.rest else place.parts[-1]
            siblings = [e for e in errors
                        if tuple(e["loc"][:len(first["loc"]) - 1]) == tuple(first["loc"][:-1])
                        and len(e["loc"]) == len(first["loc"])]
            if n.kind == "model":
                err = self.foreign(place, key, siblings)
                if err is not None:
                    return err
                known = fields_of(place.union) if place.union is not None else fields_of(n)
            else:
                known = {}
            field = f"{dotted}.{key}" if dotted else key
            return self.error(field, f"unknown field '{key}'; known fields: {', '.join(known)}")

        if kind == "missing":
            return self.missing(place.parts, n)

        if kind in ("union_tag_invalid", "union_tag_not_found") and n.kind == "union":
            tags = ", ".join(str(t) for ts in n.tags for t in ts)
            field = f"{dotted}.{n.disc}" if dotted else n.disc
            if not isinstance(value, dict):
                return self.error(dotted, f"got {show(value)}", expected(n))
            known = fields_of(n)
            unknown = [str(k) for k in value if k not in known]
            if unknown:           # a key no member has: probably what misnamed the tag too
                return self.error(f"{dotted}.{unknown[0]}" if dotted else unknown[0],
                                  f"unknown field '{unknown[0]}'; known fields: "
                                  f"{', '.join(known)}")
            if kind == "union_tag_not_found" or n.disc not in value:
                return self.missing(place.parts + [n.disc], Node(
                    "scalar", str, extra={"expected": f"one of {tags}"}))
            return self.error(field, f"got {show(value[n.disc])}", f"one of {tags}")

        if kind == "value_error":
            problem = (first.get("ctx") or {}).get("error")
            if isinstance(problem, FieldProblem):
                field = ".".join(p for p in (dotted, problem.field) if p)
                return self.error(field, problem.detail, problem.expected)
            text = str(problem if problem is not None else first["msg"])
            detail, _, exp = text.partition("; expected ")
            head = detail.split(" ", 1)[0]
            field = dotted
            if n.kind == "model" and head in n.models[0].model_fields:
                field = f"{dotted}.{head}" if dotted else head
            return self.error(field, detail, exp or None)

        if kind == "too_short" and isinstance(value, (list, tuple, dict)):
            return self.error(dotted, f"has {len(value)} item(s)", expected(n))

        detail = f"got {show(value)}"
        if n.kind == "model" and isinstance(value, (str, int, float)) and \
                not isinstance(value, bool):
            hint = n.models[0].model_config.get("json_schema_extra") or {}
            if isinstance(hint, dict) and hint.get("scalar_hint"):
                detail += "; " + hint["scalar_hint"].format(value=value)
        return self.error(dotted, detail, expected(n))


def owners_any(u: Node, fields) -> list[str]:
    out: list[str] = []
    for f in fields:
        out += [o for o in owners(u, str(f)) if o not in out]
    return out


def _non_finite(data, path=()):
    """The path of the first NaN or infinite number in ``data``, or None."""
    if isinstance(data, float) and not math.isfinite(data):
        return path
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return None
    for k, v in items:
        found = _non_finite(v, path + (k,))
        if found is not None:
            return found
    return None


def validate(model: type[BaseModel], doc, data=None):
    """``model`` validated from ``data`` (default: ``doc.data``); one :class:`ChipsimError`
    naming the file, the field, its line and what was expected when it does not fit."""
    data = doc.data if data is None else data
    reporter = _Reporter(model, doc)
    bad = _non_finite(data)
    if bad is not None:
        place = locate(model, bad)
        raise reporter.error(".".join(str(p) for p in bad), f"got {show(_at(data, bad))}",
                             "a finite " + expected(place.node).removeprefix("a ")
                             if place.node.tp is float else "a finite number")
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise reporter.convert(exc) from None


def _at(data, path):
    for p in path:
        data = data[p]
    return data


# ----------------------------------------------------------------------------------------
# --set overrides, derived from the models
# ----------------------------------------------------------------------------------------
def apply_overrides(data: dict, overrides: Mapping[str, str] | None, model: type[BaseModel], *,
                    file, what: str = "the workload") -> dict:
    """A deep copy of ``data`` with ``overrides`` (dotted key -> YAML literal) applied.

    A key names a field of ``model`` (``training.epochs``), an item of a list
    (``network.hidden.0.units``), a key of a mapping (``mapping.dense1``) or a whole section
    (``loss``, given as a YAML mapping). The fields of a union are those of all its members
    (``rule.k`` is a key even when the file's rule is not sltt; the validation then says that
    ``k`` belongs to sltt). Any other key is a :class:`ChipsimError` naming the known ones.
    Values are validated afterwards, with the rest of the document.
    """
    out = copy.deepcopy(data)
    for key, text in (overrides or {}).items():
        if not isinstance(key, str) or not key:
            raise ChipsimError(f"override key {key!r} is not a dotted field name", file=file,
                               expected="a key such as 'training.epochs'")
        value = parse_yaml_value(text, file=file, field=key)
        parts = key.split(".")
        here, n = out, node(model)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            above = ".".join(parts[:i])
            path = ".".join(parts[: i + 1])
            if n.kind in ("model", "union"):
                fields = fields_of(n)
                if part not in fields:
                    raise ChipsimError(
                        f"unknown field '{part}' in override '{key}'; known fields"
                        f"{' of ' + above if above else ''}: {', '.join(fields)}",
                        file=file, field=key, expected=f"a field of {what}")
                sub = node(fields[part].annotation, fields[part])
            elif n.kind == "list":
                size = len(here) if isinstance(here, list) else 0
                if not part.isdigit() or int(part) >= size:
                    raise ChipsimError(
                        f"unknown field '{part}' in override '{key}': '{above}' has {size} "
                        "item(s)", file=file, field=key,
                        expected=f"an index 0..{size - 1}" if size else f"an override of the "
                                                                       f"whole '{above}'")
                part = int(part)
                sub = node(n.item)
            elif n.kind == "dict":
                sub = node(n.item)
            else:
                raise ChipsimError(f"unknown field '{part}' in override '{key}': '{above}' has "
                                   "no sub-fields", file=file, field=key,
                                   expected=f"an override of '{above}' itself")
            container = "list" if n.kind == "list" else "mapping"
            if not isinstance(here, list if n.kind == "list" else dict):
                raise ChipsimError(f"cannot set '{key}': '{above}' is not a {container} in the "
                                   "file", file=file, field=key,
                                   expected=f"an override of the whole '{above}'")
            if last:
                here[part] = value
                break
            if sub.kind == "scalar":
                raise ChipsimError(f"unknown field '{parts[i + 1]}' in override '{key}': "
                                   f"'{path}' has no sub-fields", file=file, field=key,
                                   expected=f"an override of '{path}' itself")
            if isinstance(here, dict) and here.get(part) is None:
                if sub.kind not in ("model", "union", "dict"):
                    raise ChipsimError(f"cannot set '{key}': '{path}' is not given in the file",
                                       file=file, field=key,
                                       expected=f"an override of the whole '{path}'")
                here[part] = {}
            here, n = here[part], sub
    return out
