"""Compile a validated pack into an NLU model.

Training runs in this order (each step is reported to `progress`):
1. collect the examples: every intent's examples, and the pack's out-of-scope examples as the
   `out_of_scope` class;
2. cross-validation: k folds (stratified by intent, seeded); each fold fits the featurizer and
   the classifier on the other folds and scores its own examples, so every example gets a score
   from a model that never saw it;
3. calibration: the temperature that makes those out-of-fold scores honest probabilities;
4. thresholds: with `threshold: auto`, the lowest threshold whose accepted answers reach the
   pack's `target_precision` on the out-of-fold predictions; intents' own thresholds override;
5. the final classifier on all examples, and the entity CRF when the pack has learned entities
   or roles.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine import __version__
from engine.nlu.calibration import (
    ThresholdChoice,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from engine.nlu.crf import EntityTagger, TrainingSpan
from engine.nlu.features import Featurizer
from engine.nlu.intents import IntentClassifier
from engine.nlu.masking import mask_entities
from engine.nlu.model import CRF_FILE, EntityExtractors, NluModel, Thresholds
from engine.nlu.patterns import LookupExtractor, LookupTable, RegexExtractor
from engine.nlu.system_entities import SystemExtractor
from engine.nlu.text import Tokenizer, clean_text, has_tokenizer
from engine.nlu.types import OUT_OF_SCOPE
from engine.packs import Diagnostic, Pack, PackInvalid
from engine.packs import errors as problems

#: Reports progress: (what is being done, steps done, steps in all).
Progress = Callable[[str, int, int], None]
DEFAULT_FOLDS = 5


def quiet_progress(step: str, done: int, total: int) -> None:
    """The default progress reporter: says nothing."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # an intent, or OUT_OF_SCOPE
    spans: tuple[TrainingSpan, ...] = ()  # every annotated entity, labelled entity or entity:role
    #: The text the intent classifier reads: rule-based entities masked (see masking.py).
    masked: str = ""


@dataclass(frozen=True)
class TrainingData:
    examples: tuple[Example, ...]
    language: str
    #: Entities the CRF learns: learned ones, and any entity annotated with a role.
    tagged_entities: frozenset[str] = frozenset()

    @property
    def classifier_texts(self) -> list[str]:
        return [e.masked or e.text for e in self.examples]

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.examples]

    @classmethod
    def from_pack(cls, pack: Pack) -> TrainingData:
        examples = [
            Example(
                clean_text(example.text),
                intent_name,
                tuple(
                    TrainingSpan(s.start, s.end, f"{s.entity}:{s.role}" if s.role else s.entity)
                    for s in example.entities
                ),
            )
            for intent_name, intent in pack.intents.items()
            for example in intent.examples
        ]
        examples += [Example(clean_text(text), OUT_OF_SCOPE) for text in pack.out_of_scope_examples]
        extractors = build_extractors(pack, tagger=None)
        examples = [
            dataclasses.replace(e, masked=mask_entities(e.text, extractors.extract_rule_based(e.text)))
            for e in examples
        ]
        tagged = frozenset(n for n, e in pack.entities.items() if e.kind == "learned" or e.roles)
        return cls(tuple(examples), pack.language, tagged)

    def subset(self, indexes: Sequence[int] | npt.NDArray[np.int_]) -> TrainingData:
        return TrainingData(tuple(self.examples[i] for i in indexes), self.language, self.tagged_entities)


def trainability_problems(pack: Pack) -> list[Diagnostic]:
    """Why the pack's examples cannot train a model, in the pack-language catalogue's style."""
    found = []
    if not has_tokenizer(pack.language):
        found.append(problems.LANGUAGE_WITHOUT_TOKENIZER(pack.start(), language=pack.language))
    for name, intent in pack.intents.items():
        if not intent.examples:
            found.append(problems.INTENT_WITHOUT_EXAMPLES(pack.location("intents", name), name=name))
    trainable = [name for name, intent in pack.intents.items() if intent.examples]
    if len(trainable) < 2:
        found.append(
            problems.TOO_FEW_INTENTS(pack.start(), count=len(trainable), intents=trainable or ["(none)"])
        )
    return found


