"""The assistants a server serves, one per pack, and model hot reload.

`AssistantRegistry.refresh` (the server calls it every second and on /ready) reads each pack's
`models/<pack>/current`. When it names another model, the registry loads that model, builds a
new Assistant with it and only then swaps the pack's entry: requests already running finish
with the assistant they started with, new ones get the new one, none is dropped.

A model that fails to load (a damaged folder, another format) never replaces the one serving:
the failure is logged and that model id is not tried again until `current` changes.

Packs (their YAML) are read at start. A changed pack is served after `parley train` (or
`parley run`'s training at start): the model's manifest records the hashes of the pack sources
it was trained from; when they differ from the pack being served, the registry reads the pack
folder again and swaps in the new pack with the model, provided the folder's sources are exactly
those the model was trained from (otherwise the folder changed again since: it waits for the
model of the newer sources).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.dialogue.runtime import Assistant
from engine.nlu.model import ModelError, NluModel
from engine.nlu.store import CURRENT_FILE, ModelStore, source_hashes
from engine.packs import Pack, PackInvalid, check_pack

log = logging.getLogger("engine.server.registry")


@dataclass(frozen=True)
class Served:
    """What serves a pack now."""

    assistant: Assistant
    #: The model's id (its folder name); None for an assistant built without a model store.
    model_id: str | None
    #: Unix time of the swap, and the seconds spent loading the model and building the assistant.
    loaded_at: float
    load_seconds: float
    #: sha256 of the pack's source files as they were when the pack was loaded (by path).
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def pack(self) -> Pack:
        return self.assistant.pack


@dataclass(frozen=True)
class Reload:
    """One attempt to swap a pack's model."""

    pack: str
    model_id: str
    ok: bool
    seconds: float
    problem: str | None = None
    pack_reloaded: bool = False


class ReloadRefused(Exception):
    """A model that must not replace the serving one (other pack, other sources)."""


#: Builds a pack's assistant from its pack and model; `previous` is what served it until now
#: (None at start), so the builder can keep what did not change (the action runner).
Build = Callable[[Pack, NluModel, "Served | None"], Assistant]


def load_served_pack(folder: Path) -> Pack:
    """A pack for serving: validated, without its conversation tests. Raises `PackInvalid`."""
    result = check_pack(folder, with_tests=False)
    if result.pack is None or not result.ok():
        raise PackInvalid(str(folder), result.diagnostics)
    return result.pack


