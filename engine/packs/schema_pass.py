"""Pass 1 of validation: check one file's keys, types and values against the schema.

Items (each intent, slot, flow, queue, rule ...) are validated one by one, so a broken item is
reported and left out without hiding problems elsewhere; the names of broken items are kept so
the reference checks of pass 2 do not report them a second time as missing.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from engine.packs import errors
from engine.packs.errors import Diagnostic, did_you_mean
from engine.packs.schema import (
    NAME_PATTERN,
    SINGULAR,
    Escalation,
    EscalationRule,
    Node,
    OutOfScope,
    PackFile,
    Queue,
    Settings,
)
from engine.packs.source import SourceFile, YamlPath
from engine.packs.yamlfiles import to_plain

_NAME = re.compile(NAME_PATTERN)
METADATA_KEYS = ("pack", "version", "language", "description", "channels", "imports", "overrides")
DICT_SECTIONS = ("intents", "entities", "slots", "responses", "actions", "flows")


@dataclass
class FileContent:
    """What one file contributes to a pack, validated."""

    source: SourceFile
    metadata: dict[str, Any] = field(default_factory=dict)
    settings: Settings | None = None
    out_of_scope: OutOfScope | None = None
    items: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    queues: dict[str, Queue] = field(default_factory=dict)
    rules: list[EscalationRule] = field(default_factory=list)
    default_queue: str | None = None
    #: (section, name) of items that failed validation: known to exist, but unusable.
    broken: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class _Validator:
    """A type and its pydantic validator; the type names the valid keys in unknown-key errors."""

    root: Any
    adapter: TypeAdapter[Any]

    @classmethod
    def of(cls, root: Any) -> _Validator:
        return cls(root, TypeAdapter(root))


@dataclass(frozen=True)
class _Failure:
    """What a failed validation reported, for callers that try to recover part of the item."""

    details: list[ErrorDetails]


def _item_type(model: type[BaseModel], name: str) -> Any:
    """The value type of a `dict[Name, X]` field."""
    return get_args(model.model_fields[name].annotation)[1]


@functools.cache
def _field_validator(model: type[BaseModel], name: str) -> _Validator:
    """A validator for one field of a model, with the field's own constraints."""
    info = model.model_fields[name]
    annotated: Any = typing.Annotated[info.annotation, info]
    return _Validator.of(annotated)


_ITEMS = {section: _Validator.of(_item_type(PackFile, section)) for section in DICT_SECTIONS}
_QUEUE = _Validator.of(Queue)
_RULE = _Validator.of(EscalationRule)
_OUT_OF_SCOPE = _Validator.of(OutOfScope)


def check_file(source: SourceFile) -> tuple[FileContent, list[Diagnostic]]:
    """Validate one parsed file against the schema, item by item."""
    content = FileContent(source)
    diagnostics: list[Diagnostic] = []
    root = source.root
    if root is None:
        return content, diagnostics
    valid_keys = [f.alias or n for n, f in PackFile.model_fields.items()]
    for key, value in root.items():
        if key not in valid_keys:
            diagnostics.append(_unknown_key(source, (key,), str(key), "the pack file", valid_keys))
        elif key in METADATA_KEYS:
            result = _validate(source, _field_validator(PackFile, key), value, (key,), diagnostics)
            if isinstance(result, _Failure):
                content.broken.add(("metadata", key))
            else:
                content.metadata[key] = result
        elif key in DICT_SECTIONS:
            _check_section(source, key, value, diagnostics, content)
        elif key == "settings":
            content.settings = _check_settings(source, value, diagnostics, content)
        elif key == "out_of_scope":
            result = _validate(source, _OUT_OF_SCOPE, value, (key,), diagnostics)
            content.out_of_scope = None if isinstance(result, _Failure) else result
        elif key == "escalation":
            _check_escalation(source, value, diagnostics, content)
    return content, diagnostics


