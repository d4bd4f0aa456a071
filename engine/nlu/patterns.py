"""Entities found by rule: by the regular expressions and the lookup lists a pack declares.

**Regex entities** (`RegexExtractor`). Every pattern of an entity runs over the whole message, as
written (case-sensitive unless the pattern says `(?i)`). A match's span is the whole match, so a
pattern can look at the words around a value with lookarounds (`(?<=order )\\d+`). Its value is the
matched text, or the text of the named group `value` when the pattern has one and it took part in
the match (`order (?P<value>\\d+)` has the span "order 123" and the value "123"). Empty matches are
skipped; when two patterns of one entity find the same span, the first pattern gives the value.

**Lookup entities** (`LookupExtractor`). A message is read as words: runs of letters and digits
(a trailing `+` or `#` belongs to the word, for "C++" and "C#"). Matching ignores case and accents
("Café" finds "cafe"), and never looks inside a word: "car" is not found in "scarf". Words are
compared without the spaces and joining marks between them, so "e-mail", "e mail" and "email" are
one value, and so are "Wi-Fi" and "wifi" or "Node.js" and "nodejs". A value of several words
("New York", "Microsoft Teams") is found only when its words are separated by spaces or joining
marks (- _ / . ' & +), not across a comma or other punctuation, unless the value itself is written
with that punctuation.

A found text's value is the canonical value: a synonym gives the value it is listed under, a lookup
value gives itself. A text listed as the synonym of a value and also as a value of its own gives the
synonym's value; when two values list the same synonym, the first declared wins. Within one entity
the longest match wins (then the exact one, then the earliest); different entities may report the
same words, and `engine.nlu.overlaps.resolve_overlaps` decides between them.

**Typo tolerance.** An entity with `typo_tolerance` also finds its values written with a small typo.
Words are compared with the optimal-string-alignment distance (a swap of two neighbouring letters
counts as one typo). A word may differ by one typo when the shorter of the two words has 4 to 8
letters, and by two when it has 9 or more. To keep false alarms rare:

- values shorter than 4 characters are only found exactly;
- words of a value that hold a digit (numbers and codes like "X200") or that the pack writes in
  capitals (acronyms like "VPN") are only found exactly; the other words of the value may have typos;
- the first letter of a word must be right;
- a word in the message must have at least 4 letters and must not be a common English word
  (`COMMON_WORDS`: "from" is never read as a typo of "form");
- between two words of 4 letters only a swap counts ("mial" is "mail"): a wrong letter there mostly
  makes another word ("main");
- a value of several words is matched word by word, with the same number of words.

A match with typos has a confidence below 1.0: one minus the typos divided by the length of the
compared words ("outlok" for "Outlook": 1 - 1/7 = 0.857). An exact match has confidence 1.0 and beats
a match with typos of the same length.

**Speed.** The index is built once: the exact forms in a dictionary keyed by their compacted text,
and the words that may carry typos grouped by first letter and length, for rapidfuzz to compare.
A message costs a dictionary look-up per run of words and one rapidfuzz call per word that may be a
typo, so thousands of values stay well under a millisecond. Both extractors serialize to plain JSON
(`to_json`, `from_json`); `from_json` rebuilds the index from the values (5,000 in about 30 ms).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, pairwise
from typing import Any, NamedTuple, Self

from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein

from engine.nlu.types import EntityMatch

__all__ = ["COMMON_WORDS", "LookupExtractor", "LookupTable", "RegexExtractor"]

_COMMON_WORDS_TEXT = """
    about above across actually after again against almost alone along already also although
    always among another anybody anyone anything anyway anywhere around away back because become
    been before behind being below beside besides best better between beyond both bought came
    cannot cant change charge charged check come comes coming could didnt does doesnt doing done
    dont down during each either else enough even ever every everyone everything except fine
    first from full give given goes going gone good gotten great have having hello help here
    hers herself high himself home hope however idea instead into isnt issue itself just keep kind
    know last late later least left less like little long look looking lost made make many maybe
    mean might mine more most much must myself name near need needs neither never next nice none
    nothing okay once only onto open other others ours over part past people please problem quite
    rather really right same said says seem seems sent send several shall should show since some
    someone something sometimes soon still stop such sure take tell than thank thanks that thats their
    them then there these they thing things think this those though through thus time today told
    tomorrow took toward towards tried tries trying under unless until upon used uses using very
    want wanted wants wasnt week well went were what whatever when where whether which while whole
    whom whose will wish with within without wont work worked working works would wouldnt wrong
    year years your yours yourself
