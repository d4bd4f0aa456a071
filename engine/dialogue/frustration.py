"""How frustrated the customer seems: `conversation.frustration` and `conversation.sentiment`.

Customers of a support desk describe problems all day, so a negative message is not enough:
frustration is about the conversation going badly. `assess_frustration` reads the customer's
last few messages (`WINDOW`, each cut to `MAX_CHARS`) and the number of messages in a row the
assistant did not understand, and combines these signals:

- negative: VADER's compound sentiment (vaderSentiment; its lexicon ships inside the package),
  counted only when below zero;
- shouting: a sentence mostly in capitals, or runs such as `!!!`, `???`, `?!`;
- profanity: a short list of English swear words, including obfuscations such as f*ck and sh!t;
- complaint: exasperation VADER underweights ("this is useless", "waste of time", "fed up",
  "how many times") and angry emoji;
- rephrasing: messages in the window that nearly repeat an earlier one (rapidfuzz);
- not_understood: the assistant's fallbacks in a row.

The formula (weights are the constants below):

    heat(message) = min(1, W_NEGATIVE * negativity + W_SHOUTING * shouting
                           + W_PROFANITY * profanity + W_COMPLAINT * complaint)
    score = min(1, heat(latest) + W_EARLIER * max(heat of the earlier messages in the window)
                   + W_REPHRASING * rephrasing + W_NOT_UNDERSTOOD * min(fallbacks, 3) / 3)

Each signal is between 0 and 1. With the common pack's escalation threshold of 0.8 in mind: a
calm description of a problem, however negative, scores at most W_NEGATIVE (0.35); capitals alone
0.5 and a swear word alone 0.6, more with negative sentiment; an explicit complaint 0.85 or more.
Anger that lasts, or anger while the assistant keeps failing, passes 0.8; calm rephrasing after
fallbacks stays under it (at most W_REPHRASING + W_NOT_UNDERSTOOD = 0.7), since the
repeated-fallback rule handles that case. English only; sarcasm is not detected. Measured
accuracy: docs/frustration.md (`python benchmarks/frustration.py`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

__all__ = ["Frustration", "assess_frustration"]

# What is read: the latest messages only, each cut to its first characters, so a call stays cheap.
# Sentiment reads fewer: VADER is made for sentences and short posts, and its time grows with the
# square of the number of words.
WINDOW = 5
MAX_CHARS = 1_000
SENTIMENT_CHARS = 300

# Weights of the signals in a message's heat.
W_NEGATIVE = 0.35
W_SHOUTING = 0.5
W_PROFANITY = 0.6
W_COMPLAINT = 0.85

# Weights of the conversation: earlier heat, repeating oneself, not being understood.
W_EARLIER = 0.4
W_REPHRASING = 0.25
W_NOT_UNDERSTOOD = 0.45
FALLBACKS_FOR_FULL_WEIGHT = 3

# Shouting: a sentence with enough letters in words written wholly in capitals, and most of its
# letters in such words.
SHOUTING_MIN_LETTERS = 5
SHOUTING_CAPITALS_SHARE = 0.6
EMPHATIC_PUNCTUATION_ONLY = 0.5  # `!!!` without capitals is half of shouting

# Rephrasing: a message of at least two words whose rapidfuzz token-set similarity (0..100) to an
# earlier message of the window is this high.
REPHRASING_SIMILARITY = 85
REPHRASING_MIN_WORDS = 2
REPEATS_FOR_FULL_WEIGHT = 2

# VADER's own cut-off for calling a text negative.
NEGATIVE_SENTIMENT = -0.05

REASONS = ("negative", "shouting", "profanity", "complaint", "rephrasing", "not_understood")


@dataclass(frozen=True)
class Frustration:
    """How frustrated the customer seems now.

    `score` is 0..1; `sentiment` is VADER's compound score of the latest message, -1..1;
    `reasons` names the signals that contributed, in the order of `REASONS`."""

    score: float
    sentiment: float
    reasons: tuple[str, ...]


# Swear words, matched as whole words; `_HIDDEN` stands for a hidden letter (f*ck, sh!t).
_HIDDEN = r"[*!1#@$%]"
_PROFANITY = re.compile(
    r"\b(?:"
    rf"f(?:u|{_HIDDEN}){{0,2}}c?k+(?:ing|in|ed|er|ers|s)?"  # fuck, f*ck, f**k, fck, fuk
    rf"|(?:bull)?sh(?:i|{_HIDDEN})t(?:e|s|ty|ting)?"  # shit, sh!t, sh*t, shite, bullshit
    r"|crap(?:py|s)?"
    r"|(?:god)?dam(?:n|mit|n it)(?:ed)?"
    r"|bloody"
    r"|bollocks"
    r"|piss(?:ed|ing)?"
    r"|(?:arse|ass)(?:hole)?s?"
    r"|bastards?"
    r"|wtf|ffs|stfu|omfg"
    r")(?![\w*])"
)
# The two most common words with a hidden letter, written out again for VADER, which knows them.
_OBFUSCATED = re.compile(
    rf"\b(?:(?P<fuck>f(?:u|{_HIDDEN}){{0,2}}c?k)|(?P<shit>sh(?:i|{_HIDDEN})t))", re.IGNORECASE
)

# Exasperation with the service or the conversation that VADER scores mildly or not at all.
_COMPLAINT = re.compile(
    r"\b(?:"
    # about the service, not the customer themselves ("sorry, I'm useless with computers")
    r"(?<!i'm )(?<!im )(?<!i am )(?:useless|hopeless)"
    r"|pointless|pathetic|r[ie]diculous|absurd|unacceptable|disgrace(?:ful)?|appalling|atrocious"
    r"|shambles"
    r"|(?:is|it's|its|that's|what|such|beyond) a joke"
    r"|wast(?:e|ed|ing)(?: of)?(?: my| our| your| the)?(?: \w+)? (?:time|morning|afternoon|day|hours?)"
    r"|(?:not|never|\w+n't) (?:being |very |at all )?help(?:ing|ful)|unhelpful|no help"
    r"|fed up|sick (?:of|and tired)|had enough"
    r"|worst (?:\w+ ){0,2}(?:service|company|shop|experience|support|bot|chatbot|ever)|never again"
    r"|how many times|(?:already|i) told you|keep (?:telling|asking|saying)"
    r"|(?:asked|told|explained)(?: you| this)? (?:\w+ )?times"
    r"|(?:are|r) (?:you|u) (?:even )?(?:listening|reading|serious|kidding)"
    r"|(?:stupid|dumb|useless) (?:bot|chatbot|machine|system|thing|app|website|site)"
    r"|for (?:god'?s?|christ'?s?|heaven'?s?|pete'?s?) sake"
    r"|(?:i'?m|i am|getting|feeling) (?:so |really |very |absolutely |extremely )?"
    r"(?:angry|furious|livid|fuming|annoyed|frustrated|irritated|pissed)"
    r"|frustrating"
    r")\b"
)
_ANGRY_EMOJI = frozenset("😡😠🤬😤💢👿🖕🙄")

_EMPHATIC_PUNCTUATION = re.compile(r"[!?]{3,}|\?!|!\?")
_SENTENCE_END = re.compile(r"[.!?\n]+")
# A word of letters on its own: not part of a code such as LAPTOP-0042 or INC482910.
_CAPITAL_WORD = re.compile(r"(?<![\w-])[^\W\d_]{2,}(?![\w-])")
_WORD = re.compile(r"[^\W_]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


@functools.cache
def _analyzer() -> SentimentIntensityAnalyzer:
    """VADER's analyzer, built once (it reads its lexicon, about 20 ms)."""
    return SentimentIntensityAnalyzer()