def _check_section(
    source: SourceFile, section: str, value: Any, diagnostics: list[Diagnostic], content: FileContent
) -> None:
    if value is None:
        return
    items = _check_named(source, (section,), section, value, _ITEMS[section], diagnostics, content)
    content.items[section].update(items)


def _check_named(
    source: SourceFile,
    path: YamlPath,
    section: str,
    value: Any,
    validator: _Validator,
    diagnostics: list[Diagnostic],
    content: FileContent,
) -> dict[str, Any]:
    """Validate a mapping of name -> item, each item on its own; broken names go to `content.broken`."""
    kind = SINGULAR[section]
    if not isinstance(value, dict):
        diagnostics.append(
            _at(
                source,
                path,
                errors.WRONG_TYPE,
                where=describe(path),
                expected=f"a mapping of {kind} names to definitions",
                found=_kind(value),
            )
        )
        return {}
    valid: dict[str, Any] = {}
    for key, item in value.items():
        name = str(key)
        if not _NAME.match(name):
            diagnostics.append(
                _at(source, path + (name,), errors.BAD_NAME, on_key=True, kind=kind, name=name)
            )
            content.broken.add((section, name))
            continue
        result = _validate(source, validator, item, path + (name,), diagnostics)
        if isinstance(result, _Failure):
            content.broken.add((section, name))
            if section == "flows":
                result = _salvage_flow(source, to_plain(item), path + (name,), result)
        if not isinstance(result, _Failure):
            valid[name] = result
    return valid


def _known_keys(
    source: SourceFile,
    path: YamlPath,
    value: Any,
    model: type[BaseModel],
    expected: str,
    diagnostics: list[Diagnostic],
) -> Iterator[tuple[str, Any, YamlPath]]:
    """The (key, value, path) of a section's valid keys; wrong shapes and unknown keys are reported."""
    if not isinstance(value, dict):
        diagnostics.append(
            _at(source, path, errors.WRONG_TYPE, where=describe(path), expected=expected, found=_kind(value))
        )
        return
    valid = [f.alias or n for n, f in model.model_fields.items()]
    for key, item in value.items():
        if key in valid:
            yield key, item, path + (key,)
        else:
            diagnostics.append(_unknown_key(source, path + (key,), str(key), describe(path), valid))


def _check_settings(
    source: SourceFile, value: Any, diagnostics: list[Diagnostic], content: FileContent
) -> Settings | None:
    """Settings group by group: a broken group falls back to its defaults and is marked broken,
    so rules that depend on it stay quiet instead of judging the defaults."""
    if value is None:
        return None
    parts: dict[str, Any] = {}
    groups = _known_keys(source, ("settings",), value, Settings, "a mapping of setting groups", diagnostics)
    for key, item, path in groups:
        result = _validate(source, _field_validator(Settings, key), item, path, diagnostics)
        if isinstance(result, _Failure):
            content.broken.add(("settings", key))
        else:
            parts[key] = result
    settings = Settings(**parts)
    attach_origins(settings, source, ("settings",))
    return settings


def _check_escalation(
    source: SourceFile, value: Any, diagnostics: list[Diagnostic], content: FileContent
) -> None:
    if value is None:
        return
    parts = _known_keys(
        source, ("escalation",), value, Escalation, "a mapping with queues and rules", diagnostics
    )
    for key, item, path in parts:
        if key == "default_queue":
            result = _validate(source, _field_validator(Escalation, key), item, path, diagnostics)
            if not isinstance(result, _Failure):
                content.default_queue = result
        elif key == "queues" and item is not None:
            content.queues.update(_check_named(source, path, "queues", item, _QUEUE, diagnostics, content))
        elif key == "rules":
            if not isinstance(item, list):
                diagnostics.append(
                    _at(
                        source,
                        path,
                        errors.WRONG_TYPE,
                        where=describe(path),
                        expected="a list of rules",
                        found=_kind(item),
                    )
                )
                continue
            for index, rule in enumerate(item):
                result = _validate(source, _RULE, rule, path + (index,), diagnostics)
                if not isinstance(result, _Failure):
                    content.rules.append(result)


