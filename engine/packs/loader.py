"""Load a pack folder: read its files, check them, resolve imports and merge everything.

`load_pack` is the one entry point: it returns a `Pack` or raises `PackInvalid` with every
problem found; `check_pack` returns the pack (when usable) and the diagnostics without raising.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.packs import channel_rules, errors
from engine.packs.errors import Diagnostic, PackInvalid, Severity, with_source_lines
from engine.packs.pack import Origin, Pack
from engine.packs.rules import run_rules
from engine.packs.schema import (
    SINGULAR,
    Entity,
    EscalationRule,
    LookupFile,
    OutOfScope,
    Settings,
)
from engine.packs.schema_pass import DICT_SECTIONS, FileContent, check_file
from engine.packs.source import Location, SourceFile
from engine.packs.testcases import load_tests
from engine.packs.yamlfiles import display_path, read_yaml

__all__ = ["CheckResult", "check_pack", "load_pack", "pack_files"]

#: Modules of checks besides rules.py: importing them registers their rules with `run_rules`.
_RULE_MODULES = (channel_rules,)

TESTS_FOLDER = "tests"
YAML_SUFFIXES = (".yml", ".yaml")


@dataclass
class CheckResult:
    """The outcome of checking a pack: the pack when it could be assembled, and every problem."""

    folder: Path
    pack: Pack | None
    diagnostics: list[Diagnostic]
    #: (section, name) of items that exist but failed the schema pass.
    broken: frozenset[tuple[str, str]] = frozenset()

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    def ok(self, *, strict: bool = False) -> bool:
        return self.pack is not None and not self.errors and not (strict and self.warnings)


def load_pack(folder: str | Path, *, strict: bool = False) -> Pack:
    """Load and validate the pack in `folder`.

    Raises `PackInvalid` (with every diagnostic) when the pack has errors, or warnings with `strict`.
    """
    result = check_pack(folder)
    if not result.ok(strict=strict) or result.pack is None:
        raise PackInvalid(str(folder), result.diagnostics, strict=strict)
    return result.pack


def check_pack(folder: str | Path, *, with_tests: bool = True) -> CheckResult:
    """Load the pack in `folder` and run every check, collecting all diagnostics.

    `with_tests=False` skips the conversation tests in the pack's tests/ folder (serving needs
    only the pack itself).
    """
    loader = _Loader()
    root = Path(folder)
    assembled = loader.load(root, stack=())
    diagnostics = list(loader.diagnostics)
    pack = assembled.pack if assembled else None
    broken = frozenset(assembled.broken) if assembled else frozenset()
    if pack is not None:
        diagnostics.extend(run_rules(pack, broken))
    if pack is not None and with_tests:
        tests, test_diagnostics = load_tests(pack, broken)
        diagnostics.extend(test_diagnostics)
        pack = replace(pack, tests=tuple(tests))
    # Source lines are added here, once, for every diagnostic that points into a pack file.
    diagnostics = with_source_lines(diagnostics, loader.sources)
    return CheckResult(root, pack, _unique_sorted(diagnostics), broken)


def pack_files(folder: Path) -> list[Path]:
    """The YAML files of a pack, in name order; the tests folder is kept apart."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES)


@dataclass
class _Assembled:
    pack: Pack | None
    broken: set[tuple[str, str]] = field(default_factory=set)


