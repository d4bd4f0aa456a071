"""A validated pack: the merged, typed, immutable result of loading a pack and its imports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.packs.schema import (
    Action,
    Channel,
    Entity,
    EscalationRule,
    Flow,
    Intent,
    OutOfScope,
    Queue,
    Settings,
    Slot,
    Variation,
)
from engine.packs.source import Location, SourceFile, YamlPath

if TYPE_CHECKING:
    from engine.packs.testcases import ConversationTest


@dataclass(frozen=True)
class Origin:
    """Where a named item was defined: the pack, the file and the path inside it."""

    pack: str
    source: SourceFile
    path: YamlPath

    def location(self, *, key: bool = True) -> Location:
        return self.source.locate(self.path, key=key)


@dataclass(frozen=True, eq=False)
class Pack:
    """A domain pack with its imports merged in. Every item keeps its origin."""

    name: str
    version: str
    language: str
    description: str | None
    folder: Path
    settings: Settings
    intents: Mapping[str, Intent]
    out_of_scope: tuple[OutOfScope, ...]
    entities: Mapping[str, Entity]
    slots: Mapping[str, Slot]
    responses: Mapping[str, tuple[Variation, ...]]
    actions: Mapping[str, Action]
    flows: Mapping[str, Flow]
    queues: Mapping[str, Queue]
    rules: tuple[EscalationRule, ...]
    default_queue: str | None
    #: Values of lookup entities, read from inline lists or files.
    lookups: Mapping[str, tuple[str, ...]]
    #: (section, name) -> where it was defined; sections as in the pack file, plus "queues".
    origins: Mapping[tuple[str, str], Origin]
    #: The names of the imported packs, in import order (transitively, each once).
    imports: tuple[str, ...]
    files: tuple[SourceFile, ...]
    #: The file that declares the pack: where pack-wide problems are reported.
    main_file: SourceFile | None = None
    #: Conversation tests from the pack's tests/ folder (not those of imported packs).
    tests: tuple[ConversationTest, ...] = field(default=())
    #: The channels the pack says it is served on (`channels:`; not inherited from imports), or
    #: None when it does not say: then no messenger's limits are checked.
    channels: tuple[Channel, ...] | None = None

    def location(self, section: str, name: str) -> Location | None:
        origin = self.origins.get((section, name))
        return origin.location() if origin else None

    def defined_here(self, section: str, name: str) -> bool:
        """True when the item comes from this pack itself rather than from an import."""
        origin = self.origins.get((section, name))
        return origin is not None and origin.pack == self.name

    def start(self) -> Location | None:
        """Where pack-wide problems are reported: the start of the pack's main file."""
        return self.main_file.start() if self.main_file else None

    @property
    def out_of_scope_examples(self) -> tuple[str, ...]:
        return tuple(example for block in self.out_of_scope for example in block.examples)
