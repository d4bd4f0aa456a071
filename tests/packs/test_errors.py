from __future__ import annotations

import re

from engine.packs.errors import CATALOGUE, Diagnostic, Severity, did_you_mean
from engine.packs.source import Location


def test_errors_codes_are_unique_well_formed_and_sorted() -> None:
    assert all(re.fullmatch(r"P\d{3}", code) for code in CATALOGUE)
    assert list(CATALOGUE) == sorted(CATALOGUE)
    assert all(problem.code == code for code, problem in CATALOGUE.items())


def test_errors_every_problem_says_how_to_fix_it() -> None:
    assert [code for code, problem in CATALOGUE.items() if not problem.fix.strip()] == []


def test_errors_diagnostic_is_an_exception_with_its_code() -> None:
    diagnostic = CATALOGUE["P212"](
        Location("a.yml", 3, 7), where="flow 'x'", name="ordr", hint="did you mean?"
    )
    assert isinstance(diagnostic, Exception)
    assert diagnostic.code == "P212" and diagnostic.severity is Severity.ERROR
    assert "ordr" in diagnostic.message


def test_errors_format_shows_place_source_line_caret_and_fix() -> None:
    diagnostic = Diagnostic(
        "P999", Severity.ERROR, "bad thing", "do this", Location("a.yml", 2, 5), "  ab: xyz"
    )
    assert diagnostic.format().splitlines() == [
        "a.yml:2:5: error P999: bad thing",
        "      ab: xyz",
        "        ^",
        "  fix: do this",
    ]


def test_errors_did_you_mean_suggests_or_lists() -> None:
    assert did_you_mean("order_idd", ["order_id", "email"]) == "did you mean 'order_id'?"
    assert did_you_mean("zzz", ["order_id", "email"]) == "known: email, order_id"
    assert did_you_mean("zzz", []) == "none are declared"