"""
#: Words that are never read as a typo of a lookup value: English function words and the words
#: customers use most in support messages. Found exactly they still match. Only words of 4 letters
#: or more are listed, since shorter words are never compared with typos.
COMMON_WORDS: frozenset[str] = frozenset(_COMMON_WORDS_TEXT.split())

_WORD = re.compile(r"[^\W_]+[+#]*")
# Between the words of one value: spaces and joining marks. Anything else (a comma, a bracket)
# separates values unless the value itself is written with it.
_SOFT_GAP = re.compile(r"[\s\-‐‑–_/.'’&+·]*")
_HARD_GAP = re.compile(r"[^\w\s\-‐‑–/.'’&+·]")
_SHORTEST_FUZZY = 4
_LONG_WORD = 9
_MOST_TYPOS = 2


# -- regex entities -------------------------------------------------------------------------------
class RegexExtractor:
    """Finds entities by the regular expressions a pack declares (rules in the module docstring)."""

    def __init__(self, patterns: Mapping[str, Sequence[str]]) -> None:
        """`patterns` maps an entity name to its Python regular expressions.

        Raises re.error when a pattern does not compile (the pack validator reports it first).
        """
        self._patterns = {entity: tuple(sources) for entity, sources in patterns.items()}
        self._compiled = [
            (entity, re.compile(source)) for entity, sources in self._patterns.items() for source in sources
        ]

    def extract(self, text: str) -> list[EntityMatch]:
        """Every match of every pattern, sorted by start; one per entity and span."""
        found: dict[tuple[str, int, int], EntityMatch] = {}
        for entity, pattern in self._compiled:
            for match in pattern.finditer(text):
                start, end = match.span()
                if start == end or (entity, start, end) in found:
                    continue
                found[(entity, start, end)] = EntityMatch(
                    entity=entity,
                    value=_regex_value(match),
                    start=start,
                    end=end,
                    text=match.group(),
                    extractor="regex",
                )
        return sorted(found.values(), key=lambda match: (match.start, match.end))

    def to_json(self) -> dict[str, Any]:
        """The patterns, as plain JSON types."""
        return {"patterns": {entity: list(sources) for entity, sources in self._patterns.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from `to_json()`. Raises ValueError when `data` is not in that shape."""
        patterns = _mapping(data.get("patterns"), "regex extractor: 'patterns'")
        return cls(
            {
                entity: _strings(sources, f"regex patterns of {entity!r}")
                for entity, sources in patterns.items()
            }
        )


def _regex_value(match: re.Match[str]) -> str:
    if "value" in match.re.groupindex and match.group("value") is not None:
        return match.group("value")
    return match.group()


# -- lookup entities ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LookupTable:
    """What a lookup entity can find: its values, their synonyms, and whether typos are allowed."""

    values: tuple[str, ...]
    synonyms: Mapping[str, Sequence[str]] = field(default_factory=dict)
    typo_tolerance: bool = True

    def surfaces(self) -> Iterator[tuple[str, str]]:
        """(written form, canonical value) pairs, in the order that decides conflicts:
        synonyms first, then the canonical values they belong to, then the plain values."""
        for canonical, variants in self.synonyms.items():
            for variant in variants:
                yield variant, canonical
        for canonical in self.synonyms:
            yield canonical, canonical
        for value in self.values:
            yield value, value

    def to_json(self) -> dict[str, Any]:
        return {
            "values": list(self.values),
            "synonyms": {canonical: list(variants) for canonical, variants in self.synonyms.items()},
            "typo_tolerance": self.typo_tolerance,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], entity: str) -> LookupTable:
        synonyms = _mapping(data.get("synonyms", {}), f"synonyms of {entity!r}")
        typo_tolerance = data.get("typo_tolerance", True)
        if not isinstance(typo_tolerance, bool):
            raise ValueError(f"lookup extractor: typo_tolerance of {entity!r} must be true or false")
        return cls(
            values=tuple(_strings(data.get("values"), f"lookup values of {entity!r}")),
            synonyms={
                canonical: _strings(variants, f"synonyms of {canonical!r}")
                for canonical, variants in synonyms.items()
            },
            typo_tolerance=typo_tolerance,
        )


class _Word(NamedTuple):
    """A word of the message: its folded form and where it is."""

    key: str
    start: int
    end: int


class _Form(NamedTuple):
    """A written form of a value, as the exact index keeps it."""

    entity: str
    value: str
    crosses_punctuation: bool


class _FuzzyForm(NamedTuple):
    """A written form of a value, as the typo index keeps it: word by word."""

    entity: str
    value: str
    words: tuple[str, ...]
    may_have_typo: tuple[bool, ...]
    crosses_punctuation: bool


class _Candidate(NamedTuple):
    """A value found at words[first_word:end_word], which cover text[start:end]."""

    entity: str
    value: str
    first_word: int
    end_word: int
    start: int
    end: int
    confidence: float

    @classmethod
    def at(
        cls, entity: str, value: str, words: list[_Word], first: int, end: int, confidence: float
    ) -> _Candidate:
        return cls(entity, value, first, end, words[first].start, words[end - 1].end, confidence)