def fold_of_each_example(labels: Sequence[str], folds: int, seed: int) -> npt.NDArray[np.int_]:
    """Stratified fold numbers: each label's examples are shuffled and dealt round-robin.

    A label with a single example gets -1: it is always trained on, never held out (a model
    cannot be asked about an intent it never saw).
    """
    rng = np.random.default_rng(seed)
    assignment = np.full(len(labels), -1, dtype=np.int_)
    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    offset = 0
    for label in sorted(by_label):
        indexes = np.array(by_label[label])
        if len(indexes) < 2:
            continue
        rng.shuffle(indexes)
        assignment[indexes] = (np.arange(len(indexes)) + offset) % folds
        offset += len(indexes)
    return assignment


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold scores for every held-out example (rows of `held_out`), all classes."""

    classes: tuple[str, ...]
    held_out: npt.NDArray[np.int_]
    scores: npt.NDArray[np.float64]
    folds: int


def cross_validate_scores(
    data: TrainingData,
    *,
    folds: int,
    seed: int,
    progress: Progress = quiet_progress,
    on_fold: Callable[[int, TrainingData, npt.NDArray[np.int_]], None] | None = None,
) -> CrossValidation:
    """Train on k-1 folds, score the k-th, for every fold. `on_fold(fold, train, test_indexes)`
    lets evaluation train its entity models on the same split."""
    labels = data.labels
    classes = tuple(sorted(set(labels)))
    fold_of = fold_of_each_example(labels, folds, seed)
    held_out = np.flatnonzero(fold_of >= 0)
    scores = np.zeros((len(labels), len(classes)))
    for fold in range(folds):
        progress(f"cross-validation, fold {fold + 1} of {folds}", fold, folds)
        train = np.flatnonzero(fold_of != fold)
        test = np.flatnonzero(fold_of == fold)
        if len(test) == 0:
            continue
        train_data = data.subset(train)
        featurizer = Featurizer(data.language)
        classifier = IntentClassifier.fit(
            featurizer.fit_transform(train_data.classifier_texts), train_data.labels, seed
        )
        texts = data.classifier_texts
        fold_scores = classifier.scores(featurizer.transform([texts[i] for i in test]))
        # Classes missing from this fold's training data get a score no class can lose to.
        scores[test] = -10.0
        columns = np.array([classes.index(c) for c in classifier.classes])
        scores[np.ix_(test, columns)] = fold_scores
        if on_fold is not None:
            on_fold(fold, train_data, test)
    progress("cross-validation", folds, folds)
    return CrossValidation(classes, held_out, scores[held_out], folds)


@dataclass(frozen=True)
class Answers:
    """What the model would answer for each example, before any threshold."""

    confidence: npt.NDArray[np.float64]  # of the best real intent; 0 when out-of-scope examples win
    predicted: list[str]  # the best real intent, or OUT_OF_SCOPE when out-of-scope examples win
    top_probability: npt.NDArray[np.float64]  # of the best class, out_of_scope included
    correct: npt.NDArray[np.bool_]
    in_scope: npt.NDArray[np.bool_]


def answers(probabilities: npt.NDArray[np.float64], classes: Sequence[str], labels: Sequence[str]) -> Answers:
    """The same decision as `NluModel.decide`, for many messages at once."""
    intent_columns = [i for i, c in enumerate(classes) if c != OUT_OF_SCOPE]
    intent_probabilities = probabilities[:, intent_columns]
    best = intent_probabilities.argmax(axis=1)
    best_confidence = intent_probabilities.max(axis=1)
    if OUT_OF_SCOPE in classes:
        oos_wins = probabilities[:, list(classes).index(OUT_OF_SCOPE)] > best_confidence
    else:
        oos_wins = np.zeros(len(labels), dtype=bool)
    predicted = [
        OUT_OF_SCOPE if o else classes[intent_columns[b]] for b, o in zip(best, oos_wins, strict=True)
    ]
    truth = np.asarray(labels)
    return Answers(
        confidence=np.where(oos_wins, 0.0, best_confidence),
        predicted=predicted,
        top_probability=probabilities.max(axis=1),
        correct=(np.asarray(predicted) == truth) & ~oos_wins,
        in_scope=truth != OUT_OF_SCOPE,
    )


@dataclass(frozen=True)
class Calibration:
    """What the out-of-fold scores teach: temperature, thresholds, and how the model did."""

    temperature: float
    choice: ThresholdChoice  # what `threshold: auto` chooses
    thresholds: Thresholds  # those in use: the pack's number or the auto choice, intents' own
    probabilities: npt.NDArray[np.float64]  # calibrated, one row per held-out example
    answers: Answers
    metrics: dict[str, Any]


def calibrate(cv: CrossValidation, labels: Sequence[str], pack: Pack) -> Calibration:
    """Temperature, thresholds and cross-validation metrics from out-of-fold scores.

    The metrics use the threshold in use: the pack's number, or the auto choice."""
    fallback = pack.settings.fallback
    truth = [labels[i] for i in cv.held_out]
    if not truth:
        return _uncalibrated(cv, pack)
    label_index = np.array([cv.classes.index(label) for label in truth])
    temperature = fit_temperature(cv.scores, label_index)
    probabilities = softmax(cv.scores, temperature)
    result = answers(probabilities, cv.classes, truth)
    choice = choose_threshold(result.confidence, result.correct, result.in_scope, fallback.target_precision)
    thresholds = thresholds_in_use(pack, choice)
    class_correct = probabilities.argmax(axis=1) == label_index
    in_scope = result.in_scope
    metrics: dict[str, Any] = {
        "folds": cv.folds,
        "examples": len(truth),
        # The best intent is right (before any threshold), over intent examples.
        "intent_accuracy": round(float(result.correct[in_scope].mean()), 4) if in_scope.any() else 0.0,
        "ece": round(expected_calibration_error(result.top_probability, class_correct), 4),
        "threshold": choice.to_json(),
    }
    if not in_scope.all():
        flagged = (result.confidence < thresholds.default)[~in_scope]
        metrics["out_of_scope_recall"] = round(float(flagged.mean()), 4)
    return Calibration(temperature, choice, thresholds, probabilities, result, metrics)