class _Loader:
    """Loads packs, each once, following imports and detecting cycles."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.loaded: dict[Path, _Assembled | None] = {}
        #: Every file read, of this pack and its imports.
        self.sources: list[SourceFile] = []

    def load(
        self, folder: Path, stack: tuple[Path, ...], import_at: Location | None = None
    ) -> _Assembled | None:
        key = folder.resolve()
        if key in self.loaded:
            return self.loaded[key]
        files = pack_files(folder)
        if not files:
            self.diagnostics.append(errors.PACK_NOT_FOUND(import_at, path=display_path(folder)))
            self.loaded[key] = None
            return None
        contents: list[FileContent] = []
        unreadable: set[tuple[str, str]] = set()
        for path in files:
            source, problems = read_yaml(path)
            self.diagnostics.extend(problems)
            if source is None:
                unreadable.add(("file", display_path(path)))
            else:
                self.sources.append(source)
                content, problems = check_file(source)
                self.diagnostics.extend(problems)
                contents.append(content)
        own = _merge_files(contents, self.diagnostics)
        imported: list[tuple[_Assembled, Location]] = []
        for name, location in own.imports:
            target = _import_folder(folder, name)
            if target.resolve() in stack or target.resolve() == key:
                cycle = " -> ".join([p.name for p in stack + (key,)] + [target.resolve().name])
                self.diagnostics.append(errors.IMPORT_CYCLE(location, cycle=cycle))
                continue
            if not pack_files(target):
                self.diagnostics.append(
                    errors.IMPORT_NOT_FOUND(location, name=name, path=display_path(target))
                )
                continue
            child = self.load(target, stack + (key,), location)
            if child is not None and child.pack is not None:
                imported.append((child, location))
        own.broken |= unreadable
        if "pack" not in own.metadata:
            own.name = folder.name
        result = _assemble(folder, own, imported, self.diagnostics)
        self.loaded[key] = result
        return result


def _import_folder(folder: Path, name: str) -> Path:
    return folder / name if "/" in name or name.startswith(".") else folder.parent / name


# -- merging the files of one pack -----------------------------------------------------------
@dataclass
class _Own:
    """Everything one pack's files define, merged, before imports."""

    metadata: dict[str, tuple[Any, Origin]] = field(default_factory=dict)
    settings: Settings | None = None
    out_of_scope: list[OutOfScope] = field(default_factory=list)
    items: dict[str, dict[str, tuple[Any, Origin]]] = field(
        default_factory=lambda: {s: {} for s in DICT_SECTIONS + ("queues",)}
    )
    rules: list[EscalationRule] = field(default_factory=list)
    default_queue: tuple[str, Origin] | None = None
    imports: list[tuple[str, Location]] = field(default_factory=list)
    overrides: list[tuple[str, Location]] = field(default_factory=list)
    broken: set[tuple[str, str]] = field(default_factory=set)
    files: list[SourceFile] = field(default_factory=list)
    name: str = "?"


def _merge_files(contents: list[FileContent], diagnostics: list[Diagnostic]) -> _Own:
    own = _Own()
    pack_name = next((c.metadata["pack"] for c in contents if "pack" in c.metadata), None)
    own.name = pack_name or (contents[0].source.path.parent.name if contents else "?")
    for content in contents:
        source = content.source
        own.files.append(source)
        own.broken |= content.broken
        for key, value in content.metadata.items():
            origin = Origin(own.name, source, (key,))
            if key in own.metadata:
                diagnostics.append(_duplicate(origin, own.metadata[key][1], "pack setting", key))
                continue
            own.metadata[key] = (value, origin)
            if key == "imports":
                own.imports = [(name, source.locate((key, i))) for i, name in enumerate(value)]
            if key == "overrides":
                own.overrides = [(name, source.locate((key, i))) for i, name in enumerate(value)]
        if content.settings is not None:
            if own.settings is not None:
                first = Origin(own.name, own.settings.source or source, own.settings.path)
                diagnostics.append(
                    _duplicate(Origin(own.name, source, ("settings",)), first, "section", "settings")
                )
            else:
                own.settings = content.settings
        if content.out_of_scope is not None:
            own.out_of_scope.append(content.out_of_scope)
        for section, items in content.items.items():
            for name, item in items.items():
                _add(own, section, name, item, Origin(own.name, source, (section, name)), diagnostics)
        for name, queue in content.queues.items():
            _add(
                own,
                "queues",
                name,
                queue,
                Origin(own.name, source, ("escalation", "queues", name)),
                diagnostics,
            )
        own.rules.extend(content.rules)
        if content.default_queue is not None:
            origin = Origin(own.name, source, ("escalation", "default_queue"))
            if own.default_queue is not None:
                diagnostics.append(_duplicate(origin, own.default_queue[1], "setting", "default_queue"))
            else:
                own.default_queue = (content.default_queue, origin)
    return own


