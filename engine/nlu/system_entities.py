"""Built-in entities: numbers, money, dates, times, email addresses, phone numbers and web addresses.

A pack names an entity and picks a kind (`system: date`); `SystemExtractor` finds that kind in a
message and reports it under the pack's entity name, with a normalized value. The grammar is written
by hand on purpose: a general date parser's search (dateparser) is too slow and too loose to run on
every message, and reads dates into ordinary words. What each kind recognizes, in English:

**number**: an int or a float.
- Digits (of any script), with "," between thousands and "." before decimals: "7", "1,200" (1200),
  "3.5", "-4". A decimal comma ("12,99") is not read.
  A value written with a decimal point is a float, unless a scale word makes it whole.
- A scale word after digits: "5 million" (5000000), "1.5 thousand" (1500).
- English number words: "twenty five", "twenty-five", "a hundred and twenty", "one thousand two
  hundred", "a dozen" (12), "two dozen" (24). "one" after a determiner ("the one", "this one",
  "no one") is a pronoun, not a number. Ordinals ("5th", "first") are not numbers.
- Not numbers: digits inside a word or code ("A12345", "4G", "2nd"), integers written with a leading
  zero ("007", "02139": codes), more than 15 digits (card and account numbers), version-like runs
  ("1.2.3"), ranges and fractions ("5-7", "1/2"), and digits that belong to an amount of money, a
  date, a time, a phone number, an email or a web address, whether or not the pack uses those kinds.

**money**: {"amount": float, "currency": ISO 4217 code}.
- A symbol before the amount: "$50" (USD), "€12.99" (EUR), "£3" (GBP), "¥500" (JPY), "₹", "₩",
  "₽", "US$", "C$"/"CA$" (CAD), "A$"/"AU$" (AUD), "R$" (BRL). "$" alone is USD.
- A currency code before or after: "USD 20", "12.99 EUR", "20usd" (codes in any case, except TRY,
  which must be upper case as "try" is a word).
- A money word after: dollars, bucks (USD), euros (EUR), pounds, quid (GBP), yen (JPY), yuan (CNY),
  rupees (INR), francs (CHF); cents (USD) and pence or "p" as in "50p" (GBP) are hundredths.
  "pounds" is always read as money, never as weight.
- The amount may be digits or number words: "fifty dollars", "a hundred bucks", "$1.5 million".
  With a currency on both sides ("$50 USD") a code after the amount wins over the symbol.

**date**: an ISO date "YYYY-MM-DD", worked out from the time the message arrived (`now`, in its
time zone). Weeks start on Monday.
- today (also "tonight"), tomorrow ("tmrw"), yesterday, the day after tomorrow, the day before
  yesterday.
- A weekday: "Friday" or "on Friday" is the next Friday after today (today excluded: a customer who
  means today says "today"); "this Friday" (or "coming Friday") is the next one from today on,
  today included; **"next Friday" is the Friday of next week** (Monday to Sunday), so on a Monday
  "this Friday" is 4 days ahead and "next Friday" 11; "last Friday" is the latest Friday before
  today. Abbreviations (Mon, Tue, Wed, Thu, Fri, Sat, Sun) count only after one of next, last, this,
  coming, on, by, until, till, before, after, from ("on sat"), since "sun" and "sat" are words.
- "next week", "last week", "this week" give that week's Monday; "next month", "last month",
  "this month" its first day; "next year", "last year", "this year" the 1st of January.
- Offsets: "in 3 days", "in two weeks", "in a month", "3 days ago", "a week from now",
  "2 weeks later". A month later is the same day number, or the month's last day if it is shorter.
- Explicit dates: "12 March", "12th of March", "March 12th", "March 12, 2026", "Friday 12 March".
  Month names may be abbreviated ("Mar 12"); "may" must be written "May" ("12 may be late" is no
  date). Without a year the date is in the year of `now`, as written ("12 March" is 12 March this
  year, even when that is past).
- Numeric dates: "2026-03-12" (ISO, year first). **"12/03/2026" is month/day/year** (US order:
  3 December) unless the extractor is built with `day_first=True`; a first number over 12 can only
  be a day, so "25/12/2026" is 25 December either way. Dates written with dots ("12.03.2026") are
  always day first. The year may have two digits ("12/03/26" is 2026). Numeric dates need a year:
  "1/2" is a fraction.
- "the 5th", "on the 5th": that day of the month of `now` (a day the month lacks is no date).

**time**: "HH:MM" on a 24-hour clock.
- "5pm", "5 p.m.", "5:30 pm", "5.30pm", "12am" (00:00), "12pm" (12:00); "17:30", "09:05"
  (seconds are dropped); "noon", "midday", "12 noon" (12:00), "midnight" (00:00).
- "in 2 hours", "in 30 minutes", "in half an hour", "in an hour", "2 hours ago": the time that
  is then, from `now` (the date is not reported).
- A bare "at 5" is not a time: it is a number (am or pm cannot be told).

**email**: the address, lower-cased: "Jane.Doe@Example.com" -> "jane.doe@example.com".

**phone**: E.164 ("+14155552671"), found by libphonenumber's matcher (`phonenumbers`). A number
without a country code is read in `default_region` (default "US"); one with "+" and a country code
is read as written in any region. Only runs of at least 7 digits (with spaces, dashes, dots, slashes
and brackets) are read, at most the first 20 of a message.

**url**: a web address with a scheme: "https://example.com/x" as written, "www.example.com" and
"example.com/path" get "https://" added; the scheme and host are lower-cased, the path kept as
written, and trailing punctuation (".", ",", ")" ...) is left out. An address without "http" or
"www" must end in a common top-level domain (com, org, net, io, co.uk, de, ...), so that "node.js"
or "file.txt" are not addresses; domains that are English words (.in, .me, .it, .at, .be, .no, .us)
count only with a path ("log.in" is no address).

**Overlaps between kinds.** The kinds are searched in this order: email, url, date, time, phone,
money, number. Text taken by one kind is not searched by a later one, so the "12" of "12 March" is
never also a number and the "5" of "$5" is money, not a number. Several pack entities may use the
same kind; each then reports every match of it, and `engine.nlu.overlaps` chooses between them.

**Speed.** Every pattern is compiled once at import; each kind first checks a cheap sign (an "@",
a digit, seven digits for phones) before searching. A 15-to-20-word message with all kinds takes
about 0.05 to 0.2 ms; the phone matcher (about 0.05 ms per run of digits) is the largest single cost.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, NamedTuple, Self

import phonenumbers

from engine.nlu.types import EntityMatch

__all__ = ["SYSTEM_KINDS", "SystemExtractor"]

#: The kinds, in the order they are searched: text taken by one kind is not searched by a later one.
SYSTEM_KINDS: tuple[str, ...] = ("email", "url", "date", "time", "phone", "money", "number")


class _Found(NamedTuple):
    kind: str
    value: Any
    start: int
    end: int


class _Context(NamedTuple):
    now: datetime
    region: str
    day_first: bool


# -- vocabulary ----------------------------------------------------------------------------------
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_HUNDRED = 100
_DOZEN = 12
# Longer runs of digits are identifiers (card and account numbers), not quantities.
_MOST_DIGITS = 15
# "one" after these words is a pronoun: "the one I ordered", "this one", "no one".
_PRONOUN_ONE_AFTER = frozenset({
    "the", "this", "that", "which", "no", "any", "every", "each", "another", "some", "other", "same",
    "new", "old", "last", "first", "next", "only", "right", "wrong", "my", "your", "his", "her",
    "its", "our", "their",
})  # fmt: skip

_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
_WEEKDAY_ABBREVIATIONS = {
    "mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip
_WEEKDAY_NUMBERS = {**_WEEKDAYS, **_WEEKDAY_ABBREVIATIONS}
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip

_CURRENCY_SYMBOLS = {
    "$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB",
    "c$": "CAD", "ca$": "CAD", "a$": "AUD", "au$": "AUD", "r$": "BRL",
}  # fmt: skip
_CURRENCY_CODES = frozenset({
    "USD", "EUR", "GBP", "JPY", "CNY", "INR", "AUD", "CAD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK",
    "HUF", "NZD", "SGD", "HKD", "MXN", "BRL", "ZAR", "RUB", "KRW", "AED", "SAR", "ILS", "THB", "TRY",
})  # fmt: skip
# Codes that are English words in lower case: only their upper-case spelling is a currency.
_UPPER_CASE_ONLY_CODES = frozenset({"TRY"})
_CURRENCY_WORDS = {
    "dollar": "USD", "dollars": "USD", "buck": "USD", "bucks": "USD", "euro": "EUR", "euros": "EUR",
    "pound": "GBP", "pounds": "GBP", "quid": "GBP", "yen": "JPY", "yuan": "CNY", "rupee": "INR",
    "rupees": "INR", "franc": "CHF", "francs": "CHF",
}  # fmt: skip
# Hundredths of a currency.
_SUBUNIT_WORDS = {"cent": "USD", "cents": "USD", "penny": "GBP", "pence": "GBP", "p": "GBP"}

# Top-level domains accepted for addresses written without "http" or "www".
_COMMON_TLDS = (
    "com", "net", "org", "edu", "gov", "mil", "int", "io", "co", "uk", "us", "de", "fr", "es", "it", "nl",
    "be", "ch", "at", "se", "no", "dk", "fi", "pl", "pt", "ie", "eu", "ca", "au", "nz", "jp", "cn",
    "in", "br", "mx", "ru", "info", "biz", "app", "dev", "ai", "shop", "store", "online", "site", "tech",
    "cloud", "tv", "me",
)  # fmt: skip
# Those that are also English words ("log.in", "call.me") need a path after them.
_WORD_TLDS = frozenset({"in", "me", "it", "at", "be", "no", "us"})


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation, longest first so that "sept" is tried before "sep".

    It starts with a look at the first character, so that the search skips quickly over places
    where no word of the list can start (several times faster than trying every word there).
    """
    ordered = sorted(words, key=lambda word: (-len(word), word))
    initials = "".join(sorted({re.escape(word[0]) for word in ordered}))
    return f"(?=[{initials}])(?:{'|'.join(re.escape(word) for word in ordered)})"