@dataclass(frozen=True)
class _Message:
    """The signals of one message, each 0..1 except `sentiment` (-1..1)."""

    sentiment: float
    shouting: float
    profanity: float
    complaint: float
    words: tuple[str, ...]

    @property
    def negativity(self) -> float:
        return max(0.0, -self.sentiment) if self.sentiment <= NEGATIVE_SENTIMENT else 0.0

    @property
    def heat(self) -> float:
        return min(
            1.0,
            W_NEGATIVE * self.negativity
            + W_SHOUTING * self.shouting
            + W_PROFANITY * self.profanity
            + W_COMPLAINT * self.complaint,
        )

    def reasons(self) -> set[str]:
        found = {
            "negative": self.negativity > 0,
            "shouting": self.shouting > 0,
            "profanity": self.profanity > 0,
            "complaint": self.complaint > 0,
        }
        return {name for name, present in found.items() if present}


def _clean(text: str) -> str:
    """The part of a message that is analysed: its first MAX_CHARS characters, without control
    or invisible formatting characters, curly apostrophes made straight."""
    text = _CONTROL.sub(" ", text[:MAX_CHARS]).replace("\u2019", "'")
    return unicodedata.normalize("NFC", text).strip()


def _capitals(sentence: str) -> bool:
    """Whether a sentence is written mostly in capitals (codes such as A12345 do not count)."""
    letters = sum(map(str.isalpha, sentence))
    capitals = sum(len(word) for word in _CAPITAL_WORD.findall(sentence) if word.isupper())
    return capitals >= SHOUTING_MIN_LETTERS and capitals >= SHOUTING_CAPITALS_SHARE * letters


