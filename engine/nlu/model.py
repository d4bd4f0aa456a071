"""A trained NLU model: parse messages, and save/load the model folder without running its code.

A model folder holds:
- `manifest.json`  pack name and version, content hashes of the pack's files and of the model's
                   own files (checked at load), engine version, seed, training time,
                   cross-validation metrics, thresholds;
- `nlu.json`       vocabularies, class names, temperature, thresholds, extractor settings;
- `arrays.npz`     the numeric parts (IDF weights, classifier weights), read with
                   `allow_pickle=False`;
- `entities.crfsuite` the learned-entity CRF, in crfsuite's binary format (only when the pack
                   has learned entities or roles).
Loading parses JSON, reads plain arrays and opens the CRF file: no code from the folder runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.nlu.calibration import softmax
from engine.nlu.crf import EntityTagger, Gazetteer
from engine.nlu.features import Featurizer
from engine.nlu.intents import IntentClassifier
from engine.nlu.masking import mask_entities
from engine.nlu.overlaps import resolve_overlaps
from engine.nlu.patterns import LookupExtractor, RegexExtractor
from engine.nlu.system_entities import SystemExtractor
from engine.nlu.text import Tokenizer, clean_text, has_words
from engine.nlu.types import OUT_OF_SCOPE, EntityMatch, IntentScore, ParseResult

MANIFEST_FILE = "manifest.json"
MODEL_FILE = "nlu.json"
ARRAYS_FILE = "arrays.npz"
CRF_FILE = "entities.crfsuite"
#: Bumped when the folder layout or the meaning of a stored field changes.
FORMAT_VERSION = 1


class ModelError(Exception):
    """A model folder that cannot be loaded: missing, from another format, or damaged."""


@dataclass(frozen=True)
class Thresholds:
    """When a message counts as out of scope: its best intent's confidence is under the threshold."""

    default: float
    per_intent: Mapping[str, float] = field(default_factory=dict)
    ambiguity_margin: float = 0.1

    def for_intent(self, intent: str) -> float:
        return self.per_intent.get(intent, self.default)

    def to_json(self) -> dict[str, Any]:
        return {
            "default": round(self.default, 4),
            "per_intent": {k: round(v, 4) for k, v in sorted(self.per_intent.items())},
            "ambiguity_margin": self.ambiguity_margin,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Thresholds:
        return cls(float(data["default"]), dict(data["per_intent"]), float(data["ambiguity_margin"]))


@dataclass(frozen=True)
class EntityExtractors:
    """Everything that finds entities, and how their values are normalized.

    Overlaps are resolved by `resolve_overlaps` (longest span, then regex > lookup > system >
    learned, then declaration order). The CRF's spans count only for learned entities; for other
    kinds they only lend a role to the rule-based match they overlap.
    """

    regex: RegexExtractor
    lookup: LookupExtractor
    system: SystemExtractor
    #: entity -> how it is found: regex, lookup, system or learned; in declaration order.
    kinds: Mapping[str, str]
    #: entity -> lower-cased surface form -> value (the pack's synonyms and annotated values).
    synonyms: Mapping[str, dict[str, str]]
    tagger: EntityTagger | None = None

    def extract_rule_based(self, text: str, *, now: datetime | None = None) -> list[EntityMatch]:
        """Matches of the regex, lookup and system extractors only, overlaps resolved among
        them: what intent features mask, at training and at parse time alike."""
        found = [*self.regex.extract(text), *self.lookup.extract(text), *self.system.extract(text, now=now)]
        return resolve_overlaps(found, tuple(self.kinds))

    def extract(self, text: str, *, now: datetime | None = None) -> list[EntityMatch]:
        return self.extract_both(text, now=now)[0]

    def extract_both(
        self, text: str, *, now: datetime | None = None
    ) -> tuple[list[EntityMatch], list[EntityMatch]]:
        """Every entity of the message, and the rule-based matches alone (see `extract_rule_based`),
        from one run of the extractors."""
        rule_based = self.extract_rule_based(text, now=now)
        learned = self.tagger.matches(text, self.synonyms) if self.tagger else []
        found = [*rule_based, *(m for m in learned if self.kinds.get(m.entity) == "learned")]
        return _with_roles(resolve_overlaps(found, tuple(self.kinds)), learned), rule_based


def _with_roles(matches: Sequence[EntityMatch], learned: Sequence[EntityMatch]) -> list[EntityMatch]:
    """A rule-based match takes the role the CRF gave an overlapping span of the same entity."""
    result = []
    for match in matches:
        if match.role is None and match.extractor != "learned":
            for tagged in learned:
                if tagged.role and tagged.entity == match.entity and tagged.overlaps(match):
                    match = dataclasses.replace(match, role=tagged.role)
                    break
        result.append(match)
    return result


class NluModel:
    """Reads customer messages: intent ranking with calibrated confidence, entities, out of scope."""

    def __init__(
        self,
        *,
        manifest: dict[str, Any],
        featurizer: Featurizer,
        classifier: IntentClassifier,
        temperature: float,
        thresholds: Thresholds,
        entities: EntityExtractors,
    ) -> None:
        self.manifest = manifest
        self.featurizer = featurizer
        self.classifier = classifier
        self.temperature = temperature
        self.thresholds = thresholds
        self.entities = entities
        self._intent_columns = [i for i, c in enumerate(classifier.classes) if c != OUT_OF_SCOPE]
        self._oos_column = (
            classifier.classes.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in classifier.classes else None
        )

    @property
    def pack(self) -> str:
        return str(self.manifest["pack"]["name"])

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(self.classifier.classes[i] for i in self._intent_columns)

    def probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Calibrated probabilities, one row per text, columns in `classifier.classes` order."""
        masked = []
        for text in texts:
            cleaned = clean_text(text)
            masked.append(mask_entities(cleaned, self.entities.extract_rule_based(cleaned)))
        return self._probabilities(masked)

    def _probabilities(self, masked: Sequence[str]) -> npt.NDArray[np.float64]:
        """Probabilities of cleaned texts whose entities are already masked."""
        features = self.featurizer.transform(masked)
        return softmax(self.classifier.scores(features), self.temperature)

    def parse(self, text: str, *, now: datetime | None = None) -> ParseResult:
        """Read one message. Never raises for odd text: empty or emoji-only text is out of scope."""
        cleaned = clean_text(text)
        if not has_words(cleaned):
            return ParseResult(
                text,
                OUT_OF_SCOPE,
                0.0,
                (),
                out_of_scope=True,
                threshold=self.thresholds.default,
                reason="no_words",
            )
        # Cleaning keeps positions, so offsets found in the cleaned text point into the original.
        found, rule_based = self.entities.extract_both(cleaned, now=now)
        entities = [dataclasses.replace(m, text=text[m.start : m.end]) for m in found]
        masked = mask_entities(cleaned, rule_based)  # as in training: learned spans do not mask
        return self.decide(text, self._probabilities([masked])[0], entities)

    def decide(
        self, text: str, probabilities: npt.NDArray[np.float64], entities: Sequence[EntityMatch] = ()
    ) -> ParseResult:
        """The parse result for one row of `probabilities` (shared with evaluation)."""
        classes = self.classifier.classes
        order = sorted(self._intent_columns, key=lambda i: -probabilities[i])
        ranking = tuple(IntentScore(classes[i], float(probabilities[i])) for i in order)
        top = ranking[0]
        threshold = self.thresholds.for_intent(top.name)
        oos_probability = float(probabilities[self._oos_column]) if self._oos_column is not None else 0.0
        if oos_probability > top.confidence:
            verdict, reason = OUT_OF_SCOPE, "out_of_scope_examples"
        elif top.confidence < threshold:
            verdict, reason = OUT_OF_SCOPE, "below_threshold"
        else:
            verdict, reason = top.name, ""
        ambiguous = (
            verdict != OUT_OF_SCOPE
            and len(ranking) > 1
            and top.confidence - ranking[1].confidence < self.thresholds.ambiguity_margin
        )
        return ParseResult(
            text=text,
            intent=verdict,
            confidence=top.confidence,
            ranking=ranking,
            entities=tuple(entities),
            out_of_scope=verdict == OUT_OF_SCOPE,
            ambiguous=ambiguous,
            threshold=threshold,
            reason=reason,
        )

    # -- storage ---------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the model into `folder` (which must exist; the CRF file is already there if any)."""
        featurizer_data, featurizer_arrays = self.featurizer.to_data()
        classifier_data, classifier_arrays = self.classifier.to_data()
        extractors = self.entities
        model = {
            "format": FORMAT_VERSION,
            "featurizer": featurizer_data,
            "classifier": classifier_data,
            "temperature": self.temperature,
            "thresholds": self.thresholds.to_json(),
            "entities": {
                "regex": extractors.regex.to_json(),
                "lookup": extractors.lookup.to_json(),
                "system": extractors.system.to_json(),
                "kinds": dict(extractors.kinds),
                "synonyms": {k: dict(v) for k, v in extractors.synonyms.items()},
                "gazetteer": extractors.tagger.gazetteer.to_json() if extractors.tagger else None,
            },
        }
        _write_json(folder / MODEL_FILE, model)
        arrays: dict[str, Any] = {**featurizer_arrays, **classifier_arrays}
        np.savez(folder / ARRAYS_FILE, allow_pickle=False, **arrays)
        stored = [name for name in (MODEL_FILE, ARRAYS_FILE, CRF_FILE) if (folder / name).is_file()]
        self.manifest["files"] = {name: _sha256(folder / name) for name in stored}
        _write_json(folder / MANIFEST_FILE, self.manifest)

    @classmethod
    def load(cls, folder: Path) -> NluModel:
        """Load a model folder written by `save`. Raises ModelError with what is wrong."""
        manifest = _read_json(folder / MANIFEST_FILE)
        _check_file_hashes(folder, manifest)
        model = _read_json(folder / MODEL_FILE)
        if model.get("format") != FORMAT_VERSION:
            raise ModelError(
                f"{folder}: model format {model.get('format')} is not {FORMAT_VERSION}; "
                "retrain it with `parley train --force`"
            )
        try:
            with np.load(folder / ARRAYS_FILE, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise ModelError(f"{folder / ARRAYS_FILE}: cannot read the model arrays: {error}") from None
        try:
            featurizer = Featurizer.from_data(model["featurizer"], arrays)
            entities = model["entities"]
            tagger = None
            if entities["gazetteer"] is not None:
                tagger = EntityTagger(
                    folder / CRF_FILE,
                    Gazetteer.from_json(entities["gazetteer"]),
                    Tokenizer(featurizer.language),
                )
            extractors = EntityExtractors(
                regex=RegexExtractor.from_json(entities["regex"]),
                lookup=LookupExtractor.from_json(entities["lookup"]),
                system=SystemExtractor.from_json(entities["system"]),
                kinds=entities["kinds"],
                synonyms=entities["synonyms"],
                tagger=tagger,
            )
            return cls(
                manifest=manifest,
                featurizer=featurizer,
                classifier=IntentClassifier.from_data(model["classifier"], arrays, featurizer.size),
                temperature=float(model["temperature"]),
                thresholds=Thresholds.from_json(model["thresholds"]),
                entities=extractors,
            )
        except (KeyError, TypeError, ValueError, OSError) as error:
            raise ModelError(
                f"{folder}: the model is damaged ({type(error).__name__}: {error}); retrain it"
            ) from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_file_hashes(folder: Path, manifest: dict[str, Any]) -> None:
    """Every model file must be the one training wrote: a truncated or replaced file (crfsuite
    would crash the process on a truncated model) is refused before it is opened."""
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ModelError(
            f"{folder / MANIFEST_FILE}: lists no model files; retrain with `parley train --force`"
        )
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"{path} is missing; retrain with `parley train --force`")
        if _sha256(path) != expected:
            raise ModelError(
                f"{path} is damaged or was changed after training; retrain with `parley train --force`"
            )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"{path} is missing: the folder is not a trained model; run `parley train`"
        ) from None
    except (OSError, ValueError) as error:
        raise ModelError(f"{path}: cannot read: {error}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return data
