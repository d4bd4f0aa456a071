"""The `parley evaluate` report: report.json as given, and a self-contained page analysts can read."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from engine.nlu.report import HEATMAP_LABEL_LIMIT, write_report

MALICIOUS = "<script>alert(1)</script>"


def _small_metrics() -> dict[str, Any]:
    """Three intents, one of them named like an attack, with every optional part filled in."""
    return {
        "pack": {"name": "retail", "version": "1.0.0"},
        "engine_version": "0.1.0",
        "created": "2026-11-21T10:00:00+00:00",
        "folds": 5,
        "seed": 42,
        "examples": 61,
        "intents": 3,
        "accuracy": 0.93,
        "macro_f1": 0.91,
        "ece": 0.04,
        "per_intent": {
            "cancel_order": {"precision": 0.8, "recall": 0.6, "f1": 0.686, "support": 20},
            "return_item": {"precision": 0.75, "recall": 0.9, "f1": 0.818, "support": 21},
            MALICIOUS: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 20},
        },
        "entities": {
            "precision": 0.9,
            "recall": 0.8,
            "f1": 0.85,
            "support": 120,
            "per_entity": {"order_id": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 40}},
        },
        "confused_pairs": [
            {"true": "return_item", "predicted": MALICIOUS, "count": 1, "examples": ["take it back"]},
            {
                "true": "cancel_order",
                "predicted": "return_item",
                "count": 3,
                "examples": ["I want to send it back", MALICIOUS],
            },
        ],
        "threshold": {"recommended": 0.42, "target_precision": 0.95, "precision": 0.951, "coverage": 0.88},
        "out_of_scope": {"examples": 48, "recall": 0.7, "precision": 0.8},
        "confusion": {
            "labels": ["cancel_order", "return_item", MALICIOUS, "out_of_scope"],
            "matrix": [[12, 3, 0, 5], [0, 19, 1, 1], [0, 0, 20, 0], [2, 0, 0, 46]],
        },
        "reliability": {
            "bins": [
                {"lower": 0.0, "upper": 0.5, "count": 3, "accuracy": 0.33, "confidence": 0.3},
                {"lower": 0.5, "upper": 1.0, "count": 58, "accuracy": 0.95, "confidence": 0.9},
            ]
        },
        "confidences": {"correct": [0.9, 0.95, 0.7], "incorrect": [0.4, 0.55], "out_of_scope": [0.2, 0.1]},
        "fail_under": {"metric": "accuracy", "value": 0.9, "passed": True},
    }


def _large_metrics() -> dict[str, Any]:
    """150 labels; pair k confuses label 3k with 3k+1, 40-k times, so the low labels confuse most."""
    labels = [f"intent_{index:03d}" for index in range(150)]
    matrix = [[10 if row == column else 0 for column in range(150)] for row in range(150)]
    for k in range(40):
        matrix[3 * k][3 * k + 1] = 40 - k
    metrics = _small_metrics()
    metrics.update(
        intents=150,
        per_intent={
            name: {"precision": 0.9, "recall": 0.8, "f1": 0.847, "support": 10 + index}
            for index, name in enumerate(labels)
        },
        confused_pairs=[
            {"true": labels[3 * k], "predicted": labels[3 * k + 1], "count": 40 - k, "examples": []}
            for k in range(40)
        ],
        confusion={"labels": labels, "matrix": matrix},
        fail_under={"metric": "macro_f1", "value": 0.95, "passed": False},
    )
    return metrics


def _empty_metrics() -> dict[str, Any]:
    """A pack without out-of-scope examples, entities, mistakes or quality bar: nothing to chart."""
    metrics = _small_metrics()
    metrics.update(
        per_intent={},
        entities={"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "per_entity": {}},
        confused_pairs=[],
        out_of_scope=None,
        confusion={"labels": [], "matrix": []},
        reliability={"bins": []},
        confidences={"correct": [], "incorrect": [], "out_of_scope": []},
        fail_under=None,
    )
    return metrics


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of the small metrics; rendered once, since drawing charts is the slow part."""
    return write_report(_small_metrics(), tmp_path_factory.mktemp("small"))