#: The threshold `auto` gives when no example can be held out (every intent has one example):
#: there is nothing to measure precision on, so the confidence of a softmax over the classes'
#: scores must at least beat every other class together.
NO_EVIDENCE_THRESHOLD = 0.5


def thresholds_in_use(pack: Pack, choice: ThresholdChoice) -> Thresholds:
    """The pack's thresholds: its number, or the auto choice; intents' own thresholds."""
    fallback = pack.settings.fallback
    return Thresholds(
        default=choice.threshold if fallback.threshold == "auto" else fallback.threshold,
        per_intent={n: i.threshold for n, i in pack.intents.items() if i.threshold is not None},
        ambiguity_margin=fallback.ambiguity_margin,
    )


def _uncalibrated(cv: CrossValidation, pack: Pack) -> Calibration:
    """Calibration of a pack whose intents have one example each: no cross-validation."""
    fallback = pack.settings.fallback
    choice = ThresholdChoice(NO_EVIDENCE_THRESHOLD, fallback.target_precision, 0.0, 0.0, False)
    thresholds = thresholds_in_use(pack, choice)
    empty = np.zeros((0, len(cv.classes)))
    metrics: dict[str, Any] = {
        "folds": cv.folds,
        "examples": 0,
        "intent_accuracy": None,  # not measured: nothing was held out
        "ece": None,
        "threshold": choice.to_json(),
        "note": "no intent has two examples: nothing could be held out to measure the model",
    }
    return Calibration(1.0, choice, thresholds, empty, answers(empty, cv.classes, []), metrics)