# -- patterns ------------------------------------------------------------------------------------
_I = re.IGNORECASE
_WEEKDAY_WORD = _alternation(_WEEKDAY_NUMBERS)
_MONTH_WORD = _alternation(_MONTHS)
_ORDINAL_SUFFIX = r"(?:st|nd|rd|th)"
_SMALL_NUMBER_WORD = (
    rf"(?:(?:{_alternation(_TENS)})(?:[ \t]*-[ \t]*|[ \t]+)(?:{_alternation(_UNITS)})"
    rf"|{_alternation({**_TENS, **_TEENS, **_UNITS})})"
)
_QUANTITY = rf"(?:\d{{1,4}}|half[ \t]+an?|an?|(?:a[ \t]+)?couple(?:[ \t]+of)?|{_SMALL_NUMBER_WORD})"
_OFFSET_UNIT = r"(?:days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?)"

_HAS_DIGIT = re.compile(r"\d")
_SEVEN_DIGITS = re.compile(r"\d(?:\D*\d){6}")
_LETTERS = re.compile(r"[A-Za-z]+")

_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w-]|\.[A-Za-z0-9])"
)
_URL = re.compile(
    r"(?<![\w@.\-/])(?:https?://|www\.)[^\s<>\"'`]+"
    r"|(?<![\w@.\-/])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    rf"(?P<tld>{_alternation(_COMMON_TLDS)})(?![\w-])(?P<path>[/?#][^\s<>\"'`]*)?",
    _I,
)
_URL_TRAILING = ".,;:!?'\""

_ISO_DATE = re.compile(
    r"(?<![\w/.-])(?P<year>\d{4})(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})"
    r"(?!(?!T\d)[\w/-]|[.,]\d)"  # "2026-03-12T17:30" is a date and a time
)
_NUMERIC_DATE = re.compile(
    r"(?<![\w/.-])(?P<first>\d{1,2})(?P<sep>[-/.])(?P<second>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})"
    r"(?![\w/-]|[.,]\d)"
)
_DAY_MONTH = re.compile(
    rf"(?<![\w/.-])(?:(?:{_WEEKDAY_WORD})\.?,?[ \t]+)?(?:the[ \t]+)?(?P<day>\d{{1,2}}){_ORDINAL_SUFFIX}?"
    rf"(?:[ \t]+of)?[ \t]+(?P<month>{_MONTH_WORD})(?![A-Za-z])(?:\.?,?[ \t]+(?P<year>\d{{4}})(?!\w))?",
    _I,
)
_MONTH_DAY = re.compile(
    rf"(?<![\w/.-])(?:(?:{_WEEKDAY_WORD})\.?,?[ \t]+)?(?P<month>{_MONTH_WORD})\.?[ \t]+(?:the[ \t]+)?"
    rf"(?P<day>\d{{1,2}}){_ORDINAL_SUFFIX}?(?![\w:]|[.,]\d)(?:,?[ \t]+(?P<year>\d{{4}})(?!\w))?",
    _I,
)
_RELATIVE_DAY = re.compile(
    r"(?<![\w-])(?:(?P<after>(?:the[ \t]+)?day[ \t]+after[ \t]+tomorrow)"
    r"|(?P<before>(?:the[ \t]+)?day[ \t]+before[ \t]+yesterday)"
    r"|(?P<word>today|tonight|tomorrow|tmrw|yesterday))(?![\w-])",
    _I,
)
_OFFSET = re.compile(
    rf"(?<![\w-])(?:in[ \t]+(?P<ahead>{_QUANTITY})[ \t]+(?P<ahead_unit>{_OFFSET_UNIT})"
    rf"|(?P<back>{_QUANTITY})[ \t]+(?P<back_unit>{_OFFSET_UNIT})[ \t]+"
    r"(?P<direction>ago|from[ \t]+now|from[ \t]+today|later))(?![\w-])",
    _I,
)
_RELATIVE_PERIOD = re.compile(
    r"(?<![\w-])(?P<which>next|last|this|previous|coming)[ \t]+(?P<unit>week|month|year)(?![\w-])", _I
)
_WEEKDAY = re.compile(
    r"(?<![\w-])(?:(?P<which>next|last|this|coming|on|by|until|till|before|after|from)[ \t]+)?"
    rf"(?P<weekday>{_WEEKDAY_WORD})(?![\w-])",
    _I,
)
_DAY_OF_MONTH = re.compile(rf"(?<![\w-])the[ \t]+(?P<day>\d{{1,2}}){_ORDINAL_SUFFIX}(?![\w-])", _I)

_CLOCK_12 = re.compile(
    r"(?<![\w:.])(?P<hour>\d{1,2})(?:[:.](?P<minute>[0-5]\d))?[ \t]?(?P<half>[ap])(?:\.m\.?|m)(?![\w])", _I
)
_CLOCK_24 = re.compile(
    r"(?:(?<=\dT)|(?<![\w:.]))(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)(?::[0-5]\d)?(?![\w:]|[.,]\d)"
)
_NAMED_TIME = re.compile(r"(?<![\w-])(?:12[ \t]*)?(?P<word>noon|midday|midnight)(?![\w-])", _I)

# Digits with the marks phone numbers are written with, up to the length of the longest number
# written with spaces and an extension; libphonenumber's matcher then reads each such run.
# The matcher takes about 0.1 ms per run of digits: a message with more runs than this is not a
# conversation turn, and only its first runs are read.
_MOST_PHONE_CANDIDATES = 20
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])\+?\(?\d[\d \t().\-/]{5,28}\d(?!\w)")

_CODES = _alternation(_CURRENCY_CODES)
# Digits may follow letters only when they are a currency code ("USD20"): `_stands_alone` checks.
_DIGITS = re.compile(
    r"(?:(?<=[A-Za-z]{3})|(?<![\w.,/:\-−+]))"
    r"(?P<sign>[-+−])?(?P<integer>\d{1,3}(?:,\d{3})+|\d+)(?P<fraction>\.\d+)?"
    rf"(?P<scale>[ \t]+(?i:{_alternation(_SCALES)}|hundred)(?![A-Za-z]))?"
    rf"(?:(?=(?i:{_CODES}|p)(?![A-Za-z]))|(?![\w/:]|[.,/:-]\d))"
)
_NUMBER_WORD_STARTS = frozenset([*_UNITS, *_TEENS, *_TENS, *_SCALES, "hundred", "dozen", "a", "an"])
_NUMBER_WORD_GAP = re.compile(r"[ \t]*-[ \t]*|[ \t]+")
_CURRENCY_BEFORE = re.compile(
    rf"(?:(?<![A-Za-z])(?P<code>{_CODES})|(?P<symbol>(?<![A-Za-z])(?:us|ca|au|c|a|r)\$|[$€£¥₹₩₽]))[ \t]?\Z",
    _I,
)
_CURRENCY_AFTER = re.compile(
    rf"(?:[ \t]?(?:(?P<code>{_CODES})|(?P<word>{_alternation(_CURRENCY_WORDS)})"
    rf"|(?P<subunit>{_alternation([w for w in _SUBUNIT_WORDS if w != 'p'])})|(?P<symbol>[$€£¥₹₩₽]))"
    r"|(?P<pence>p))(?![A-Za-z])",
    _I,
)


# -- the extractor -------------------------------------------------------------------------------
class SystemExtractor:
    """Finds the built-in kinds a pack uses (rules in the module docstring)."""

    def __init__(
        self, entities: Mapping[str, str], *, default_region: str = "US", day_first: bool = False
    ) -> None:
        """`entities` maps a pack entity name to its kind (one of SYSTEM_KINDS).

        `default_region` is the ISO country code for phone numbers written without a country code;
        `day_first` reads "12/03/2026" as 12 March instead of December 3.
        Raises ValueError for an unknown kind or region.
        """
        unknown = sorted({kind for kind in entities.values() if kind not in SYSTEM_KINDS})
        if unknown:
            raise ValueError(
                f"unknown system entity kind {', '.join(unknown)}: use one of {', '.join(SYSTEM_KINDS)}"
            )
        if default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"unknown phone region {default_region!r}: use an ISO country code such as 'US' or 'GB'"
            )
        self._entities = dict(entities)
        self._region = default_region
        self._day_first = day_first
        self._names_by_kind: dict[str, list[str]] = {}
        for name, kind in self._entities.items():
            self._names_by_kind.setdefault(kind, []).append(name)
        # Every kind up to the last one in use is searched, so that it keeps its text from later kinds.
        last = max((SYSTEM_KINDS.index(kind) for kind in self._names_by_kind), default=-1)
        self._finders = [finder for kind, finder in _FINDERS if SYSTEM_KINDS.index(kind) <= last]

    def extract(self, text: str, *, now: datetime | None = None) -> list[EntityMatch]:
        """The built-in entities in `text`, sorted by start.

        `now` (timezone-aware) is when the message arrived; relative dates and times count from it.
        It defaults to the current local time.
        """
        if not self._finders or not text:
            return []
        context = _Context(now or datetime.now().astimezone(), self._region, self._day_first)
        taken = bytearray(len(text))
        matches: list[EntityMatch] = []
        for finder in self._finders:
            for found in finder(text, context):
                if taken.find(1, found.start, found.end) != -1:
                    continue
                taken[found.start : found.end] = b"\x01" * (found.end - found.start)
                matches.extend(self._report(text, found))
        return sorted(matches, key=lambda match: (match.start, match.end, match.entity))

    def _report(self, text: str, found: _Found) -> Iterator[EntityMatch]:
        for name in self._names_by_kind.get(found.kind, ()):
            value = dict(found.value) if isinstance(found.value, dict) else found.value
            yield EntityMatch(name, value, found.start, found.end, text[found.start : found.end], "system")

    def to_json(self) -> dict[str, Any]:
        """The configuration, as plain JSON types."""
        return {
            "entities": dict(self._entities),
            "default_region": self._region,
            "day_first": self._day_first,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from `to_json()`. Raises ValueError when `data` is not in that shape."""
        entities = data.get("entities")
        if not isinstance(entities, Mapping) or not all(
            isinstance(name, str) and isinstance(kind, str) for name, kind in entities.items()
        ):
            raise ValueError("system extractor: 'entities' must map entity names to kinds")
        region, day_first = data.get("default_region", "US"), data.get("day_first", False)
        if not isinstance(region, str) or not isinstance(day_first, bool):
            raise ValueError(
                "system extractor: 'default_region' must be a text and 'day_first' true or false"
            )
        return cls(entities, default_region=region, day_first=day_first)


# -- email and url -------------------------------------------------------------------------------
def _find_emails(text: str, context: _Context) -> Iterator[_Found]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        yield _Found("email", match.group().lower(), match.start(), match.end())


def _find_urls(text: str, context: _Context) -> Iterator[_Found]:
    if "." not in text and "://" not in text:
        return
    for match in _URL.finditer(text):
        tld = match["tld"]
        if tld is not None and tld.lower() in _WORD_TLDS and not match["path"]:
            continue
        written = _trim_url(match.group())
        if _has_host(written):
            yield _Found("url", _normalize_url(written), match.start(), match.start() + len(written))


def _trim_url(written: str) -> str:
    """Leave out punctuation that ends the sentence rather than the address."""
    end = len(written)
    unmatched_brackets = written.count(")") - written.count("(")
    while end:
        last = written[end - 1]
        if last in _URL_TRAILING:
            end -= 1
        elif last == ")" and unmatched_brackets > 0:
            end, unmatched_brackets = end - 1, unmatched_brackets - 1
        else:
            break
    return written[:end]


def _has_host(written: str) -> bool:
    """Whether a host is left after trimming: "http://." and "www.," are no address."""
    _, scheme_separator, after_scheme = written.partition("://")
    host = after_scheme if scheme_separator else written
    if host.lower().startswith("www."):
        host = host[4:]
    elif not scheme_separator and "." not in host:
        return False
    return any(char.isalnum() for char in host)


def _normalize_url(written: str) -> str:
    scheme, separator, rest = written.partition("://")
    if not separator:
        scheme, rest = "https", written
    host_end = next((index for index, char in enumerate(rest) if char in "/?#"), len(rest))
    return f"{scheme.lower()}://{rest[:host_end].lower()}{rest[host_end:]}"


# -- dates ---------------------------------------------------------------------------------------
def _find_dates(text: str, context: _Context) -> Iterator[_Found]:
    today = context.now.date()
    has_digit = _HAS_DIGIT.search(text) is not None
    for pattern, reader, needs_digit in _DATE_READERS:
        if needs_digit and not has_digit:
            continue
        for match in pattern.finditer(text):
            read = reader(match, today, context)
            if read is not None:
                day, start, end = read
                yield _Found("date", day.isoformat(), start, end)


_DateRead = tuple[date, int, int] | None


def _read_iso_date(match: re.Match[str], today: date, context: _Context) -> _DateRead:
    day = _valid_date(int(match["year"]), int(match["month"]), int(match["day"]))
    return _whole(day, match)


def _read_numeric_date(match: re.Match[str], today: date, context: _Context) -> _DateRead:
    first, second, year = int(match["first"]), int(match["second"]), int(match["year"])
    if len(match["year"]) == 2:
        year += 2000
    day_first = context.day_first or match["sep"] == "." or first > 12
    day, month = (first, second) if day_first else (second, first)
    return _whole(_valid_date(year, month, day), match)


def _read_written_date(match: re.Match[str], today: date, context: _Context) -> _DateRead:
    if match["month"] == "may":
        # Lower-case "may" is the verb ("12 may be late"); the month is written "May".
        return None
    year = int(match["year"]) if match["year"] else today.year
    day = _valid_date(year, _MONTHS[match["month"].lower()], int(match["day"]))
    return _whole(day, match)


def _read_relative_day(match: re.Match[str], today: date, context: _Context) -> _DateRead:
    if match["after"]:
        shift = 2
    elif match["before"]:
        shift = -2
    else:
        shift = {"today": 0, "tonight": 0, "tomorrow": 1, "tmrw": 1, "yesterday": -1}[match["word"].lower()]
    return _whole(today + timedelta(days=shift), match)


def _read_date_offset(match: re.Match[str], today: date, context: _Context) -> _DateRead:
    offset = _offset(match)
    if (
        offset is None
        or offset.unit not in ("day", "week", "month", "year")
        or not offset.amount.is_integer()
    ):
        return None
    amount = int(offset.amount)
    if offset.unit in ("day", "week"):
        days = amount * (7 if offset.unit == "week" else 1)
        return _whole(_shift_days(today, days), match)
    months = amount * (12 if offset.unit == "year" else 1)
    return _whole(_add_months(today, months), match)


def _read_relative_period(match: re.Match[str], today: date, context: _Context) -> _DateRead:
    step = {"next": 1, "coming": 1, "this": 0, "last": -1, "previous": -1}[match["which"].lower()]
    unit = match["unit"].lower()
    day: date | None
    if unit == "week":
        day = today - timedelta(days=today.weekday()) + timedelta(weeks=step)
    elif unit == "month":
        day = _add_months(today.replace(day=1), step)
    else:
        day = _valid_date(today.year + step, 1, 1)
    return _whole(day, match)


def _read_weekday(match: re.Match[str], today: date, context: _Context) -> _DateRead:
    written = match["weekday"].lower()
    which = (match["which"] or "").lower()
    if written in _WEEKDAY_ABBREVIATIONS and not which:
        return None
    weekday = _WEEKDAY_NUMBERS[written]
    days_ahead = (weekday - today.weekday()) % 7
    if which == "next":
        day = today - timedelta(days=today.weekday()) + timedelta(weeks=1, days=weekday)
    elif which == "last":
        day = today - timedelta(days=(today.weekday() - weekday) % 7 or 7)
    elif which in ("this", "coming"):
        day = today + timedelta(days=days_ahead)
    else:
        day = today + timedelta(days=days_ahead or 7)
    start = match.start() if which in ("next", "last", "this", "coming") else match.start("weekday")
    return day, start, match.end()


def _read_day_of_month(match: re.Match[str], today: date, context: _Context) -> _DateRead:
    return _whole(_valid_date(today.year, today.month, int(match["day"])), match)


_DateReader = Callable[[re.Match[str], date, _Context], _DateRead]
# Tried in this order; an earlier reading keeps its text from later ones. The flag says whether
# the pattern needs a digit in the message.
_DATE_READERS: tuple[tuple[re.Pattern[str], _DateReader, bool], ...] = (
    (_ISO_DATE, _read_iso_date, True),
    (_NUMERIC_DATE, _read_numeric_date, True),
    (_DAY_MONTH, _read_written_date, True),
    (_MONTH_DAY, _read_written_date, True),
    (_RELATIVE_DAY, _read_relative_day, False),
    (_OFFSET, _read_date_offset, False),
    (_RELATIVE_PERIOD, _read_relative_period, False),
    (_WEEKDAY, _read_weekday, False),
    (_DAY_OF_MONTH, _read_day_of_month, True),
)


def _whole(day: date | None, match: re.Match[str]) -> _DateRead:
    return None if day is None else (day, match.start(), match.end())


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _shift_days(day: date, days: int) -> date | None:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def _add_months(day: date, months: int) -> date | None:
    """The same day number `months` later, or the last day of a shorter month."""
    year, month_index = divmod(day.month - 1 + months, 12)
    year += day.year
    if not 1 <= year <= 9999:
        return None
    last_day = calendar.monthrange(year, month_index + 1)[1]
    return date(year, month_index + 1, min(day.day, last_day))


class _Offset(NamedTuple):
    amount: float  # positive ahead, negative back
    unit: str  # day, week, month, year, hour or minute


def _offset(match: re.Match[str]) -> _Offset | None:
    """Read "in 3 days" / "3 days ago" / "2 hours from now" as an amount of a unit."""
    if match["ahead"]:
        quantity, unit, sign = match["ahead"], match["ahead_unit"], 1
    else:
        quantity, unit = match["back"], match["back_unit"]
        sign = -1 if match["direction"].lower() == "ago" else 1
    amount = _read_quantity(quantity)
    if amount is None:
        return None
    return _Offset(sign * amount, _OFFSET_UNITS[unit.lower().rstrip("s")])


# Singular unit words (a final "s" is dropped first) and the unit they mean.
_OFFSET_UNITS = {
    "day": "day", "week": "week", "month": "month", "year": "year",
    "hour": "hour", "hr": "hour", "minute": "minute", "min": "minute",
}  # fmt: skip


def _read_quantity(written: str) -> float | None:
    words = written.lower().split()
    if written.isdigit():
        return float(written)
    if words[0] == "half":
        return 0.5
    if words[0] in ("a", "an"):
        return 2.0 if "couple" in words else 1.0
    if words[0] == "couple":
        return 2.0
    read = _read_number_words(written, 0)
    return float(read[0]) if read is not None else None


# -- times ---------------------------------------------------------------------------------------
def _find_times(text: str, context: _Context) -> Iterator[_Found]:
    if _HAS_DIGIT.search(text):
        for match in _CLOCK_12.finditer(text):
            hour, minute = int(match["hour"]), int(match["minute"] or 0)
            if 1 <= hour <= 12:
                hour = hour % 12 + (12 if match["half"].lower() == "p" else 0)
                yield _Found("time", _clock(hour, minute), match.start(), match.end())
        for match in _CLOCK_24.finditer(text):
            yield _Found("time", _clock(int(match["hour"]), int(match["minute"])), match.start(), match.end())
    for match in _NAMED_TIME.finditer(text):
        value = "00:00" if match["word"].lower() == "midnight" else "12:00"
        yield _Found("time", value, match.start(), match.end())
    for match in _OFFSET.finditer(text):
        offset = _offset(match)
        if offset is not None and offset.unit in ("hour", "minute"):
            minutes = offset.amount * (60 if offset.unit == "hour" else 1)
            then = context.now + timedelta(minutes=minutes)
            yield _Found("time", _clock(then.hour, then.minute), match.start(), match.end())


def _clock(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


# -- phone numbers -------------------------------------------------------------------------------
def _find_phones(text: str, context: _Context) -> Iterator[_Found]:
    if _SEVEN_DIGITS.search(text) is None:
        return
    candidates = (match for match in _PHONE_CANDIDATE.finditer(text) if _SEVEN_DIGITS.search(match.group()))
    for candidate in islice(candidates, _MOST_PHONE_CANDIDATES):
        written = candidate.group()
        for match in phonenumbers.PhoneNumberMatcher(written, context.region):
            value = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            yield _Found("phone", value, candidate.start() + match.start, candidate.start() + match.end)


# -- money and numbers ---------------------------------------------------------------------------
def _find_amounts(text: str, context: _Context) -> Iterator[_Found]:
    """Numbers, and amounts of money where a currency stands next to a number."""
    for value, start, end in _numbers(text):
        money = _money_around(text, value, start, end)
        yield money if money is not None else _Found("number", value, start, end)


def _numbers(text: str) -> Iterator[tuple[int | float, int, int]]:
    """Numbers in digits, then numbers in words (a number in words never contains digits)."""
    if _HAS_DIGIT.search(text):
        for match in _DIGITS.finditer(text):
            value = _digits_value(match)
            if value is not None and _stands_alone(text, match.start()):
                yield value, match.start(), match.end()
    yield from _number_words(text)


def _stands_alone(text: str, start: int) -> bool:
    """Digits after a letter belong to a word ("A12345"), unless the letters are a currency code."""
    if start == 0 or not text[start - 1].isalpha():
        return True
    code_start = start - 3
    if code_start > 0 and text[code_start - 1].isalpha():
        return False
    return _currency_code(text[code_start:start]) is not None


def _digits_value(match: re.Match[str]) -> int | float | None:
    integer, fraction, scale = match["integer"].replace(",", ""), match["fraction"], match["scale"]
    if len(integer) > 1 and integer.startswith("0") and not fraction:
        return None  # a code such as a postcode or "007"
    if len(integer) > _MOST_DIGITS or (fraction and len(fraction) > _MOST_DIGITS):
        return None  # an identifier such as a card or account number
    value: int | float = float(integer + fraction) if fraction else int(integer)
    if scale:
        word = scale.strip().lower()
        value = value * (_HUNDRED if word == "hundred" else _SCALES[word])
        if isinstance(value, float) and value.is_integer():
            value = int(value)
    return -value if match["sign"] in ("-", "−") else value


def _number_words(text: str) -> Iterator[tuple[int, int, int]]:
    end = 0
    for word in _LETTERS.finditer(text):
        start = word.start()
        if start < end or word.group().lower() not in _NUMBER_WORD_STARTS:
            continue
        read = _read_number_words(text, start)
        if read is None:
            continue
        value, end = read
        if text[start:end].lower() == "one" and _previous_word(text, start) in _PRONOUN_ONE_AFTER:
            continue
        yield value, start, end


def _read_number_words(text: str, start: int) -> tuple[int, int] | None:
    """Read English number words from `start`: (value, end), or None when there are none.

    A small grammar: [a] units/teens/tens, "hundred", then scale words (thousand, million, billion)
    in decreasing order, with "and" after hundred or a scale ("a hundred and twenty") and "dozen"
    ("two dozen"). Reading stops at the first word that does not continue the number.
    """
    total = group = 0
    state = "start"
    smallest_scale = _SCALES["billion"] * 1000
    value, end = 0, -1
    position = start
    while (match := _LETTERS.match(text, position)) is not None:
        word = match.group().lower()
        if state == "start" and word in ("a", "an"):
            group, state = 1, "a"
        elif word == "and" and state in ("hundred", "scale"):
            state = "and"
        elif word in _UNITS and (state in _OPEN_STATES or (state == "ten" and group % 10 == 0)):
            group, state = group + _UNITS[word], "unit"
        elif word in _TEENS and state in _OPEN_STATES:
            group, state = group + _TEENS[word], "teen"
        elif word in _TENS and state in _OPEN_STATES:
            group, state = group + _TENS[word], "ten"
        elif word == "hundred" and state in ("start", "a", "unit", "teen"):
            group, state = max(group, 1) * _HUNDRED, "hundred"
        elif word in _SCALES and state in _SCALE_AFTER and _SCALES[word] < smallest_scale:
            smallest_scale = _SCALES[word]
            total, group, state = total + max(group, 1) * smallest_scale, 0, "scale"
        elif word == "dozen" and state in ("start", "a", "unit"):
            group, state = max(group, 1) * _DOZEN, "dozen"
        else:
            break
        if state not in ("a", "and"):
            value, end = total + group, match.end()
        gap = _NUMBER_WORD_GAP.match(text, match.end())
        if gap is None or state == "dozen":
            break
        position = gap.end()
    return (value, end) if end >= 0 else None


# States after which a unit, teen or ten may start a new part of the number.
_OPEN_STATES = frozenset({"start", "hundred", "and", "scale"})
_SCALE_AFTER = frozenset({"start", "a", "unit", "teen", "ten", "hundred"})


def _previous_word(text: str, position: int) -> str:
    before = text[max(0, position - 20) : position].split()
    return before[-1].strip(".,;:!?\"'()").lower() if before else ""


class _Currency(NamedTuple):
    """A currency written next to an amount, and the text it covers."""

    code: str
    divisor: int  # 100 for cents and pence
    is_code: bool  # written as an ISO code ("USD")
    start: int
    end: int


def _money_around(text: str, value: int | float, start: int, end: int) -> _Found | None:
    """The amount of money made by a currency before or after the number at text[start:end].

    When a currency is written on both sides ("$50 USD"), a code after the amount wins.
    """
    before = _currency_before(text, start)
    after = _currency_after(text, end)
    chosen = after if after is not None and (before is None or after.is_code) else before
    if chosen is None:
        return None
    return _Found(
        "money",
        {"amount": value / chosen.divisor, "currency": chosen.code},
        before.start if before is not None else start,
        after.end if after is not None else end,
    )


def _currency_before(text: str, start: int) -> _Currency | None:
    match = _CURRENCY_BEFORE.search(text, max(0, start - 5), start)
    if match is None:
        return None
    if match["code"]:
        code = _currency_code(match["code"])
        return None if code is None else _Currency(code, 1, True, match.start(), start)
    return _Currency(_CURRENCY_SYMBOLS[match["symbol"].lower()], 1, False, match.start(), start)


def _currency_after(text: str, end: int) -> _Currency | None:
    match = _CURRENCY_AFTER.match(text, end)
    if match is None:
        return None
    if match["code"]:
        code = _currency_code(match["code"])
        return None if code is None else _Currency(code, 1, True, end, match.end())
    if match["word"]:
        return _Currency(_CURRENCY_WORDS[match["word"].lower()], 1, False, end, match.end())
    subunit = match["subunit"] or match["pence"]
    if subunit:
        return _Currency(_SUBUNIT_WORDS[subunit.lower()], 100, False, end, match.end())
    return _Currency(_CURRENCY_SYMBOLS[match["symbol"]], 1, False, end, match.end())


def _currency_code(written: str) -> str | None:
    """The ISO code `written` stands for, or None ("try" is a word, "TRY" the lira)."""
    code = written.upper()
    if code not in _CURRENCY_CODES or (code in _UPPER_CASE_ONLY_CODES and written != code):
        return None
    return code


_Finder = Callable[[str, _Context], Iterator[_Found]]
_FINDERS: tuple[tuple[str, _Finder], ...] = (
    ("email", _find_emails),
    ("url", _find_urls),
    ("date", _find_dates),
    ("time", _find_times),
    ("phone", _find_phones),
    ("money", _find_amounts),
)
