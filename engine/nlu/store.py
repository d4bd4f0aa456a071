"""Where trained models live, and when a pack needs retraining.

Layout, under the models folder (`models/` by default, `models:` in config.yml):

    models/<pack>/<model id>/     one trained model (see engine.nlu.model for its files)
    models/<pack>/current         the id of the model to serve, replaced atomically

A model id is `<sequence>-<UTC time>-<fingerprint>`: the sequence numbers a pack's models in
training order. The fingerprint hashes the content of every source
file the pack reads (its own YAML, imported packs' YAML, lookup files), the engine version, the
NLU's source code, the model format and the number of folds, so `parley train` skips a pack
whose model is up to date. The last
KEEP_MODELS models of each pack are kept, so a bad model can be rolled back by editing `current`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import __version__
from engine.nlu.model import FORMAT_VERSION, MANIFEST_FILE, ModelError, NluModel
from engine.nlu.training import DEFAULT_FOLDS, Progress, quiet_progress, train, trainability_problems
from engine.packs import Pack, PackInvalid
from engine.packs.schema import LookupFile

CURRENT_FILE = "current"
_MODEL_ID = re.compile(r"^(\d{5,})-\d{8}-\d{6}-[0-9a-f]{8}$")
KEEP_MODELS = 3


def source_hashes(pack: Pack) -> dict[str, str]:
    """sha256 of every file the pack's model depends on, by path relative to the pack folder."""
    paths = {source.path for source in pack.files}
    paths |= {origin.source.path for origin in pack.origins.values()}
    paths |= {block.source.path for block in pack.out_of_scope if block.source is not None}
    for (section, name), origin in pack.origins.items():
        entity = pack.entities.get(name) if section == "entities" else None
        if entity is not None and isinstance(entity.lookup, LookupFile):
            paths.add(origin.source.path.parent / entity.lookup.file)
    return {_relative(path, pack.folder): _sha256(path) for path in sorted(paths) if path.is_file()}


def fingerprint(hashes: dict[str, str], folds: int = DEFAULT_FOLDS) -> str:
    """What decides the model: the sources, the training code and version, and the folds."""
    payload = json.dumps(
        {
            "files": hashes,
            "engine": __version__,
            "code": _code_digest(),
            "format": FORMAT_VERSION,
            "folds": folds,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@functools.cache
def _code_digest() -> str:
    """A hash of the NLU's own source, so a changed training code retrains even between releases."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class TrainOutcome:
    folder: Path
    manifest: dict[str, Any]
    skipped: bool  # True when the current model was already up to date


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def pack_folder(self, pack_name: str) -> Path:
        return self.root / pack_name

    def current(self, pack_name: str) -> Path | None:
        """The folder of the model to serve for the pack, or None when it has never been trained."""
        pointer = self.pack_folder(pack_name) / CURRENT_FILE
        try:
            model_id = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        folder = self.pack_folder(pack_name) / model_id
        return folder if (folder / MANIFEST_FILE).is_file() else None

    def current_manifest(self, pack_name: str) -> dict[str, Any] | None:
        folder = self.current(pack_name)
        if folder is None:
            return None
        try:
            data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def is_up_to_date(self, pack: Pack) -> bool:
        manifest = self.current_manifest(pack.name)
        if manifest is None:
            return False
        folds = manifest.get("cross_validation", {}).get("folds", DEFAULT_FOLDS)
        return manifest.get("fingerprint") == fingerprint(source_hashes(pack), folds)

    def load(self, pack_name: str) -> NluModel:
        folder = self.current(pack_name)
        if folder is None:
            raise ModelError(f"pack '{pack_name}' has no trained model in {self.root}/: run `parley train`")
        return NluModel.load(folder)

    def train(
        self,
        pack: Pack,
        *,
        force: bool = False,
        folds: int = DEFAULT_FOLDS,
        progress: Progress = quiet_progress,
    ) -> TrainOutcome:
        """Train the pack unless its current model is up to date; make the new model current."""
        hashes = source_hashes(pack)
        digest = fingerprint(hashes, folds)
        manifest = self.current_manifest(pack.name)
        if not force and manifest is not None and manifest.get("fingerprint") == digest:
            current = self.current(pack.name)
            assert current is not None
            return TrainOutcome(current, manifest, skipped=True)
        found = trainability_problems(pack)
        if found:  # before anything is written for the pack
            raise PackInvalid(pack.name, found)
        home = self.pack_folder(pack.name)
        home.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        final = home / f"{_next_sequence(home):05d}-{stamp}-{digest[:8]}"
        model_id = final.name
        staging = home / f".training-{model_id}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            model = train(
                pack,
                staging,
                folds=folds,
                progress=progress,
                manifest={
                    "model_id": model_id,
                    "pack": {"name": pack.name, "version": pack.version, "language": pack.language},
                    "fingerprint": digest,
                    "sources": hashes,
                },
            )
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._make_current(pack.name, final.name)
        self._prune(home, keep=final.name)
        return TrainOutcome(final, model.manifest, skipped=False)

    def _make_current(self, pack_name: str, model_id: str) -> None:
        pointer = self.pack_folder(pack_name) / CURRENT_FILE
        temporary = pointer.with_name(f".{CURRENT_FILE}-{os.getpid()}")
        temporary.write_text(model_id + "\n", encoding="utf-8")
        os.replace(temporary, pointer)

    def _prune(self, home: Path, keep: str) -> None:
        models = sorted(_model_folders(home.iterdir()), key=_training_order)
        for old in models[:-KEEP_MODELS]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)


def _training_order(folder: Path) -> tuple[int, str]:
    match = _MODEL_ID.match(folder.name)
    return (int(match[1]) if match else 0, folder.name)


def _model_folders(paths: Iterable[Path]) -> list[Path]:
    return [p for p in paths if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_FILE).is_file()]


def _next_sequence(home: Path) -> int:
    """One more than the highest model number in the pack's folder: ids sort by training order
    and are never reused, even for models trained within the same second."""
    numbers = [int(match[1]) for p in home.iterdir() if (match := _MODEL_ID.match(p.name))]
    return max(numbers, default=0) + 1