def _add(
    own: _Own, section: str, name: str, item: Any, origin: Origin, diagnostics: list[Diagnostic]
) -> None:
    existing = own.items[section].get(name)
    if existing is not None:
        diagnostics.append(_duplicate(origin, existing[1], SINGULAR[section], name))
        return
    own.items[section][name] = (item, origin)


def _duplicate(origin: Origin, first: Origin, kind: str, name: str) -> Diagnostic:
    location = origin.location()
    return errors.DUPLICATE_DEFINITION(location, kind=kind, name=name, other=str(first.location()))


# -- assembling a pack with its imports ------------------------------------------------------
def _assemble(
    folder: Path, own: _Own, imported: list[tuple[_Assembled, Location]], diagnostics: list[Diagnostic]
) -> _Assembled:
    unreadable = any(section == "file" for section, _ in own.broken)
    main_file = _main_file(own)
    for key in ("pack", "version", "language"):
        # A key that is there but malformed was reported already; an unreadable file may hold it.
        if key not in own.metadata and ("metadata", key) not in own.broken and not unreadable:
            location = main_file.start() if main_file else None
            diagnostics.append(errors.METADATA_MISSING(location, key=key))
    items: dict[str, dict[str, Any]] = {s: {} for s in own.items}
    origins: dict[tuple[str, str], Origin] = {}
    lookups: dict[str, tuple[str, ...]] = {}
    broken = set(own.broken)
    import_names: list[str] = []
    out_of_scope: list[OutOfScope] = []
    rules: list[EscalationRule] = list(own.rules)
    overrides = {name: location for name, location in own.overrides}
    default_queue = None
    if own.default_queue is not None:
        default_queue, origins[("escalation", "default_queue")] = own.default_queue

    for child, import_location in imported:
        sub = child.pack
        if sub is None:
            continue
        broken |= child.broken
        for name in sub.imports + (sub.name,):
            if name not in import_names:
                import_names.append(name)
        out_of_scope.extend(b for b in sub.out_of_scope if b not in out_of_scope)
        rules.extend(r for r in sub.rules if r not in rules)
        if default_queue is None and sub.default_queue is not None:
            default_queue = sub.default_queue
            origins[("escalation", "default_queue")] = sub.origins[("escalation", "default_queue")]
        lookups.update(sub.lookups)
        for section, mapping in _sections(sub).items():
            for name, item in mapping.items():
                origin = sub.origins[(section, name)]
                previous = origins.get((section, name))
                if previous is not None and previous.pack != origin.pack:
                    if f"{section}.{name}" not in overrides:
                        # Two imports define it: reported at the later import, naming the earlier.
                        diagnostics.append(
                            errors.IMPORT_CONFLICT(
                                import_location,
                                kind=SINGULAR[section],
                                name=name,
                                pack=previous.pack,
                                other=str(previous.location()),
                                section=section,
                            )
                        )
                    continue
                items[section][name] = item
                origins[(section, name)] = origin

    used_overrides: set[str] = set()
    for section, mapping in own.items.items():
        for name, (item, origin) in mapping.items():
            previous = origins.get((section, name))
            if previous is not None and previous.pack != own.name:
                if f"{section}.{name}" in overrides:
                    used_overrides.add(f"{section}.{name}")
                else:
                    location = origin.location()
                    diagnostics.append(
                        errors.IMPORT_CONFLICT(
                            location,
                            kind=SINGULAR[section],
                            name=name,
                            pack=previous.pack,
                            other=str(previous.location()),
                            section=section,
                        )
                    )
                    continue
            items[section][name] = item
            origins[(section, name)] = origin
    for name, location in own.overrides:
        if name in used_overrides or unreadable:
            continue
        section, _, item = name.partition(".")
        imported_here = (section, item) in origins and origins[(section, item)].pack != own.name
        reason = "this pack does not define a replacement" if imported_here else "no imported pack defines it"
        diagnostics.append(errors.OVERRIDE_NOTHING(location, path=name, reason=reason))

    for name, (entity, origin) in own.items["entities"].items():
        values = _lookup_values(folder, entity, origin, diagnostics)
        if values is not None:
            lookups[name] = values

    metadata = {key: value for key, (value, _) in own.metadata.items()}
    pack = Pack(
        name=metadata.get("pack", own.name),
        version=metadata.get("version", "0.0.0"),
        language=metadata.get("language", "en"),
        description=metadata.get("description"),
        channels=tuple(metadata["channels"]) if "channels" in metadata else None,
        folder=folder,
        settings=own.settings or Settings(),
        intents=MappingProxyType(items["intents"]),
        out_of_scope=tuple(own.out_of_scope + [b for b in out_of_scope if b not in own.out_of_scope]),
        entities=MappingProxyType(items["entities"]),
        slots=MappingProxyType(items["slots"]),
        responses=MappingProxyType({k: tuple(v) for k, v in items["responses"].items()}),
        actions=MappingProxyType(items["actions"]),
        flows=MappingProxyType(items["flows"]),
        queues=MappingProxyType(items["queues"]),
        rules=tuple(rules),
        default_queue=default_queue,
        lookups=MappingProxyType(lookups),
        origins=MappingProxyType(origins),
        imports=tuple(import_names),
        files=tuple(own.files),
        main_file=main_file,
    )
    return _Assembled(pack, broken)