def _salvage_flow(source: SourceFile, plain: Any, path: YamlPath, failure: _Failure) -> Any:
    """A flow without its broken top-level steps, so the rules pass can still check the others.

    Only when every error is inside a step; the flow stays marked broken either way.
    """
    if not isinstance(plain, dict) or not isinstance(plain.get("steps"), list):
        return failure
    bad: set[int] = set()
    for detail in failure.details:
        real = _real_path(plain, tuple(detail["loc"]))
        if len(real) < 2 or real[0] != "steps" or not isinstance(real[1], int):
            return failure
        bad.add(real[1])
    kept = [(i, step) for i, step in enumerate(plain["steps"]) if i not in bad]
    if not kept:
        return failure
    try:
        flow = _ITEMS["flows"].adapter.validate_python({**plain, "steps": [step for _, step in kept]})
    except ValidationError:
        return failure
    attach_origins(flow, source, path)
    # Each kept step keeps the path of its original position in the file.
    for (index, _), step in zip(kept, flow.steps, strict=True):
        attach_origins(step, source, path + ("steps", index))
    return flow


def _validate(
    source: SourceFile, validator: _Validator, node: Any, path: YamlPath, diagnostics: list[Diagnostic]
) -> Any:
    """The validated, located value of the YAML `node` at `path`, or a `_Failure` (reported)."""
    value = to_plain(node)
    try:
        result = validator.adapter.validate_python(value)
    except ValidationError as error:
        details = error.errors(include_url=False)
        diagnostics.extend(convert_errors(source, path, value, details, validator.root))
        return _Failure(details)
    attach_origins(result, source, path)
    return result


