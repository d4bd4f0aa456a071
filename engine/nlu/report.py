"""The report of `parley evaluate`: cross-validation metrics as a page a pack author can act on.

`write_report` writes two files into a folder:

- `report.json`: the metrics exactly as computed, for scripts and for comparing two runs;
- `index.html`: one self-contained page (inline CSS, charts as inline SVG, no scripts, no links
  out) that opens from disk or as a mail attachment and reads without knowing any Python.

The page leads with the numbers that say whether the pack is good enough, then says what to fix
first in the pack's own words (intent names and example messages), then gives the full tables and
three charts. The template escapes every string that comes from the pack; the only markup passed
through unescaped is the SVG that matplotlib writes, which escapes text itself.

Charts are drawn with matplotlib's object-oriented `Figure` API: no pyplot, so no GUI backend and
no global list of open figures. They are saved as SVG with a fixed hash salt and without a date,
so the same metrics always give the same bytes.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import matplotlib
import numpy as np
from markupsafe import Markup
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from engine.nlu.types import OUT_OF_SCOPE

#: Most labels the confusion heatmap shows. With more, cells and names get too small to read, so
#: the heatmap keeps the labels involved in the most confusions and the page says so.
HEATMAP_LABEL_LIMIT = 25

#: How many confused pairs and weak intents "What to fix first" lists.
FIX_FIRST_COUNT = 5

#: Example messages quoted for each confused pair.
EXAMPLES_PER_PAIR = 3

#: A score (F1) under the first is shown in red, under the second in amber, else in green.
F1_POOR, F1_FAIR = 0.7, 0.9

# Readable names of the metrics a quality bar (`fail_under`) can be set on.
_METRIC_NAMES = {
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "entities.f1": "entity F1",
    "entities.precision": "entity precision",
    "entities.recall": "entity recall",
    "out_of_scope.recall": "out-of-scope recall",
    "out_of_scope.precision": "out-of-scope precision",
    "threshold.coverage": "share of messages answered",
}

_RIGHT, _WRONG, _OUT_OF_SCOPE, _ACCENT, _INK = "#2b8a3e", "#c92a2a", "#868e96", "#1c7ed6", "#212529"

# A fixed salt makes matplotlib's clip-path ids hashes of the content instead of random; glyphs
# drawn as paths make the charts look the same whatever fonts the reader's machine has.
_SVG_SETTINGS: dict[RcKeyType, Any] = {"svg.hashsalt": "parley-report", "svg.fonttype": "path"}

# A tag or a comment of matplotlib's SVG. Text and attribute values there have < and > escaped,
# so a tag ends at the first >.
_SVG_TAG = re.compile(r"<[^<>]*>")
_SVG_ID_OR_REFERENCE = re.compile(r'(\sid="|href="#|url\(#)')


def write_report(metrics: Mapping[str, Any], folder: Path) -> Path:
    """Write folder/report.json (the metrics, as given, pretty-printed) and folder/index.html.

    Returns the path of index.html, the page to open. The folder is created if missing and both
    files are overwritten; the same metrics always give byte-identical files.

    `metrics` is what the cross-validation of `parley evaluate` computes; every key is present,
    lists may be empty, rates are floats from 0 to 1:

    - run: `pack` ({name, version}), `engine_version`, `created` (ISO time), `folds`, `seed`,
      `examples`, `intents`;
    - headline: `accuracy`, `macro_f1`, `ece`; `threshold` ({recommended, target_precision,
      precision, coverage} of the auto choice, and optionally {used, used_precision,
      used_coverage} of the threshold in use); `out_of_scope` ({examples, recall, precision}, or
      None when the pack has no out-of-scope examples); `fail_under` ({metric, value, passed}, or None);
    - tables: `per_intent` ({intent: {precision, recall, f1, support}}); `entities` (the same four
      numbers overall, plus `per_entity` by entity name);
    - mistakes: `confused_pairs` ([{true, predicted, count, examples}]); `confusion` ({labels,
      matrix}, rows are the true label, columns the predicted one);
    - confidence: `reliability` ({bins: [{lower, upper, count, accuracy, confidence}]});
      `confidences` ({correct, incorrect, out_of_scope}: the top confidence of each test message).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(
        json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    page = folder / "index.html"
    page.write_text(_render_page(metrics), encoding="utf-8")
    return page


# ---------------------------------------------------------------------------------------------
# What the page shows, prepared for the template


@dataclass(frozen=True)
class _Score:
    """One row of the intent or entity table."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class _Heatmap:
    """The confusion heatmap and how many of the labels it shows."""

    svg: Markup
    shown: int
    total: int


def _render_page(metrics: Mapping[str, Any]) -> str:
    """The HTML page: numbers are formatted by the template's filters, charts are drawn here."""
    intents = _scores(metrics["per_intent"])
    entities = metrics["entities"]
    confidences = metrics["confidences"]
    gate = metrics["fail_under"]
    return _TEMPLATE.render(
        m=metrics,
        created=_readable_time(metrics["created"]),
        gate=gate,
        gate_actual=_lookup(metrics, gate["metric"]) if gate else None,
        oos=metrics["out_of_scope"],
        OUT_OF_SCOPE=OUT_OF_SCOPE,
        pairs=_top_pairs(metrics["confused_pairs"]),
        pair_total=len(metrics["confused_pairs"]),
        weakest=_weakest(intents),
        intents=intents,
        entity_rows=_scores(entities["per_entity"]),
        heatmap=_heatmap(metrics["confusion"]["labels"], metrics["confusion"]["matrix"]),
        reliability=_reliability_chart(metrics["reliability"]["bins"]),
        histogram=_confidence_chart(
            confidences["correct"],
            confidences["incorrect"],
            confidences["out_of_scope"],
            metrics["threshold"].get("used", metrics["threshold"]["recommended"]),
        ),
    )


def _scores(table: Mapping[str, Mapping[str, Any]]) -> list[_Score]:
    """The rows of a per-intent or per-entity table, weakest (lowest F1) first, then by name."""
    rows = [
        _Score(name, row["precision"], row["recall"], row["f1"], row["support"])
        for name, row in table.items()
    ]
    return sorted(rows, key=lambda row: (row.f1, row.name))


def _weakest(intents: list[_Score]) -> list[_Score]:
    """The intents to improve first: lowest F1 first, leaving out perfect ones and those never tested."""
    weak = [row for row in intents if row.f1 < 1 and row.support > 0 and row.name != OUT_OF_SCOPE]
    return weak[:FIX_FIRST_COUNT]


def _top_pairs(pairs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The most frequent confusions, most first; ties in the order of the names."""
    ranked = sorted(pairs, key=lambda pair: (-pair["count"], pair["true"], pair["predicted"]))
    return ranked[:FIX_FIRST_COUNT]


def _lookup(metrics: Mapping[str, Any], name: str) -> float | None:
    """The value of a metric named like `accuracy` or `entities.f1`, or None if there is no such number."""
    value: Any = metrics
    for key in name.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _readable_time(created: str) -> str:
    """An ISO timestamp as `2026-11-21 10:00 UTC`; anything else unchanged."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return created
    zone = moment.tzname()
    return moment.strftime("%Y-%m-%d %H:%M") + (f" {zone}" if zone else "")


# ---------------------------------------------------------------------------------------------
# Formatting, used by the template as filters so that every number is written one way


def _percent(value: float, digits: int = 1) -> str:
    """0.931 -> `93.1%`; with digits=0, `93%`."""
    return f"{value * 100:.{digits}f}%"


def _times(count: int) -> str:
    """1 -> `once`, 2 -> `twice`, 3 -> `3 times`."""
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _metric_name(name: str) -> str:
    """How the page names a metric of `fail_under`: `macro_f1` -> `macro-F1`."""
    return _METRIC_NAMES.get(name, name)


def _grade(f1: float) -> str:
    """The CSS class that colours a score: `poor`, `fair` or `good`."""
    return "poor" if f1 < F1_POOR else "fair" if f1 < F1_FAIR else "good"


# ---------------------------------------------------------------------------------------------
# Charts


def _heatmap(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> _Heatmap | None:
    """The confusion heatmap, limited to HEATMAP_LABEL_LIMIT labels; None without labels.

    Each cell is coloured by the share of the true intent's messages that went to the predicted
    one, computed over all labels, so colours mean the same whether or not labels are left out.
    """
    if not labels:
        return None
    counts = np.asarray(matrix, dtype=np.int64).reshape(len(labels), len(labels))
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    keep = _most_confused(counts, HEATMAP_LABEL_LIMIT)
    figure = _confusion_figure(
        [labels[index] for index in keep], counts[np.ix_(keep, keep)], shares[np.ix_(keep, keep)]
    )
    return _Heatmap(_svg(figure, "confusion"), len(keep), len(labels))


def _most_confused(counts: np.ndarray[Any, np.dtype[np.int64]], limit: int) -> list[int]:
    """Indices of the `limit` labels with the most confusions, in their original order.

    A label's confusions are the mistakes in its row (its messages taken for another label) plus
    those in its column (other messages taken for it). Ties keep the earlier label.
    """
    mistakes = (counts.sum(axis=0) + counts.sum(axis=1) - 2 * np.diag(counts)).tolist()
    ranked = sorted(range(len(mistakes)), key=lambda index: (-mistakes[index], index))
    return sorted(ranked[:limit])


def _confusion_figure(
    labels: list[str],
    counts: np.ndarray[Any, np.dtype[np.int64]],
    shares: np.ndarray[Any, np.dtype[np.float64]],
) -> Figure:
    """True labels down, predicted labels across: right answers in blue, mistakes in red.

    The darker a cell, the larger the share of its row; even a small share keeps a visible tint
    (the colour scale starts below 0), so no mistake looks like an empty cell.
    """
    size = len(labels)
    side = 2.0 + 0.3 * size
    figure = Figure(figsize=(side, side))
    axes = figure.add_subplot()
    right = np.eye(size, dtype=bool)
    for mask, colours in ((~right | (counts == 0), "Blues"), (right | (counts == 0), "Reds")):
        cells = np.ma.masked_array(shares, mask=mask)
        axes.pcolormesh(cells, cmap=colours, vmin=-0.2, vmax=1, edgecolors="white", linewidth=0.5)
    axes.set_xlim(0, size)
    axes.set_ylim(size, 0)
    axes.set_aspect("equal")
    ticks = np.arange(size) + 0.5
    axes.set_xticks(ticks, labels, rotation=90, fontsize=8, parse_math=False)
    axes.set_yticks(ticks, labels, fontsize=8, parse_math=False)
    axes.tick_params(length=0)
    axes.set_xlabel("recognised as")
    axes.set_ylabel("the customer meant")
    for row, column in zip(*np.nonzero(counts), strict=True):
        axes.text(
            column + 0.5,
            row + 0.5,
            str(counts[row, column]),
            ha="center",
            va="center",
            fontsize=7,
            fontweight="normal" if row == column else "bold",
            color="white" if shares[row, column] > 0.5 else _INK,
        )
    return figure


def _reliability_chart(bins: Sequence[Mapping[str, Any]]) -> Markup | None:
    """How often the assistant is right at each confidence level, and how many messages each level has.

    Bars on the diagonal mean a confidence of 0.8 is right 80% of the time. Empty bins are left
    out; None when no bin has messages.
    """
    filled = [entry for entry in bins if entry["count"] > 0]
    if not filled:
        return None
    lefts = [entry["lower"] for entry in filled]
    widths = [entry["upper"] - entry["lower"] for entry in filled]
    figure = Figure(figsize=(6.0, 5.0))
    grid = figure.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.08)
    top = figure.add_subplot(grid[0])
    bottom = figure.add_subplot(grid[1], sharex=top)
    top.bar(
        lefts,
        [entry["accuracy"] for entry in filled],
        width=widths,
        align="edge",
        color=_ACCENT,
        edgecolor="white",
        label="share of answers that were right",
    )
    top.plot([0, 1], [0, 1], linestyle="--", color=_INK, linewidth=1, label="perfectly calibrated")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("share right")
    top.legend(loc="upper left", fontsize=8, frameon=False)
    top.tick_params(labelbottom=False)
    counts = bottom.bar(
        lefts, [entry["count"] for entry in filled], width=widths, align="edge", color=_OUT_OF_SCOPE
    )
    bottom.bar_label(counts, fontsize=7, padding=1)
    bottom.set_ylim(0, max(entry["count"] for entry in filled) * 1.3)
    bottom.set_ylabel("messages")
    bottom.set_xlabel("confidence")
    return _svg(figure, "reliability")


def _confidence_chart(
    correct: Sequence[float], incorrect: Sequence[float], out_of_scope: Sequence[float], threshold: float
) -> Markup | None:
    """Overlaid histograms of the top confidence of right, wrong and out-of-scope messages.

    The dashed line is the threshold in use: messages left of it get the fallback. None when
    there are no confidences at all.
    """
    series = [
        ("intent right", correct, _RIGHT),
        ("intent wrong", incorrect, _WRONG),
        ("out-of-scope messages", out_of_scope, _OUT_OF_SCOPE),
    ]
    if not any(values for _, values, _ in series):
        return None
    figure = Figure(figsize=(6.0, 3.6))
    axes = figure.add_subplot()
    edges = np.linspace(0, 1, 21).tolist()
    for label, values, colour in series:
        if values:
            axes.hist(
                values,
                bins=edges,
                histtype="stepfilled",
                facecolor=to_rgba(colour, 0.25),
                edgecolor=colour,
                linewidth=1.2,
                label=f"{label} ({len(values)})",
            )
    axes.axvline(threshold, color=_INK, linestyle="--", linewidth=1, label=f"threshold {threshold:.2f}")
    axes.set_xlim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("messages")
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    return _svg(figure, "confidences")


def _svg(figure: Figure, name: str) -> Markup:
    """The figure as an `<svg>` element to put inside the page, ids prefixed with `name`.

    The XML prolog is dropped (it is not allowed inside HTML), and so is matplotlib's metadata
    block: it would hold the date of the run and links to vocabularies the page does not need.
    """
    buffer = io.StringIO()
    with matplotlib.rc_context(_SVG_SETTINGS):
        figure.savefig(
            buffer,
            format="svg",
            bbox_inches="tight",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    text = buffer.getvalue()
    return Markup(_prefix_ids(text[text.index("<svg") :], name))


def _prefix_ids(svg: str, prefix: str) -> str:
    """Prefix every id in the SVG, and every reference to one, with `prefix-`.

    Three charts share one page, and matplotlib names groups `figure_1`, `axes_1` ... in each, so
    without a prefix the page would hold the same id several times. Only tags are rewritten, so
    the text of a label can never be taken for an id.
    """
    return _SVG_TAG.sub(lambda tag: _SVG_ID_OR_REFERENCE.sub(rf"\g<1>{prefix}-", tag.group()), svg)


# ---------------------------------------------------------------------------------------------
# The page

_PAGE = """\
{% macro score_table(what, count, rows) -%}
<table>
  <thead><tr><th>{{ what }}</th><th>F1</th><th class="number">Precision</th><th class="number">Recall</th>
    <th class="number">{{ count }}</th></tr></thead>
  <tbody>
  {% for row in rows %}
  <tr class="{{ row.f1 | grade }}"><td><span class="name">{{ row.name }}</span></td>
    <td class="f1"><span class="bar"><span style="width: {{ '%.1f' | format(row.f1 * 100) }}%"></span></span>
      {{- row.f1 | percent }}</td>
    <td class="number">{{ row.precision | percent }}</td><td class="number">{{ row.recall | percent }}</td>
    <td class="number">{{ row.support }}</td></tr>
  {% endfor %}
  </tbody>
</table>
{%- endmacro %}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ m.pack.name }} {{ m.pack.version }} · evaluation report</title>
<style>
  :root { --ink: #212529; --muted: #6c757d; --line: #dee2e6; --soft: #f8f9fa;
          --good: #2b8a3e; --fair: #e67700; --poor: #c92a2a; --accent: #1c7ed6; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         color: var(--ink); background: #fff; }
  main { max-width: 1100px; margin: 0 auto; padding: 32px 24px 64px; }
  h1 { margin: 0; font-size: 30px; } h1 small { color: var(--muted); font-weight: normal; }
  h2 { margin: 48px 0 8px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
  h3 { margin: 24px 0 8px; }
  .eyebrow { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: .08em;
             font-size: 12px; }
  .run, .note, figcaption { color: var(--muted); }
  nav a { color: var(--accent); margin-right: 16px; }
  .verdict { margin: 20px 0; padding: 12px 16px; border-radius: 6px; font-weight: 600; }
  .verdict.passed { background: #ebfbee; color: var(--good); border: 1px solid #b2f2bb; }
  .verdict.failed { background: #fff5f5; color: var(--poor); border: 1px solid #ffc9c9; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px;
           margin: 24px 0; }
  .card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: var(--soft); }
  .card .value { font-size: 28px; font-weight: 700; }
  .card .label { font-weight: 600; }
  .card p { margin: 4px 0 0; color: var(--muted); font-size: 13px; }
  .lead { font-size: 17px; max-width: 60em; }
  ol.fix li { margin-bottom: 12px; }
  .examples { margin: 4px 0 0; padding-left: 20px; color: var(--muted); }
  .name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 14px;
          background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; }
  table { border-collapse: collapse; width: 100%; margin: 8px 0; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
  th { background: var(--soft); font-size: 13px; }
  td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
  .bar { display: inline-block; width: 80px; height: 8px; background: var(--line); border-radius: 4px;
         vertical-align: middle; margin-right: 8px; overflow: hidden; }
  .bar span { display: block; height: 100%; }
  .good .bar span { background: var(--good); } .fair .bar span { background: var(--fair); }
  .poor .bar span { background: var(--poor); }
  tr.poor td.f1 { color: var(--poor); font-weight: 600; } tr.fair td.f1 { color: var(--fair); }
  figure { margin: 32px 0; }
  figure svg { display: block; max-width: 100%; height: auto; }
  figcaption { max-width: 60em; margin-top: 8px; }
  footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
</style>
</head>
<body>
<main>
<header>
  <p class="eyebrow">Parley evaluation report</p>
  <h1>{{ m.pack.name }} <small>{{ m.pack.version }}</small></h1>
  <p class="run">{{ m.folds }}-fold cross-validation · {{ m.examples }} examples · {{ m.intents }} intents
    · seed {{ m.seed }} · Parley {{ m.engine_version }} · {{ created }}</p>
  <nav><a href="#fix">What to fix first</a><a href="#intents">Intents</a><a href="#entities">Entities</a>
    <a href="#charts">Charts</a></nav>
</header>
{% if gate %}
<p class="verdict {{ 'passed' if gate.passed else 'failed' }}">
  {{ 'Passed' if gate.passed else 'Failed' }}: {{ gate.metric | metric }} must be at least
  {{ gate.value | percent }}
  {%- if gate_actual is not none %} and is {{ gate_actual | percent }}{% endif %}.
</p>
{% endif %}

<p class="lead">Every example of the pack was tested with a model trained without it, so these numbers
  predict how the assistant does on messages it has never seen.</p>

<section class="cards">
  <div class="card"><div class="label">Accuracy</div><div class="value">{{ m.accuracy | percent }}</div>
    <p>of messages get the right intent.</p></div>
  <div class="card"><div class="label">Macro-F1</div><div class="value">{{ m.macro_f1 | percent }}</div>
    <p>the average score of the intents; small intents count as much as big ones.</p></div>
  <div class="card"><div class="label">Calibration error (ECE)</div>
    <div class="value">{{ m.ece | percent }}</div>
    <p>how far confidence is from the real share of right answers, on average. Lower is better.</p></div>
  <div class="card"><div class="label">Entity F1</div>
    {% if m.entities.support %}
    <div class="value">{{ m.entities.f1 | percent }}</div>
    <p>how well the {{ m.entities.support }} marked entity values are found, with the right name and text.</p>
    {% else %}
    <div class="value">–</div><p>no example marks an entity, so entities were not measured.</p>
    {% endif %}</div>
  {% set used = m.threshold.used if m.threshold.used is defined else m.threshold.recommended %}
  <div class="card"><div class="label">Threshold</div>
    <div class="value">{{ '%.2f' | format(used) }}</div>
    <p>messages with a lower confidence get the fallback response.
    {%- if used != m.threshold.recommended %} The pack sets it; <span class="name">auto</span> would
    choose {{ '%.2f' | format(m.threshold.recommended) }}.{% endif %}</p></div>
  {% if oos %}
  <div class="card"><div class="label">Out-of-scope recall</div>
    <div class="value">{{ oos.recall | percent }}</div>
    <p>of out-of-scope messages are recognised as such.</p></div>
  <div class="card"><div class="label">Out-of-scope precision</div>
    <div class="value">{{ oos.precision | percent }}</div>
    <p>of messages declared out of scope really are.</p></div>
  {% endif %}
</section>

{% if used != m.threshold.recommended and m.threshold.used_precision is defined %}
<p class="lead">With the pack's threshold of {{ '%.2f' | format(used) }},
  {{ m.threshold.used_precision | percent(0) }} of the answers the assistant gives are right and it answers
  {{ m.threshold.used_coverage | percent(0) }} of messages; the others get the fallback response.
  With <span class="name">settings.fallback.threshold: auto</span> it would be
  {{ '%.2f' | format(m.threshold.recommended) }}: {{ m.threshold.precision | percent(0) }} right,
  {{ m.threshold.coverage | percent(0) }} answered, for a target precision of
  {{ m.threshold.target_precision | percent(0) }}.</p>
{% else %}
<p class="lead">With a threshold of {{ '%.2f' | format(m.threshold.recommended) }},
  {{ m.threshold.precision | percent(0) }} of the answers the assistant gives are right and it answers
  {{ m.threshold.coverage | percent(0) }} of messages; the others get the fallback response.
  {% if m.threshold.precision >= m.threshold.target_precision %}
  This threshold reaches the target precision of {{ m.threshold.target_precision | percent(0) }}.
  {% else %}
  No threshold reaches the target precision of {{ m.threshold.target_precision | percent(0) }}; this one
  comes closest. More and clearer examples raise it.
  {% endif %}
  It is the threshold that <span class="name">settings.fallback.threshold: auto</span> chooses.</p>
{% endif %}
{% if oos %}
<p class="lead">Of the {{ oos.examples }} out-of-scope examples, {{ oos.recall | percent(0) }} are recognised
  as out of scope, and {{ oos.precision | percent(0) }} of the messages the assistant declares out of scope
  really are.</p>
{% else %}
<p class="lead">The pack has no <span class="name">out_of_scope</span> examples, so how well the
  assistant recognises messages it should not answer was not measured. Add some, such as small talk or
  questions about other businesses.</p>
{% endif %}

<section id="fix">
<h2>What to fix first</h2>
<h3>Intents that get mixed up</h3>
{% if pairs %}
<ol class="fix">
  {% for pair in pairs %}
  <li>
    {% if pair.predicted == OUT_OF_SCOPE %}
    <span class="name">{{ pair.true }}</span> is not understood (taken as out of scope)
    {{ pair.count | times }}
    {%- elif pair.true == OUT_OF_SCOPE %}
    Out-of-scope messages are answered as <span class="name">{{ pair.predicted }}</span>
    {{ pair.count | times }}
    {%- else %}
    <span class="name">{{ pair.true }}</span> is mistaken for <span class="name">{{ pair.predicted }}</span>
    {{ pair.count | times }}
    {%- endif %}
    {%- if pair.examples %}, e.g.:
    <ul class="examples">
      {% for text in pair.examples[:EXAMPLES_PER_PAIR] %}<li>“{{ text }}”</li>{% endfor %}
    </ul>
    {% else %}.{% endif %}
  </li>
  {% endfor %}
</ol>
<p class="note">Make the examples of the two intents more distinct, move examples that sit in the wrong
  intent, or merge the intents if customers cannot tell them apart either.
  {% if pair_total > pairs | length %}{{ pair_total - pairs | length }} more pairs are in the confusion
  matrix below.{% endif %}</p>
{% else %}
<p>No intent was mistaken for another.</p>
{% endif %}

<h3>Weakest intents</h3>
{% if weakest %}
<ol class="fix">
  {% for row in weakest %}
  <li><span class="name">{{ row.name }}</span> scores F1 {{ row.f1 | percent }} on {{ row.support }} examples:
    {% if row.recall < row.precision %}
    it is often missed; only {{ row.recall | percent(0) }} of its messages are recognised. Add more varied
    ways customers say it.
    {% elif row.precision < row.recall %}
    other messages are often taken for it; only {{ row.precision | percent(0) }} of the messages recognised
    as it really are. Make its examples more specific.
    {% else %}
    it is missed ({{ row.recall | percent(0) }} recognised) as often as other messages are taken for it.
    {% endif %}
  </li>
  {% endfor %}
</ol>
{% else %}
<p>Every intent with examples scores F1 {{ 1 | percent }}.</p>
{% endif %}
</section>

<section id="intents">
<h2>Intents</h2>
<p class="note"><b>Recall</b>: share of the intent's messages that are recognised as it.
  <b>Precision</b>: share of the messages recognised as the intent that really are it.
  <b>F1</b> combines both. Weakest first.</p>
{% if intents %}
{{ score_table("Intent", "Examples", intents) }}
{% else %}
<p>No intents were evaluated.</p>
{% endif %}
</section>

<section id="entities">
<h2>Entities</h2>
{% if m.entities.support %}
<p>Of {{ m.entities.support }} marked entity values, {{ m.entities.recall | percent }} are found, and
  {{ m.entities.precision | percent }} of the values found are right (F1 {{ m.entities.f1 | percent }}).</p>
{% endif %}
{% if entity_rows %}
{{ score_table("Entity", "Values", entity_rows) }}
{% else %}
<p>No entity values are marked in the examples.</p>
{% endif %}
</section>

<section id="charts">
<h2>Charts</h2>
<figure id="chart-confusion">
  <h3>Confusion matrix</h3>
  {% if heatmap %}
  {{ heatmap.svg }}
  <figcaption>Each row is what the customer meant, each column what the assistant recognised.
    Blue cells on the diagonal are right answers, red cells are mistakes; the darker a cell, the larger
    its share of the row's messages.
    {% if heatmap.shown < heatmap.total %}
    <b>Showing the {{ heatmap.shown }} of {{ heatmap.total }} labels involved in the most confusions</b>;
    the other labels' rows and columns are left out, so a row may not add up to its total.
    {% endif %}</figcaption>
  {% else %}
  <p>No predictions to show.</p>
  {% endif %}
</figure>
<figure id="chart-reliability">
  <h3>Reliability</h3>
  {% if reliability %}
  {{ reliability }}
  <figcaption>Messages grouped by the assistant's confidence. When the bars follow the dashed diagonal,
    confidence can be trusted: answers given with 80% confidence are right 80% of the time. Bars below
    the line mean the assistant is overconfident. The lower chart counts the messages in each group.
  </figcaption>
  {% else %}
  <p>No confidences to show.</p>
  {% endif %}
</figure>
<figure id="chart-confidences">
  <h3>Confidence</h3>
  {% if histogram %}
  {{ histogram }}
  <figcaption>The confidence of the best intent for every test message. Right answers should sit right
    of the dashed threshold line; wrong answers and out-of-scope messages left of it, where they get the
    fallback response.</figcaption>
  {% else %}
  <p>No confidences to show.</p>
  {% endif %}
</figure>
</section>

<footer>All numbers are in <span class="name">report.json</span> next to this page.
  {{ m.pack.name }} {{ m.pack.version }} · Parley {{ m.engine_version }} · {{ created }}</footer>
</main>
</body>
</html>
"""


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters.update(percent=_percent, times=_times, grade=_grade, metric=_metric_name)
    environment.globals.update(EXAMPLES_PER_PAIR=EXAMPLES_PER_PAIR)
    return environment


_TEMPLATE = _environment().from_string(_PAGE)
