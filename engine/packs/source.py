"""Where things are in a pack's YAML: files, lines, columns, and the source line itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

#: A path into a YAML document: mapping keys and sequence indexes, outermost first.
YamlPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based position in a source file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, eq=False)
class SourceFile:
    """One YAML file of a pack: its text and its parsed, position-carrying tree."""

    path: Path
    display: str  # the name shown to the user (relative to where they ran the command)
    text: str
    root: Any = field(repr=False)

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def start(self) -> Location:
        return Location(self.display, 1, 1)

    def locate(self, path: YamlPath, *, key: bool = False) -> Location:
        """The location of the node at `path`; of its key instead of its value when `key`.

        Path elements that do not exist in the tree (for example pydantic's union tags) are
        skipped, so the deepest existing node is found.
        """
        node: Any = self.root
        position: tuple[int, int] | None = _own_position(node)
        last = len(path) - 1
        for index, element in enumerate(path):
            found = _child_position(node, element, key=key and index == last)
            if found is None:
                continue
            node, child_position = found
            if child_position is not None:
                position = child_position
            own = _own_position(node)
            if own is not None and not (key and index == last) and not _is_scalar(node):
                position = own
        if position is None:
            return self.start()
        line, column = position
        return Location(self.display, line + 1, column + 1)


def _is_scalar(node: Any) -> bool:
    return not isinstance(node, (CommentedMap, CommentedSeq))


def _own_position(node: Any) -> tuple[int, int] | None:
    if isinstance(node, (CommentedMap, CommentedSeq)) and node.lc.line is not None:
        return (node.lc.line, node.lc.col)
    return None


def _child_position(node: Any, element: str | int, *, key: bool) -> tuple[Any, tuple[int, int] | None] | None:
    if isinstance(node, CommentedMap) and not isinstance(element, int) and element in node:
        try:
            line, column = node.lc.key(element) if key else node.lc.value(element)
        except (KeyError, TypeError):
            return node[element], None
        return node[element], (line, column)
    if isinstance(node, CommentedSeq) and isinstance(element, int) and 0 <= element < len(node):
        try:
            line, column = node.lc.item(element)
        except (KeyError, TypeError):
            return node[element], None
        return node[element], (line, column)
    return None