# -- origins ---------------------------------------------------------------------------------
def attach_origins(value: Any, source: SourceFile, path: YamlPath) -> None:
    """Record on every node of a validated tree the file and path it came from."""
    if isinstance(value, Node):
        value._source = source
        value._path = path
        for name, info in type(value).model_fields.items():
            attach_origins(getattr(value, name), source, path + (info.alias or name,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            attach_origins(item, source, path + (index,))
    elif isinstance(value, dict):
        for key, item in value.items():
            attach_origins(item, source, path + (key,))


# -- turning pydantic's errors into diagnostics ----------------------------------------------
_EXPECTED = {
    "string_type": "a text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dataclass_type": "a text",
    "literal_error": "",
    "none_required": "nothing",
    "string_pattern_mismatch": "",
    "is_instance_of": "a text",
}


def convert_errors(
    source: SourceFile, base: YamlPath, value: Any, details: list[ErrorDetails], root: Any = None
) -> list[Diagnostic]:
    """Map pydantic errors for the value at `base` to catalogue diagnostics with locations.

    `root` is the type the value was validated against (for the valid keys of unknown-key
    errors). Errors from the branches of one union (e.g. 'a number or auto') are merged into one.
    """
    groups: dict[YamlPath, list[ErrorDetails]] = {}
    for detail in details:
        real = _real_path(value, tuple(detail["loc"]))
        groups.setdefault(real, []).append(detail)
    # A union of a single value and a list (e.g. regex) fails both ways for a list with one bad
    # item: the deeper error says what is wrong, the "expected a text" at the list says nothing.
    for real in list(groups):
        deeper = any(other[: len(real)] == real and len(other) > len(real) for other in groups)
        if deeper and all(d["type"] in _EXPECTED for d in groups[real]):
            del groups[real]
    result: list[Diagnostic] = []
    for real, group in groups.items():
        result.extend(_convert_group(source, base, real, group, root))
    return result


def _convert_group(
    source: SourceFile, base: YamlPath, real: YamlPath, group: list[ErrorDetails], root: Any
) -> list[Diagnostic]:
    path = base + real
    where = describe(path)
    first = group[0]
    kind = first["type"]
    ctx = dict(first.get("ctx") or {})
    if kind == "extra_forbidden":
        owner = _model_at(root, tuple(first["loc"])[:-1])
        valid = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
        return [_unknown_key(source, path, str(path[-1]), describe(path[:-1]), valid)]
    if kind == "missing":
        # The missing key is not in the data, so `path` already ends at the mapping that lacks it.
        key = str(first["loc"][-1])
        return [
            _at(source, path, errors.MISSING_KEY, on_key=True, where=describe(path) or "this item", key=key)
        ]
    if kind in errors.CATALOGUE:
        return [_custom(source, path, kind, first)]
    if len(group) == 1 and kind in _EXPECTED and _EXPECTED[kind]:
        return [
            _at(
                source,
                path,
                errors.WRONG_TYPE,
                where=where,
                expected=_EXPECTED[kind],
                found=_kind(first["input"]),
            )
        ]
    if kind == "string_pattern_mismatch" and len(group) == 1 and ctx.get("pattern") == NAME_PATTERN:
        return [_at(source, path, errors.BAD_NAME, kind=_name_kind(path), name=str(first["input"]))]
    if kind == "literal_error" and len(group) == 1 and _names_channel(path):
        from engine.packs.schema import CHANNELS

        name = str(first["input"])
        return [
            _at(
                source,
                path,
                errors.UNKNOWN_CHANNEL,
                where=where,
                name=name,
                hint=did_you_mean(name, CHANNELS),
                known=", ".join(CHANNELS),
            )
        ]
    expected = [_describe_expected(d) for d in group]
    if len(group) > 1 and all(d["type"] in _EXPECTED for d in group):
        return [
            _at(
                source,
                path,
                errors.WRONG_TYPE,
                where=where,
                expected=" or ".join(_unique(expected)),
                found=_kind(first["input"]),
            )
        ]
    problem = first["msg"] if len(group) == 1 else f"{_kind(first['input'])} is not allowed"
    fix = "use " + " or ".join(_unique(expected)) if any(expected) else "see docs/pack-language.md"
    if kind == "literal_error" and isinstance(first["input"], str):
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        hint = did_you_mean(first["input"], options)
        if hint.startswith("did you mean"):
            problem = f"{first['input']!r} is not allowed; {hint}"
    return [_at(source, path, errors.BAD_VALUE, where=where, problem=problem, fix=fix)]


def _names_channel(path: YamlPath) -> bool:
    """Whether the value at `path` is a channel: a `channel:` key, or an item of the top-level
    `channels:` list (not of anything else called channels, such as a slot)."""
    served = len(path) == 2 and path[0] == "channels" and isinstance(path[1], int)
    return served or (bool(path) and path[-1] == "channel")


def _custom(source: SourceFile, path: YamlPath, code: str, detail: ErrorDetails) -> Diagnostic:
    ctx = dict(detail.get("ctx") or {})
    problem = errors.CATALOGUE[code]
    if code == "P105":
        return _at(
            source, path, problem, pattern=ctx.get("pattern", detail["input"]), reason=ctx.get("reason", "")
        )
    if code == "P106":
        return _at(
            source, path, problem, example=str(detail["input"]), reason=ctx.get("reason", detail["msg"])
        )
    if code == "P107":
        from engine.packs.schema import STEP_KINDS

        return _at(source, path, problem, kinds=", ".join(STEP_KINDS))
    if code == "P110":
        return _at(source, path, problem)
    if code == "P102":
        expected = ctx.get("expected", "another kind of value")
        found = _kind(detail["input"])
        return _at(
            source, path, problem, where=describe(path), expected=expected, found=found, hint=ctx.get("hint")
        )
    if code == "P701":
        from engine.packs.testcases import TEST_STEP_KINDS

        return _at(source, path, problem, kinds=", ".join(TEST_STEP_KINDS))
    return _at(source, path, problem, where=describe(path), problem=detail["msg"], fix=ctx.get("fix", ""))


def _describe_expected(detail: ErrorDetails) -> str:
    kind = detail["type"]
    ctx = dict(detail.get("ctx") or {})
    if kind == "literal_error":
        return ctx.get("expected", "").replace("'", "") or "an allowed value"
    if kind == "string_pattern_mismatch":
        return (
            "a name (lowercase letters, digits, '_')"
            if ctx.get("pattern") == NAME_PATTERN
            else (f"a text matching {ctx.get('pattern')}")
        )
    return _EXPECTED.get(kind) or detail["msg"].removeprefix("Input should be ").removeprefix(
        "Value should be "
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _real_path(value: Any, loc: tuple[Any, ...]) -> YamlPath:
    """The part of pydantic's error location that exists in the data (drops union tags)."""
    result: list[str | int] = []
    node = value
    for element in loc:
        in_mapping = isinstance(node, dict) and element in node
        in_list = isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node)
        if in_mapping or in_list:
            node = node[element]
            result.append(element)
    return tuple(result)


def _model_at(root: Any, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validated the mapping at `loc` inside a value of type `root`."""
    current: Any = root
    for element in loc:
        current = _unwrap(current, element)
        if current is None:
            return None
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            if element in fields and not _is_tag(element):
                current = fields[element].annotation
            elif _is_tag(element):
                continue
            else:
                return None
        elif isinstance(element, (int, str)):
            current = _container_item(current)
    current = _unwrap(current, None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _is_tag(element: Any) -> bool:
    return isinstance(element, str) and " " in element


_TAGGED: dict[str, type[BaseModel]] = {}


def _tag_map() -> dict[str, type[BaseModel]]:
    if not _TAGGED:
        from engine.packs import schema, testcases

        for cls in schema._STEP_CLASSES:
            _TAGGED[f"{schema._STEP_CLASSES[cls]} step"] = cls
        for kind, step_cls in testcases._STEP_TYPES.items():
            _TAGGED[f"{kind} check"] = step_cls
        _TAGGED.update(
            {
                "entity fill": schema.FillFromEntity,
                "intent fill": schema.FillFromIntent,
                "text fill": schema.FillFromText,
            }
        )
    return _TAGGED


def _unwrap(annotation: Any, element: Any) -> Any:
    """Strip Annotated/Optional/Union to the model class an error path goes through."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            if _is_tag(element) and element in _tag_map():
                return _tag_map()[element]
            members = [a for a in get_args(annotation) if a is not type(None)]
            models = [
                m
                for m in (_unwrap(a, None) for a in members)
                if isinstance(m, type) and issubclass(m, BaseModel)
            ]
            containers = [a for a in members if get_origin(a) in (list, dict)]
            if isinstance(element, int) and containers:
                annotation = containers[0]
            elif len(models) == 1:
                return models[0]
            elif containers:
                annotation = containers[0]
            else:
                return annotation
        else:
            return annotation


def _container_item(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is list:
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    return annotation


def _name_kind(path: YamlPath) -> str:
    keys = [p for p in path if isinstance(p, str)]
    return keys[-1] if keys else "name"


# -- small helpers ---------------------------------------------------------------------------
def _at(
    source: SourceFile, path: YamlPath, problem: errors.Problem, /, *, on_key: bool = False, **fields: Any
) -> Diagnostic:
    location = source.locate(path, key=on_key)
    return problem(location, **fields).with_source(source.line_text(location.line))


def _unknown_key(source: SourceFile, path: YamlPath, key: str, where: str, valid: list[str]) -> Diagnostic:
    return _at(
        source,
        path,
        errors.UNKNOWN_KEY,
        on_key=True,
        key=key,
        where=where or "the pack file",
        hint=did_you_mean(key, valid),
        valid=", ".join(valid),
    )


def describe(path: YamlPath) -> str:
    """A path as a reader would write it: flows.refund.steps[2].collect."""
    text = ""
    for element in path:
        text += f"[{element}]" if isinstance(element, int) else (f".{element}" if text else str(element))
    return text


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"'{value}'"


__all__ = ["FileContent", "attach_origins", "check_file", "convert_errors", "describe"]