def build_extractors(pack: Pack, tagger: EntityTagger | None) -> EntityExtractors:
    entities = pack.entities
    synonyms: dict[str, dict[str, str]] = {}
    for name, entity in entities.items():
        table = synonyms.setdefault(name, {})
        for canonical, variants in entity.synonyms.items():
            table[canonical.lower()] = canonical
            for variant in variants:
                table[variant.lower()] = canonical
    for intent in pack.intents.values():
        for example in intent.examples:
            for span in example.entities:
                surface = example.text[span.start : span.end]
                if span.value != surface:
                    synonyms.setdefault(span.entity, {}).setdefault(surface.lower(), span.value)
    system_kinds = {n: str(e.system) for n, e in entities.items() if e.system is not None}
    return EntityExtractors(
        regex=RegexExtractor({n: e.patterns for n, e in entities.items() if e.kind == "regex"}),
        lookup=LookupExtractor(
            {
                n: LookupTable(pack.lookups.get(n, ()), e.synonyms, e.typo_tolerance)
                for n, e in entities.items()
                if e.kind == "lookup"
            }
        ),
        system=SystemExtractor(
            system_kinds, default_region=pack.settings.nlu.phone_region, day_first=pack.settings.nlu.day_first
        ),
        kinds={n: e.kind for n, e in entities.items()},
        synonyms={k: v for k, v in synonyms.items() if v},
        tagger=tagger,
    )


def train_entity_tagger(data: TrainingData, folder: Path, seed: int) -> EntityTagger | None:
    """Train the CRF into `folder` when any example has learned or roled spans."""
    sentences = [
        (e.text, tuple(s for s in e.spans if s.label.partition(":")[0] in data.tagged_entities))
        for e in data.examples
        if e.label != OUT_OF_SCOPE
    ]
    if not any(spans for _, spans in sentences):
        return None
    tokenizer = Tokenizer(data.language)
    model_file = folder / CRF_FILE
    gazetteer = EntityTagger.train(sentences, tokenizer, model_file, seed=seed)
    return EntityTagger(model_file, gazetteer, tokenizer)


def train(
    pack: Pack,
    folder: Path,
    *,
    manifest: dict[str, Any],
    folds: int = DEFAULT_FOLDS,
    progress: Progress = quiet_progress,
) -> NluModel:
    """Train the pack's NLU model into `folder` (which must exist) and save it there.

    `manifest` holds what the caller records about the sources (pack, file hashes); training
    adds the engine version, seed, time taken, cross-validation metrics and thresholds.
    Raises PackInvalid when the examples cannot train a model.
    """
    found = trainability_problems(pack)
    if found:
        raise PackInvalid(pack.name, found)
    started = time.perf_counter()
    settings = pack.settings
    seed = settings.nlu.seed
    data = TrainingData.from_pack(pack)
    cv = cross_validate_scores(data, folds=folds, seed=seed, progress=progress)
    progress("calibrating confidence and choosing thresholds", 0, 1)
    calibration = calibrate(cv, data.labels, pack)
    thresholds = calibration.thresholds
    progress("intent classifier on all examples", 0, 1)
    featurizer = Featurizer(data.language)
    classifier = IntentClassifier.fit(featurizer.fit_transform(data.classifier_texts), data.labels, seed)
    progress("entity recognizer", 0, 1)
    tagger = train_entity_tagger(data, folder, seed)
    counts = Counter(data.labels)
    model = NluModel(
        manifest={
            **manifest,
            "engine_version": __version__,
            "seed": seed,
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "training_seconds": round(time.perf_counter() - started, 2),
            "examples": {
                "intents": len(data.labels) - counts[OUT_OF_SCOPE],
                "out_of_scope": counts[OUT_OF_SCOPE],
            },
            "features": featurizer.size,
            "cross_validation": calibration.metrics,
            "thresholds": {
                "configured": settings.fallback.threshold,
                **thresholds.to_json(),
            },
        },
        featurizer=featurizer,
        classifier=classifier,
        temperature=calibration.temperature,
        thresholds=thresholds,
        entities=build_extractors(pack, tagger),
    )
    model.save(folder)
    progress("saved", 1, 1)
    return model
