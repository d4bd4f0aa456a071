"""Built-in entities: each kind's grammar, exact normalized values, overlaps between kinds, messy input."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.nlu.system_entities import SYSTEM_KINDS, SystemExtractor
from engine.nlu.types import EntityMatch

LONDON = ZoneInfo("Europe/London")
#: A Saturday, 10:00 in London.
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=LONDON)
#: A Monday.
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=LONDON)

ALL_KINDS = SystemExtractor({kind: kind for kind in SYSTEM_KINDS})

Found = list[tuple[str, Any, str]]


def found(text: str, extractor: SystemExtractor = ALL_KINDS, now: datetime = NOW) -> Found:
    matches = extractor.extract(text, now=now)
    assert_well_formed(text, matches)
    return [(m.entity, m.value, m.text) for m in matches]


def values(text: str, kind: str, now: datetime = NOW) -> list[Any]:
    return [value for entity, value, _ in found(text, now=now) if entity == kind]


def assert_well_formed(text: str, matches: list[EntityMatch]) -> None:
    for m in matches:
        assert text[m.start : m.end] == m.text
        assert m.extractor == "system"
        assert m.confidence == 1.0
    assert [m.start for m in matches] == sorted(m.start for m in matches)


# -- number --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("I want 7", [7], id="digit"),
        pytest.param("1,200 units", [1200], id="thousands-separator"),
        pytest.param("3,000,000.50 total", [3000000.5], id="separators-and-decimals"),
        pytest.param("3.5 kg", [3.5], id="decimal"),
        pytest.param("it is -4 outside", [-4], id="negative"),
        pytest.param("0.5 or 10%", [0.5, 10], id="fraction-and-percent"),
        pytest.param("5 million people", [5_000_000], id="digits-and-scale"),
        pytest.param("1.5 thousand", [1500], id="scale-makes-whole"),
        pytest.param("twenty five people", [25], id="words"),
        pytest.param("seventy-seven", [77], id="hyphenated-words"),
        pytest.param("a hundred and twenty", [120], id="hundred-and"),
        pytest.param("one thousand two hundred", [1200], id="thousand-hundred"),
        pytest.param("two million three hundred thousand", [2_300_000], id="descending-scales"),
        pytest.param("nineteen hundred", [1900], id="teen-hundred"),
        pytest.param("just one", [1], id="one"),
        pytest.param("a dozen eggs", [12], id="a-dozen"),
        pytest.param("two dozen", [24], id="two-dozen"),
        pytest.param("one two three", [1, 2, 3], id="separate-words-stay-separate"),
        pytest.param("five, six", [5, 6], id="comma-separates"),
        pytest.param("a 5-year warranty", [5], id="hyphen-then-word"),
        pytest.param("the one I ordered, no one came, this one", [], id="pronoun-one"),
        pytest.param("order A12345 and 4G and the 2nd", [], id="inside-codes"),
        pytest.param("agent 007 in 02139", [], id="leading-zero-codes"),
        pytest.param("version 1.2.3", [], id="version"),
        pytest.param("pages 5-7 and 1/2", [], id="ranges-and-fractions"),
        pytest.param("card 4111111111111111", [], id="long-identifier"),
        pytest.param("the first time", [], id="ordinal-words"),
    ],
)
def test_system_numbers(text: str, expected: list[int | float]) -> None:
    numbers = values(text, "number")
    assert numbers == expected
    assert [type(number) for number in numbers] == [type(number) for number in expected]


def test_system_number_inside_other_kinds_is_not_a_number_even_when_they_are_not_used() -> None:
    numbers_only = SystemExtractor({"quantity": "number"})
    text = "2 items, $5, 12 March, 5pm, in 3 days, 415-555-2671, a1@x.com, example.com/7"
    assert found(text, numbers_only) == [("quantity", 2, "2")]


# -- money ---------------------------------------------------------------------------------------
def money(amount: float, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$50", [("$50", money(50.0, "USD"))], id="dollar-sign"),
        pytest.param("50 dollars", [("50 dollars", money(50.0, "USD"))], id="dollars-word"),
        pytest.param("€12.99", [("€12.99", money(12.99, "EUR"))], id="euro-sign"),
        pytest.param("12.99 EUR", [("12.99 EUR", money(12.99, "EUR"))], id="code-after"),
        pytest.param("£3", [("£3", money(3.0, "GBP"))], id="pound-sign"),
        pytest.param("50 bucks", [("50 bucks", money(50.0, "USD"))], id="bucks"),
        pytest.param("USD 20", [("USD 20", money(20.0, "USD"))], id="code-before"),
        pytest.param("20usd", [("20usd", money(20.0, "USD"))], id="attached-lower-case-code"),
        pytest.param("CHF 40", [("CHF 40", money(40.0, "CHF"))], id="franc-code"),
        pytest.param("A$20", [("A$20", money(20.0, "AUD"))], id="australian-dollar"),
        pytest.param("US$5", [("US$5", money(5.0, "USD"))], id="us-dollar"),
        pytest.param("5 quid", [("5 quid", money(5.0, "GBP"))], id="quid"),
        pytest.param("99 cents", [("99 cents", money(0.99, "USD"))], id="cents"),
        pytest.param("50p", [("50p", money(0.5, "GBP"))], id="pence-letter"),
        pytest.param("fifty dollars", [("fifty dollars", money(50.0, "USD"))], id="words-amount"),
        pytest.param("a hundred bucks", [("a hundred bucks", money(100.0, "USD"))], id="a-hundred"),
        pytest.param("$1.5 million", [("$1.5 million", money(1_500_000.0, "USD"))], id="scale"),
        pytest.param("$50 USD", [("$50 USD", money(50.0, "USD"))], id="symbol-and-code"),
        pytest.param("3 TRY", [("3 TRY", money(3.0, "TRY"))], id="upper-case-lira"),
        pytest.param("I try 3 try", [], id="lower-case-try-is-a-word"),
    ],
)
def test_system_money(text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    assert [(written, value) for kind, value, written in found(text) if kind == "money"] == expected


# -- date ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("today", "2026-11-21", id="today"),
        pytest.param("tonight", "2026-11-21", id="tonight"),
        pytest.param("tomorrow", "2026-11-22", id="tomorrow"),
        pytest.param("yesterday", "2026-11-20", id="yesterday"),
        pytest.param("the day after tomorrow", "2026-11-23", id="day-after-tomorrow"),
        pytest.param("the day before yesterday", "2026-11-19", id="day-before-yesterday"),
        pytest.param("next Friday", "2026-11-27", id="next-friday"),
        pytest.param("last Friday", "2026-11-20", id="last-friday"),
        pytest.param("this Friday", "2026-11-27", id="this-friday"),
        pytest.param("on Monday", "2026-11-23", id="on-monday"),
        pytest.param("Saturday", "2026-11-28", id="weekday-today-excluded"),
        pytest.param("this Saturday", "2026-11-21", id="this-weekday-today-included"),
        pytest.param("last Saturday", "2026-11-14", id="last-weekday-is-a-week-ago"),
        pytest.param("next Sunday", "2026-11-29", id="next-sunday-is-in-next-week"),
        pytest.param("on sat", "2026-11-28", id="abbreviation-after-on"),
        pytest.param("in 3 days", "2026-11-24", id="in-days"),
        pytest.param("in two weeks", "2026-12-05", id="in-word-weeks"),
        pytest.param("in a month", "2026-12-21", id="in-a-month"),
        pytest.param("in 3 months", "2027-02-21", id="in-months"),
        pytest.param("3 days ago", "2026-11-18", id="days-ago"),
        pytest.param("a couple of days ago", "2026-11-19", id="couple"),
        pytest.param("a week from now", "2026-11-28", id="from-now"),
        pytest.param("next week", "2026-11-23", id="next-week-monday"),
        pytest.param("last week", "2026-11-09", id="last-week-monday"),
        pytest.param("this week", "2026-11-16", id="this-week-monday"),
        pytest.param("next month", "2026-12-01", id="next-month"),
        pytest.param("next year", "2027-01-01", id="next-year"),
        pytest.param("12 March", "2026-03-12", id="day-month"),
        pytest.param("12th of March", "2026-03-12", id="day-of-month"),
        pytest.param("March 12th", "2026-03-12", id="month-day"),
        pytest.param("March 12, 2026", "2026-03-12", id="month-day-year"),
        pytest.param("5 Sept 2027", "2027-09-05", id="abbreviated-month-and-year"),
        pytest.param("Friday 12 March", "2026-03-12", id="weekday-and-date"),
        pytest.param("May 1st", "2026-05-01", id="capital-may"),
        pytest.param("2026-03-12", "2026-03-12", id="iso"),
        pytest.param("12/03/2026", "2026-12-03", id="slash-is-month-first"),
        pytest.param("25/12/2026", "2026-12-25", id="first-over-12-is-day"),
        pytest.param("12.03.2026", "2026-03-12", id="dots-are-day-first"),
        pytest.param("12/03/26", "2026-12-03", id="two-digit-year"),
        pytest.param("the 5th", "2026-11-05", id="day-of-this-month"),
    ],
)
def test_system_dates(text: str, expected: str) -> None:
    assert [(kind, value) for kind, value, _ in found(text)] == [("date", expected)]
    assert values(f"ship it {text}, thanks", "date") == [expected]


@pytest.mark.parametrize(
    ("text", "written"),
    [
        pytest.param("see you on Monday", "Monday", id="on-is-not-part-of-the-date"),
        pytest.param("by next Friday", "next Friday", id="next-is-part-of-the-date"),
        pytest.param("on the 5th", "the 5th", id="the-is-part-of-the-day"),
        pytest.param("Friday, 12 March 2026", "Friday, 12 March 2026", id="weekday-prefix"),
    ],
)
def test_system_date_spans(text: str, written: str) -> None:
    assert [w for kind, _, w in found(text) if kind == "date"] == [written]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("this Friday", "2026-11-27", id="this-friday"),
        pytest.param("next Friday", "2026-12-04", id="next-friday-is-next-weeks"),
        pytest.param("Friday", "2026-11-27", id="friday"),
        pytest.param("last Friday", "2026-11-20", id="last-friday"),
        pytest.param("Monday", "2026-11-30", id="today-excluded"),
        pytest.param("this Monday", "2026-11-23", id="today-included"),
        pytest.param("next week", "2026-11-30", id="next-week"),
    ],
)
def test_system_weekdays_seen_from_a_monday(text: str, expected: str) -> None:
    assert values(text, "date", now=MONDAY) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("12 may be late", id="lower-case-may-is-a-verb"),
        pytest.param("the sun and a wed cake", id="abbreviation-alone"),
        pytest.param("31/02/2026 or 13/13/2026", id="impossible-dates"),
        pytest.param("the 31st", id="day-this-month-lacks"),
        pytest.param("1/2 of it", id="fraction"),
        pytest.param("on Fridays", id="plural-weekday"),
        pytest.param("in March", id="month-alone"),
    ],
)
def test_system_not_dates(text: str) -> None:
    assert values(text, "date") == []


def test_system_month_offset_stops_at_the_shorter_months_end() -> None:
    assert values("in a month", "date", now=datetime(2026, 1, 31, 12, 0, tzinfo=LONDON)) == ["2026-02-28"]


def test_system_day_first_reads_slash_dates_as_day_month() -> None:
    extractor = SystemExtractor({"when": "date"}, day_first=True)
    assert found("12/03/2026", extractor) == [("when", "2026-03-12", "12/03/2026")]


def test_system_dates_count_from_the_time_zone_of_now() -> None:
    just_after_midnight_in_tokyo = datetime(2026, 11, 22, 0, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert values("today", "date", now=just_after_midnight_in_tokyo) == ["2026-11-22"]


# -- time ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected", "written"),
    [
        pytest.param("at 5pm", "17:00", "5pm", id="pm"),
        pytest.param("5:30 pm", "17:30", "5:30 pm", id="minutes-pm"),
        pytest.param("10.30am", "10:30", "10.30am", id="dot-am"),
        pytest.param("5 p.m.", "17:00", "5 p.m.", id="dotted-pm"),
        pytest.param("12am", "00:00", "12am", id="midnight-am"),
        pytest.param("12pm", "12:00", "12pm", id="noon-pm"),
        pytest.param("17:30", "17:30", "17:30", id="24-hour"),
        pytest.param("09:05:59", "09:05", "09:05:59", id="seconds-dropped"),
        pytest.param("at noon", "12:00", "noon", id="noon"),
        pytest.param("12 noon", "12:00", "12 noon", id="twelve-noon"),
        pytest.param("midnight", "00:00", "midnight", id="midnight"),
        pytest.param("in 2 hours", "12:00", "in 2 hours", id="in-hours"),
        pytest.param("in 45 mins", "10:45", "in 45 mins", id="in-minutes"),
        pytest.param("in half an hour", "10:30", "in half an hour", id="half-an-hour"),
        pytest.param("in an hour", "11:00", "in an hour", id="an-hour"),
        pytest.param("2 hours ago", "08:00", "2 hours ago", id="hours-ago"),
    ],
)
def test_system_times(text: str, expected: str, written: str) -> None:
    assert [(value, w) for kind, value, w in found(text) if kind == "time"] == [(expected, written)]


def test_system_time_offset_wraps_past_midnight() -> None:
    assert values("in 2 hours", "time", now=datetime(2026, 11, 21, 23, 30, tzinfo=LONDON)) == ["01:30"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("at 5", id="bare-hour"),
        pytest.param("13pm", id="hour-over-12"),
        pytest.param("25:00", id="no-such-hour"),
        pytest.param("I am here", id="am-without-digits"),
    ],
)
def test_system_not_times(text: str) -> None:
    assert values(text, "time") == []


def test_system_iso_date_and_time_together() -> None:
    assert found("at 2026-03-12T17:30") == [("date", "2026-03-12", "2026-03-12"), ("time", "17:30", "17:30")]


# -- email, phone, url ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "mail Jane.Doe@Example.com.", [("email", "jane.doe@example.com", "Jane.Doe@Example.com")]
        ),
        pytest.param("to info@shop.co.uk, thanks", [("email", "info@shop.co.uk", "info@shop.co.uk")]),
        pytest.param("ping @handle or a@b", []),
        pytest.param("call +44 20 7946 0958 now", [("phone", "+442079460958", "+44 20 7946 0958")]),
        pytest.param("my number is 415-555-2671", [("phone", "+14155552671", "415-555-2671")]),
        pytest.param("(415) 555 2671", [("phone", "+14155552671", "(415) 555 2671")]),
        pytest.param(
            "see https://example.com/x, ok", [("url", "https://example.com/x", "https://example.com/x")]
        ),
        pytest.param("go to www.Example.com.", [("url", "https://www.example.com", "www.Example.com")]),
        pytest.param("(example.com/path)", [("url", "https://example.com/path", "example.com/path")]),
        pytest.param(
            "http://Example.COM/Path?q=1",
            [("url", "http://example.com/Path?q=1", "http://Example.COM/Path?q=1")],
        ),
        pytest.param("node.js and file.txt and log.in", []),
    ],
)
def test_system_email_phone_url(text: str, expected: Found) -> None:
    assert found(text) == expected


def test_system_phone_region_reads_national_numbers() -> None:
    assert found("ring 020 7946 0958") == [("number", 7946, "7946")]  # not a US phone number
    british = SystemExtractor({"phone": "phone"}, default_region="GB")
    assert found("ring 020 7946 0958", british) == [("phone", "+442079460958", "020 7946 0958")]
    assert found("or +1 415 555 2671", british) == [("phone", "+14155552671", "+1 415 555 2671")]


def test_system_email_keeps_its_digits_from_numbers_and_urls() -> None:
    assert found("write to bob2000@example.com") == [("email", "bob2000@example.com", "bob2000@example.com")]


# -- the extractor as a whole --------------------------------------------------------------------
def test_system_a_realistic_message() -> None:
    text = "I paid $59.99 for 2 pairs last Friday, call me tomorrow at 5pm on 415-555-2671 or jo@x.com"
    assert found(text) == [
        ("money", money(59.99, "USD"), "$59.99"),
        ("number", 2, "2"),
        ("date", "2026-11-20", "last Friday"),
        ("date", "2026-11-22", "tomorrow"),
        ("time", "17:00", "5pm"),
        ("phone", "+14155552671", "415-555-2671"),
        ("email", "jo@x.com", "jo@x.com"),
    ]


def test_system_reports_under_every_entity_name_of_a_kind() -> None:
    extractor = SystemExtractor({"refund": "money", "price": "money", "when": "date"})
    matches = extractor.extract("refund $5 today", now=NOW)
    assert [(m.entity, m.value, m.text) for m in matches] == [
        ("price", money(5.0, "USD"), "$5"),
        ("refund", money(5.0, "USD"), "$5"),
        ("when", "2026-11-21", "today"),
    ]
    assert matches[0].value is not matches[1].value  # each match owns its value


def test_system_only_the_kinds_in_use_are_reported() -> None:
    assert found("today at 5pm for $5", SystemExtractor({"when": "time"})) == [("when", "17:00", "5pm")]
    assert SystemExtractor({}).extract("today", now=NOW) == []


def test_system_now_defaults_to_the_current_time() -> None:
    before = datetime.now().astimezone().date().isoformat()
    dates = [m.value for m in SystemExtractor({"d": "date"}).extract("today")]
    after = datetime.now().astimezone().date().isoformat()
    assert dates in ([before], [after])


@pytest.mark.parametrize(
    ("entities", "options", "fragment"),
    [
        pytest.param({"x": "colour"}, {}, "unknown system entity kind colour", id="unknown-kind"),
        pytest.param({"x": "phone"}, {"default_region": "XX"}, "unknown phone region", id="unknown-region"),
    ],
)
def test_system_rejects_unknown_kinds_and_regions(
    entities: dict[str, str], options: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        SystemExtractor(entities, **options)


def test_system_json_round_trip() -> None:
    extractor = SystemExtractor({"when": "date", "phone": "phone"}, default_region="GB", day_first=True)
    data = json.loads(json.dumps(extractor.to_json()))
    assert data == {"entities": {"when": "date", "phone": "phone"}, "default_region": "GB", "day_first": True}
    rebuilt = SystemExtractor.from_json(data)
    text = "12/03/2026 on 020 7946 0958"
    assert rebuilt.extract(text, now=NOW) == extractor.extract(text, now=NOW)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="no-entities"),
        pytest.param({"entities": {"x": 1}}, id="kind-not-text"),
        pytest.param({"entities": {}, "day_first": "yes"}, id="flag-not-bool"),
    ],
)
def test_system_from_json_rejects_other_shapes(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="system extractor"):
        SystemExtractor.from_json(data)


# -- messy input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("🙂🙂🙂", [], id="emoji-only"),
        pytest.param("\x00\x07\x1b[0m\r\n\t", [], id="control-characters"),
        pytest.param("\x00tomorrow\x07", [("date", "2026-11-22", "tomorrow")], id="control-around-a-date"),
        pytest.param(
            "Привет, 東京 ٣ 12 مرحبا", [("number", 3, "٣"), ("number", 12, "12")], id="mixed-scripts"
        ),
        pytest.param("５０ dollars", [("money", money(50.0, "USD"), "５０ dollars")], id="full-width-digits"),
    ],
)
def test_system_messy_input(text: str, expected: Found) -> None:
    assert found(text) == expected


def test_system_handles_a_100_kb_message() -> None:
    sentence = "On Friday I paid $20 for 3 items 🙂, call 415-555-2671 or see example.com/help. "
    text = (sentence * (100_000 // len(sentence) + 1))[:100_000]
    matches = ALL_KINDS.extract(text, now=NOW)
    assert_well_formed(text, matches)
    kinds = {m.entity for m in matches}
    assert kinds == {"date", "money", "number", "phone", "url"}
    assert sum(m.entity == "money" for m in matches) >= 100_000 // len(sentence)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1" * 100_000, id="one-long-number"),
        pytest.param("1/" * 25_000, id="slashes"),
        pytest.param("a" * 100_000 + "@", id="long-email-local-part"),
        pytest.param("http://" + "a" * 100_000, id="long-url"),
        pytest.param("twenty " * 7_000, id="many-number-words"),
    ],
)
def test_system_pathological_long_input_does_not_crash(text: str) -> None:
    assert_well_formed(text, ALL_KINDS.extract(text, now=NOW))