def _text(page: Path) -> str:
    """What a reader sees, outside the charts: no tags, entities decoded, whitespace collapsed."""
    markup = re.sub(r"<(style|svg)\b.*?</\1>", " ", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    text = " ".join(html.unescape(re.sub(r"<[^>]*>", " ", markup)).split())
    return re.sub(r" ([,.:;])", r"\1", text)


def _heatmap_labels(page: Path) -> set[str]:
    """The intent names drawn in the confusion heatmap (matplotlib notes each text in a comment)."""
    heatmap = re.search(
        r'<figure id="chart-confusion">.*?</figure>', page.read_text(encoding="utf-8"), re.DOTALL
    )
    assert heatmap is not None
    return set(re.findall(r"<!-- (intent_\d{3}) -->", heatmap.group()))


def test_report_json_round_trips_to_the_metrics(small: Path) -> None:
    assert small == small.parent / "index.html"
    assert json.loads((small.parent / "report.json").read_text(encoding="utf-8")) == _small_metrics()


def test_report_page_is_one_file_with_three_charts(small: Path) -> None:
    page = small.read_text(encoding="utf-8")
    assert page.count("<svg") == 3
    assert "<?xml" not in page and "<script" not in page and " src=" not in page
    # The only addresses are the SVG namespace declarations, which browsers never fetch.
    assert "://" not in re.sub(r'xmlns(:xlink)?="[^"]*"', "", page)
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "each chart's ids must be unique in the page"


def test_report_headline_shows_the_numbers_as_formatted(small: Path) -> None:
    text = _text(small)
    for headline in [
        "retail 1.0.0",
        "5-fold cross-validation · 61 examples · 3 intents · seed 42 · Parley 0.1.0 · 2026-11-21 10:00 UTC",
        "Passed: accuracy must be at least 90.0% and is 93.0%.",
        "Accuracy 93.0%",
        "Macro-F1 91.0%",
        "Calibration error (ECE) 4.0%",
        "Entity F1 85.0%",
        "Threshold 0.42",
        "Out-of-scope recall 70.0%",
        "Out-of-scope precision 80.0%",
        "With a threshold of 0.42, 95% of the answers the assistant gives are right "
        "and it answers 88% of messages",
        "This threshold reaches the target precision of 95%.",
    ]:
        assert headline in text


def test_report_says_what_to_fix_first_in_plain_words(small: Path) -> None:
    text = _text(small)
    # Most frequent confusion first, with its examples; the weakest intent first.
    assert (
        f"cancel_order is mistaken for return_item 3 times, e.g.: “I want to send it back” “{MALICIOUS}”"
        in text
    )
    assert f"return_item is mistaken for {MALICIOUS} once, e.g.: “take it back”" in text
    assert text.index("cancel_order is mistaken") < text.index("return_item is mistaken")
    assert "cancel_order scores F1 68.6% on 20 examples: it is often missed; only 60% of its messages" in text
    assert "return_item scores F1 81.8% on 21 examples: other messages are often taken for it" in text
    weakest = text[text.index("Weakest intents") : text.index("Recall: share")]
    assert MALICIOUS not in weakest, "an intent with F1 100% has nothing to fix"


def test_report_tables_list_weakest_first(small: Path) -> None:
    text = _text(small)
    assert text.index("cancel_order 68.6% 80.0% 60.0% 20") < text.index("return_item 81.8% 75.0% 90.0% 21")
    assert text.index("return_item 81.8%") < text.index(f"{MALICIOUS} 100.0% 100.0% 100.0% 20")
    assert "order_id 100.0% 100.0% 100.0% 40" in text


def test_report_escapes_text_from_the_pack(small: Path) -> None:
    page = small.read_text(encoding="utf-8")
    assert MALICIOUS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_report_is_byte_identical_when_written_again(small: Path, tmp_path: Path) -> None:
    again = write_report(_small_metrics(), tmp_path)
    assert again.read_bytes() == small.read_bytes()
    assert (tmp_path / "report.json").read_bytes() == (small.parent / "report.json").read_bytes()


def test_report_without_optional_parts(tmp_path: Path) -> None:
    page = write_report(_empty_metrics(), tmp_path)
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["out_of_scope"] is None
    assert "<svg" not in page.read_text(encoding="utf-8")
    text = _text(page)
    for sentence in [
        "The pack has no out_of_scope examples",
        "No intent was mistaken for another.",
        "Every intent with examples scores F1 100.0%.",
        "No intents were evaluated.",
        "Entity F1 – no example marks an entity",
        "No predictions to show.",
        "No confidences to show.",
    ]:
        assert sentence in text
    assert "Passed" not in text and "Failed" not in text and "Out-of-scope recall" not in text


def test_report_heatmap_keeps_the_most_confused_labels(tmp_path: Path) -> None:
    page = write_report(_large_metrics(), tmp_path)
    # Pairs 0..11 have 40..29 mistakes (24 labels); pair 12 ties at 28 and its first label wins.
    expected = {f"intent_{3 * k + side:03d}" for k in range(12) for side in (0, 1)} | {"intent_036"}
    assert len(expected) == HEATMAP_LABEL_LIMIT
    assert _heatmap_labels(page) == expected
    text = _text(page)
    assert "Showing the 25 of 150 labels involved in the most confusions" in text
    assert "intent_149 84.7%" in text, "the table still lists every intent"
    assert "Failed: macro-F1 must be at least 95.0% and is 91.0%." in text


def test_report_heatmap_shows_every_label_when_there_are_few(small: Path) -> None:
    assert "Showing the" not in _text(small)
    heatmap = re.search(
        r'<figure id="chart-confusion">.*?</figure>', small.read_text(encoding="utf-8"), re.DOTALL
    )
    assert heatmap is not None
    assert "<!-- out_of_scope -->" in heatmap.group()
    assert "<!-- &lt;script&gt;alert(1)&lt;/script&gt; -->" in heatmap.group()
