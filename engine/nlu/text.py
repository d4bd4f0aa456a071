"""Message text as the NLU sees it: cleaned, bounded, and tokenized by a blank spaCy pipeline.

Two views of a message are kept apart:
- `clean_text` keeps every character's position (entity offsets point into what the customer
  wrote): control characters become spaces and the text is cut at MAX_MESSAGE_CHARS.
- `normalize` is for features only: Unicode compatibility forms folded (NFKC), case folded,
  accents removed, whitespace collapsed. Its positions do not match the original.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import spacy
from spacy.language import Language

#: Characters of a message the NLU reads; the rest of a longer message is ignored. Messages
#: longer than this are pastes (logs, e-mails) that no intent example resembles.
MAX_MESSAGE_CHARS = 1000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """The message with control characters replaced by spaces (same length), cut to the limit."""
    return _CONTROL.sub(" ", text[:MAX_MESSAGE_CHARS])


def normalize(text: str) -> str:
    """Fold case, compatibility forms and accents; collapse whitespace. For features only."""
    folded = unicodedata.normalize("NFKD", clean_text(text).casefold())
    without_marks = "".join(c for c in folded if not unicodedata.combining(c))
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", without_marks)).strip()


def has_words(text: str) -> bool:
    """True when the text holds at least one letter or digit (emoji-only and blank text do not)."""
    return any(c.isalnum() for c in text)


def base_language(language: str) -> str:
    """The language part of a tag: "en-GB" -> "en"."""
    return language.replace("_", "-").split("-")[0].lower()


def has_tokenizer(language: str) -> bool:
    """True when spaCy has a blank pipeline for the language (checked without loading it)."""
    try:
        spacy.util.get_lang_class(base_language(language))
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Token:
    """A token of the original text: `text[start:end]`."""

    text: str
    start: int
    end: int


class Tokenizer:
    """Splits text into tokens with the blank spaCy pipeline of a language ("en", "de", ...).

    A regional tag such as "en-GB" uses its language's pipeline ("en"). Blank pipelines hold
    only the language's tokenizer rules and exceptions; no weights are loaded or downloaded.
    """

    def __init__(self, language: str) -> None:
        self.language = language
        self._nlp = _blank(base_language(language))

    def tokens(self, text: str) -> list[Token]:
        return [
            Token(t.text, t.idx, t.idx + len(t.text)) for t in self._nlp.tokenizer(text) if not t.is_space
        ]

    def words(self, text: str) -> list[str]:
        """Lower-cased token texts of already normalized text (the word-feature analyzer)."""
        return [t.text for t in self._nlp.tokenizer(text) if not t.is_space]


@functools.cache
def _blank(language: str) -> Language:
    try:
        return spacy.blank(language)
    except (ImportError, KeyError) as error:
        raise ValueError(
            f"spaCy has no tokenizer for language '{language}': use an ISO 639-1 code spaCy "
            "supports, such as en, de, fr, es, it, nl, pt"
        ) from error