def _shouting(text: str) -> float:
    """1.0 when a sentence is in capitals, EMPHATIC_PUNCTUATION_ONLY for `!!!` or `?!` alone."""
    if any(_capitals(sentence) for sentence in _SENTENCE_END.split(text)):
        return 1.0
    return EMPHATIC_PUNCTUATION_ONLY if _EMPHATIC_PUNCTUATION.search(text) else 0.0


def _written_out(match: re.Match[str]) -> str:
    word = match.group()
    return (match.lastgroup or word) if any(not c.isalpha() for c in word) else word


def _sentiment(text: str) -> float:
    """VADER's compound score, -1..1, with hidden letters of swear words written out."""
    if not text:
        return 0.0
    return float(_analyzer().polarity_scores(_OBFUSCATED.sub(_written_out, text))["compound"])


@functools.lru_cache(maxsize=4096)  # each message is read again in the next few turns' windows
def _read(text: str) -> _Message:
    text = _clean(text)
    lowered = text.lower()
    sentiment = _sentiment(text[:SENTIMENT_CHARS])
    angry_emoji = not _ANGRY_EMOJI.isdisjoint(text)
    return _Message(
        sentiment=sentiment,
        shouting=_shouting(text),
        profanity=1.0 if _PROFANITY.search(lowered) else 0.0,
        complaint=1.0 if angry_emoji or _COMPLAINT.search(lowered) else 0.0,
        words=tuple(_WORD.findall(lowered)),
    )


def _repeats(message: _Message, earlier: Sequence[_Message]) -> bool:
    """Whether `message` says nearly what one of the `earlier` messages said."""
    if len(message.words) < REPHRASING_MIN_WORDS:
        return False
    text = " ".join(message.words)
    return any(
        len(other.words) >= REPHRASING_MIN_WORDS
        and fuzz.token_set_ratio(text, " ".join(other.words)) >= REPHRASING_SIMILARITY
        for other in earlier
    )


def _rephrasing(window: Sequence[_Message]) -> float:
    """How much the customer has had to repeat themselves in the window: 1.0 from
    REPEATS_FOR_FULL_WEIGHT messages that repeat an earlier one, proportionally less below."""
    repeats = sum(_repeats(message, window[:i]) for i, message in enumerate(window) if i > 0)
    return min(1.0, repeats / REPEATS_FOR_FULL_WEIGHT)


def assess_frustration(messages: Sequence[str], *, fallbacks: int = 0) -> Frustration:
    """How frustrated the customer seems after their latest message.

    `messages`: the customer's messages of this session, oldest first, latest last (may be
    empty: score 0, sentiment 0). `fallbacks`: how many messages in a row the assistant did not
    understand (0 when the latest was understood). Only the last WINDOW messages are read.

    Raises TypeError when `messages` is a single string or holds something other than strings,
    ValueError when `fallbacks` is negative."""
    if isinstance(messages, str):
        raise TypeError(
            "assess_frustration takes the list of the customer's messages, not one string: "
            "pass [text] for a single message"
        )
    window = messages[-WINDOW:]
    bad = [len(messages) - len(window) + i for i, text in enumerate(window) if not isinstance(text, str)]
    if bad:
        raise TypeError(f"messages must be strings; the items at positions {bad} are not")
    if fallbacks < 0:
        raise ValueError(f"fallbacks counts messages not understood in a row, so it is >= 0; got {fallbacks}")
    if not messages:
        return Frustration(score=0.0, sentiment=0.0, reasons=())

    read = [_read(text) for text in window]
    latest, earlier = read[-1], read[:-1]
    hottest_earlier = max(earlier, key=lambda message: message.heat, default=None)
    earlier_heat = hottest_earlier.heat if hottest_earlier is not None else 0.0
    rephrasing = _rephrasing(read)
    not_understood = min(fallbacks, FALLBACKS_FOR_FULL_WEIGHT) / FALLBACKS_FOR_FULL_WEIGHT

    score = min(
        1.0,
        latest.heat
        + W_EARLIER * earlier_heat
        + W_REPHRASING * rephrasing
        + W_NOT_UNDERSTOOD * not_understood,
    )
    reasons = latest.reasons()
    if hottest_earlier is not None and earlier_heat > 0:
        reasons |= hottest_earlier.reasons()
    if rephrasing > 0:
        reasons.add("rephrasing")
    if not_understood > 0:
        reasons.add("not_understood")
    return Frustration(
        score=round(score, 4),  # 0.85, not 0.8500000000000001, in events and conditions
        sentiment=latest.sentiment,
        reasons=tuple(name for name in REASONS if name in reasons),
    )