class LookupExtractor:
    """Finds lookup values, their synonyms, and (where allowed) their typos in a message.

    The matching rules are in the module docstring.
    """

    def __init__(self, tables: Mapping[str, LookupTable]) -> None:
        """`tables` maps an entity name to its lookup table."""
        self._tables = dict(tables)
        self._exact: dict[str, list[_Form]] = {}
        self._fuzzy_by_first_word: dict[str, list[_FuzzyForm]] = {}
        typo_words: set[str] = set()
        for entity, table in self._tables.items():
            typo_words.update(self._index_table(entity, table))
        self._longest_key = max((len(key) for key in self._exact), default=0)
        self._typo_words_by_shape = _group_by_shape(typo_words)

    # -- building the index ------------------------------------------------------------------------
    def _index_table(self, entity: str, table: LookupTable) -> set[str]:
        """Add the table's written forms to the index; returns the words that may carry typos."""
        seen: set[str] = set()
        typo_words: set[str] = set()
        for written, canonical in table.surfaces():
            spelled = _WORD.findall(written)
            keys = tuple(_WORD.findall(written.lower()) if written.isascii() else map(_fold, spelled))
            key = "".join(keys)
            if not key or key in seen:
                continue
            seen.add(key)
            crosses = len(keys) > 1 and _HARD_GAP.search(written) is not None
            self._exact.setdefault(key, []).append(_Form(entity, canonical, crosses))
            if not table.typo_tolerance or len(key) < _SHORTEST_FUZZY:
                continue
            may_have_typo = tuple(map(_may_have_typo, spelled, keys))
            if True in may_have_typo:
                form = _FuzzyForm(entity, canonical, keys, may_have_typo, crosses)
                self._fuzzy_by_first_word.setdefault(keys[0], []).append(form)
                typo_words.update(compress(keys, may_have_typo))
        return typo_words

    # -- extraction --------------------------------------------------------------------------------
    def extract(self, text: str) -> list[EntityMatch]:
        """The longest match of each entity wherever its values occur, sorted by start."""
        words = _words(text)
        if not words or not self._exact:
            return []
        soft = _soft_gaps(text, words)
        candidates = list(self._exact_candidates(words, soft))
        if self._fuzzy_by_first_word:
            candidates.extend(self._fuzzy_candidates(words, soft))
        return [_to_match(text, candidate) for candidate in _longest_per_entity(candidates)]

    def _exact_candidates(self, words: list[_Word], soft: list[bool]) -> Iterator[_Candidate]:
        for first in range(len(words)):
            key = ""
            joined_softly = True
            for last in range(first, len(words)):
                if last > first:
                    joined_softly = joined_softly and soft[last - 1]
                key += words[last].key
                if len(key) > self._longest_key:
                    break
                for form in self._exact.get(key, ()):
                    if joined_softly or form.crosses_punctuation:
                        yield _Candidate.at(form.entity, form.value, words, first, last + 1, 1.0)

    def _fuzzy_candidates(self, words: list[_Word], soft: list[bool]) -> Iterator[_Candidate]:
        typos: dict[str, dict[str, int]] = {}

        def near(word: str) -> dict[str, int]:
            if word not in typos:
                typos[word] = self._typo_neighbours(word)
            return typos[word]

        for first, word in enumerate(words):
            starts = {word.key: 0, **near(word.key)}
            for first_key, first_typos in starts.items():
                for form in self._fuzzy_by_first_word.get(first_key, ()):
                    if first_typos and not form.may_have_typo[0]:
                        continue
                    confidence = _aligned_confidence(form, words, first, first_typos, soft, near)
                    if confidence is not None:
                        end = first + len(form.words)
                        yield _Candidate.at(form.entity, form.value, words, first, end, confidence)

    def _typo_neighbours(self, word: str) -> dict[str, int]:
        """Index words within the allowed number of typos of `word` (not `word` itself)."""
        if len(word) < _SHORTEST_FUZZY or not word.isalpha() or word in COMMON_WORDS:
            return {}
        bucket = self._typo_words_by_shape.get((word[0], len(word)))
        if not bucket:
            return {}
        found = process.extract(word, bucket, scorer=OSA.distance, score_cutoff=_MOST_TYPOS, limit=None)
        return {other: int(typos) for other, typos, _ in found if _is_typo(word, other, int(typos))}

    # -- serialization -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The lookup tables, as plain JSON types (the index is rebuilt from them)."""
        return {"tables": {entity: table.to_json() for entity, table in self._tables.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from `to_json()`. Raises ValueError when `data` is not in that shape."""
        tables = _mapping(data.get("tables"), "lookup extractor: 'tables'")
        return cls(
            {
                entity: LookupTable.from_json(_mapping(table, f"lookup table {entity!r}"), entity)
                for entity, table in tables.items()
            }
        )


# -- words ---------------------------------------------------------------------------------------
def _words(text: str) -> list[_Word]:
    if text.isascii():
        lowered = text.lower()  # the same word boundaries as `text`
        return [
            _Word(lowered[start:end], start, end) for start, end in map(re.Match.span, _WORD.finditer(text))
        ]
    return [_Word(_fold(match.group()), match.start(), match.end()) for match in _WORD.finditer(text)]


def _fold(word: str) -> str:
    """Lower case without accents: "Café" -> "cafe", "Straße" -> "strasse"."""
    folded = word.casefold()
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _soft_gaps(text: str, words: list[_Word]) -> list[bool]:
    """For each pair of neighbouring words: are they separated only by spaces and joining marks?"""
    return [_joined_softly(text, before.end, after.start) for before, after in pairwise(words)]


def _joined_softly(text: str, gap_start: int, gap_end: int) -> bool:
    if gap_end - gap_start == 1 and text[gap_start] == " ":
        return True
    return _SOFT_GAP.fullmatch(text, gap_start, gap_end) is not None


def _group_by_shape(words: Iterable[str]) -> dict[tuple[str, int], list[str]]:
    """Index words by (first letter, length of a word that could be them with typos)."""
    groups: dict[tuple[str, int], list[str]] = {}
    for word in sorted(words):
        for length in range(len(word) - _MOST_TYPOS, len(word) + _MOST_TYPOS + 1):
            groups.setdefault((word[0], length), []).append(word)
    return groups


def _may_have_typo(written_word: str, key: str) -> bool:
    """Whether a word of a value may be found with a typo: letters only, long enough, no acronym."""
    is_acronym = written_word.isupper() and len(written_word) > 1
    return len(key) >= _SHORTEST_FUZZY and key.isalpha() and not is_acronym


def _is_typo(written: str, expected: str, typos: int) -> bool:
    """Whether `written` may be `expected` with `typos` typos (the rules in the module docstring)."""
    shorter = min(len(written), len(expected))
    if typos == 0 or shorter < _SHORTEST_FUZZY:
        return False
    if shorter == len(written) == len(expected) == _SHORTEST_FUZZY:
        # A wrong letter in a 4-letter word mostly makes another word ("main", "mail"): only a swap
        # of neighbouring letters counts, which the plain edit distance sees as two edits.
        return typos == 1 and Levenshtein.distance(written, expected) == 2
    return typos <= (1 if shorter < _LONG_WORD else 2)


def _aligned_confidence(
    form: _FuzzyForm,
    words: list[_Word],
    first: int,
    first_typos: int,
    soft: list[bool],
    near: Callable[[str], dict[str, int]],
) -> float | None:
    """Confidence of `form` read word by word from `words[first:]`, or None when it does not fit.

    `near(word)` gives the index words within the allowed typos of a message word. Returns None for
    an exact reading too: exact matches are found by the exact index.
    """
    end = first + len(form.words)
    if end > len(words):
        return None
    if not form.crosses_punctuation and not all(soft[first : end - 1]):
        return None
    total_typos = first_typos
    compared = max(len(words[first].key), len(form.words[0]))
    for offset in range(1, len(form.words)):
        written, expected = words[first + offset].key, form.words[offset]
        compared += max(len(written), len(expected))
        if written == expected:
            continue
        typos = near(written).get(expected) if form.may_have_typo[offset] else None
        if typos is None:
            return None
        total_typos += typos
    if total_typos == 0:
        return None
    return 1.0 - total_typos / compared


def _to_match(text: str, candidate: _Candidate) -> EntityMatch:
    return EntityMatch(
        entity=candidate.entity,
        value=candidate.value,
        start=candidate.start,
        end=candidate.end,
        text=text[candidate.start : candidate.end],
        extractor="lookup",
        confidence=candidate.confidence,
    )


def _longest_per_entity(candidates: Iterable[_Candidate]) -> list[_Candidate]:
    """Per entity, non-overlapping candidates: the longest first, then exact, then earliest."""
    ranked = sorted(
        candidates,
        key=lambda c: (c.entity, c.start - c.end, -c.confidence, c.start),
    )
    taken: dict[str, set[int]] = {}
    kept: list[_Candidate] = []
    for candidate in ranked:
        span = range(candidate.first_word, candidate.end_word)
        used = taken.setdefault(candidate.entity, set())
        if any(index in used for index in span):
            continue
        used.update(span)
        kept.append(candidate)
    return sorted(kept, key=lambda c: (c.start, c.end, c.entity))


# -- JSON helpers --------------------------------------------------------------------------------
def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValueError(f"{what} must be a mapping with text keys")
    return value


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{what} must be a list of texts")
    return value
