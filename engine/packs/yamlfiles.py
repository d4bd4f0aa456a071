"""Reading YAML with positions: every mapping and sequence keeps its line and column."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from engine.packs import errors
from engine.packs.errors import Diagnostic
from engine.packs.source import Location, SourceFile


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Parse one YAML file. Returns the source (None when unusable) and any problems found."""
    shown = display_path(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as error:
        return None, [errors.FILE_UNREADABLE(Location(shown, 1, 1), path=shown, reason=error.strerror)]
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, [
            errors.FILE_UNREADABLE(Location(shown, line, 1), path=shown, reason="it is not UTF-8 text")
        ]
    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except DuplicateKeyError as error:
        key = _duplicate_key(error)
        location = _mark_location(shown, error.problem_mark)
        return None, [_with_line(errors.DUPLICATE_KEY(location, key=key), text)]
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        location = _mark_location(shown, mark)
        problem = error.problem or error.context or "cannot be parsed"
        return None, [_with_line(errors.YAML_SYNTAX(location, problem=problem), text)]
    except YAMLError as error:
        return None, [errors.YAML_SYNTAX(Location(shown, 1, 1), problem=str(error))]
    source = SourceFile(path=path, display=shown, text=text, root=root)
    if root is None:
        return source, [errors.EMPTY_FILE(source.start())]
    if not isinstance(root, CommentedMap):
        found = "a list" if isinstance(root, CommentedSeq) else f"the value {root!r}"
        return None, [_with_line(errors.NOT_A_MAPPING(source.start(), found=found), text)]
    return source, []


def _mark_location(shown: str, mark: Any) -> Location:
    if mark is None:
        return Location(shown, 1, 1)
    return Location(shown, mark.line + 1, mark.column + 1)


def _duplicate_key(error: DuplicateKeyError) -> str:
    # ruamel says: found duplicate key "greet" with value "..." (original value: "...")
    match = re.search(r'duplicate key "(.*?)" with value', error.problem or "")
    return match.group(1) if match else (error.problem or "?")


def _with_line(diagnostic: Diagnostic, text: str) -> Diagnostic:
    if diagnostic.location is None:
        return diagnostic
    lines = text.splitlines()
    line = diagnostic.location.line
    return diagnostic.with_source(lines[line - 1] if 0 < line <= len(lines) else None)


def to_plain(node: Any) -> Any:
    """Convert ruamel's round-trip containers and scalars to plain Python values."""
    if isinstance(node, dict):
        return {to_plain(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node