def _main_file(own: _Own) -> SourceFile | None:
    """The file that declares the pack (`pack:`), else pack.yml, else the first file."""
    if "pack" in own.metadata:
        return own.metadata["pack"][1].source
    named = [s for s in own.files if s.path.stem == "pack"]
    if named:
        return named[0]
    return own.files[0] if own.files else None


def _sections(pack: Pack) -> dict[str, Any]:
    return {
        "intents": pack.intents,
        "entities": pack.entities,
        "slots": pack.slots,
        "responses": pack.responses,
        "actions": pack.actions,
        "flows": pack.flows,
        "queues": pack.queues,
    }


def _lookup_values(
    folder: Path, entity: Entity, origin: Origin, diagnostics: list[Diagnostic]
) -> tuple[str, ...] | None:
    if entity.lookup is None:
        return None
    if not isinstance(entity.lookup, LookupFile):
        return tuple(entity.lookup)
    spec = entity.lookup
    location = entity.at("lookup", "file")
    path = folder / spec.file
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        diagnostics.append(errors.LOOKUP_FILE(location, path=spec.file, reason=f"no file at {shown}"))
        return None
    except (OSError, UnicodeDecodeError) as error:
        diagnostics.append(errors.LOOKUP_FILE(location, path=spec.file, reason=str(error)))
        return None
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            diagnostics.append(errors.LOOKUP_FILE(location, path=spec.file, reason="the file is empty"))
            return None
        header, body = rows[0], rows[1:]
        column = 0
        if spec.column is not None:
            if spec.column not in header:
                diagnostics.append(
                    errors.LOOKUP_FILE(
                        entity.at("lookup", "column"),
                        path=spec.file,
                        reason=f"no column '{spec.column}'; columns: {', '.join(header)}",
                    )
                )
                return None
            column = header.index(spec.column)
        values = [row[column].strip() for row in body if len(row) > column and row[column].strip()]
    elif path.suffix == ".txt":
        values = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    else:
        diagnostics.append(errors.LOOKUP_FILE(location, path=spec.file, reason="use a .txt or .csv file"))
        return None
    if not values:
        diagnostics.append(errors.LOOKUP_FILE(location, path=spec.file, reason="it holds no values"))
        return None
    return tuple(dict.fromkeys(values))


def _unique_sorted(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, str, str]] = set()
    result = []
    for d in diagnostics:
        key = (d.code, str(d.location), d.message)
        if key not in seen:
            seen.add(key)
            result.append(d)
    return sorted(result, key=Diagnostic.sort_key)