class AssistantRegistry:
    def __init__(
        self,
        served: Mapping[str, Served],
        *,
        models: ModelStore | None = None,
        build: Build | None = None,
    ) -> None:
        if not served:
            raise ValueError("a registry needs at least one pack")
        self._served = dict(served)
        self.names = list(served)
        self._models = models
        self._build = build
        #: pack -> the model id that failed to load (not tried again until `current` changes).
        self._rejected: dict[str, str] = {}
        self._refreshing = threading.Lock()

    @classmethod
    def fixed(cls, assistants: Sequence[Assistant]) -> AssistantRegistry:
        """Assistants that are never reloaded (tests, embedding)."""
        now = time.time()
        return cls({a.pack.name: Served(a, None, now, 0.0) for a in assistants})

    @classmethod
    def from_models(cls, packs: Sequence[Pack], models: ModelStore, build: Build) -> AssistantRegistry:
        """Each pack with its current model. Raises `ModelError` naming a pack without a usable one."""
        served: dict[str, Served] = {}
        for pack in packs:
            if pack.name in served:
                raise ValueError(f"pack '{pack.name}' is listed twice")
            start = time.perf_counter()
            folder = models.current(pack.name)
            if folder is None:
                raise ModelError(
                    f"pack '{pack.name}' has no trained model in {models.root}/: run `parley train`"
                )
            model = NluModel.load(folder)
            sources = source_hashes(pack)
            if model.manifest.get("sources") != sources:
                log.warning(
                    "pack %s changed since its model %s was trained: run `parley train`",
                    pack.name,
                    folder.name,
                    extra={"model_id": folder.name},
                )
            assistant = build(pack, model, None)
            seconds = time.perf_counter() - start
            served[pack.name] = Served(assistant, folder.name, time.time(), seconds, sources)
        return cls(served, models=models, build=build)

    # -- serving ---------------------------------------------------------------------------
    def assistant(self, name: str) -> Assistant:
        return self._served[name].assistant

    def served(self, name: str) -> Served:
        return self._served[name]

    # -- hot reload ------------------------------------------------------------------------
    def refresh(self) -> list[Reload]:
        """Swap in every pack's current model when it changed; returns what was tried."""
        models, build = self._models, self._build
        if models is None or build is None:
            return []
        with self._refreshing:
            results = []
            for name in self.names:
                model_id = _pointer(models, name)
                if model_id is None or model_id in (self._served[name].model_id, self._rejected.get(name)):
                    continue
                results.append(self._reload(models, build, name, model_id))
            return results

    def _reload(self, models: ModelStore, build: Build, name: str, model_id: str) -> Reload:
        previous = self._served[name]
        start = time.perf_counter()
        pack = previous.pack
        try:
            model = NluModel.load(models.pack_folder(name) / model_id)
            if model.pack != name:
                raise ReloadRefused(f"model {model_id} is a model of pack '{model.pack}', not '{name}'")
            sources = model.manifest.get("sources")
            if not isinstance(sources, dict):
                raise ReloadRefused(f"model {model_id} has no source hashes in its manifest")
            if sources != previous.sources:
                pack = _pack_of(previous.pack.folder, name, model_id, sources)
            assistant = build(pack, model, previous)
        except Exception as error:  # whatever fails, the serving model stays
            seconds = time.perf_counter() - start
            self._rejected[name] = model_id
            expected = isinstance(error, (ModelError, PackInvalid, ReloadRefused, OSError))
            log.error(
                "model %s of pack %s was not loaded; still serving %s: %s",
                model_id,
                name,
                previous.model_id,
                error,
                exc_info=None if expected else error,
                extra={"model_id": model_id, "serving_model_id": previous.model_id},
            )
            return Reload(name, model_id, False, seconds, problem=str(error))
        seconds = time.perf_counter() - start
        self._served[name] = Served(assistant, model_id, time.time(), seconds, sources)
        reloaded = pack is not previous.pack
        log.info(
            "pack %s now served with model %s (was %s), loaded in %.0f ms%s",
            name,
            model_id,
            previous.model_id,
            seconds * 1000,
            " with its changed pack" if reloaded else "",
            extra={"model_id": model_id, "previous_model_id": previous.model_id, "load_seconds": seconds},
        )
        return Reload(name, model_id, True, seconds, pack_reloaded=reloaded)


def _pointer(models: ModelStore, name: str) -> str | None:
    """The model id `current` names (None when the pack has none)."""
    try:
        return (models.pack_folder(name) / CURRENT_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _pack_of(folder: Path, name: str, model_id: str, sources: Mapping[str, str]) -> Pack:
    """The pack in `folder`, provided its files are exactly those model `model_id` was trained
    from (checked before and after reading it, so an edit in between is noticed)."""
    refused = ReloadRefused(
        f"model {model_id} was trained from other sources than {folder} holds now (the pack changed "
        "again since): train it again"
    )
    if _hashes(folder, sources) != sources:
        raise refused
    pack = load_served_pack(folder)
    if pack.name != name:
        raise ReloadRefused(f"{folder} now holds pack '{pack.name}', not '{name}'")
    if source_hashes(pack) != sources:
        raise refused
    return pack


def _hashes(folder: Path, sources: Mapping[str, str]) -> dict[str, str]:
    """sha256 of the files `sources` names, as they are now (missing ones: empty)."""
    found = {}
    for relative in sources:
        try:
            found[relative] = hashlib.sha256((folder / relative).read_bytes()).hexdigest()
        except OSError:
            found[relative] = ""
    return found
