"""Public NLU datasets turned into packs, so benchmarks train through the same path as `parley train`.

- CLINC150 (`data_full.json`): 150 intents x 100 training queries, its 100 out-of-scope training
  queries as the pack's `out_of_scope` examples; val/test splits for scoring.
- SNIPS 2017: 7 intents, `train_<Intent>_full.json` (about 2,000 queries each) with their
  entity annotations as learned entities; the 700 `validate_<Intent>.json` queries for scoring.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import datasets_dir

REPAIR_OFF = ["settings:", "  repair:"] + [
    f"    {key}: false"
    for key in ("cancel", "restart", "repeat", "help", "human", "digression", "clarification")
]


def escape(text: str) -> str:
    """Brackets are annotation markup in examples; literal ones are escaped."""
    return text.replace("[", "\\[").replace("]", "\\]")


def _header(name: str) -> list[str]:
    return [f"pack: {name}", "version: 1.0.0", "language: en", *REPAIR_OFF]


def _footer() -> list[str]:
    return ["responses:", '  ask_rephrase: "Sorry, could you rephrase that?"']


def clinc_data() -> dict[str, list[list[str]]]:
    path = datasets_dir() / "clinc150" / "data_full.json"
    data: dict[str, list[list[str]]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def build_clinc_pack(folder: Path) -> tuple[int, int]:
    """Write CLINC150's training data as a pack; returns (intents, examples)."""
    data = clinc_data()
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in data["train"]:
        by_intent[intent].append(text)
    lines = [*_header("clinc150"), "intents:"]
    for intent, examples in sorted(by_intent.items()):
        lines += [f"  {intent}:", "    examples:"]
        lines += [f"      - {json.dumps(escape(text))}" for text in examples]
    lines += ["out_of_scope:", "  examples:"]
    lines += [f"    - {json.dumps(escape(text))}" for text, _ in data["oos_train"]]
    lines += _footer()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(by_intent), sum(len(v) for v in by_intent.values())


# -- SNIPS -------------------------------------------------------------------------------------
SNIPS_INTENTS = (
    "AddToPlaylist",
    "BookRestaurant",
    "GetWeather",
    "PlayMusic",
    "RateBook",
    "SearchCreativeWork",
    "SearchScreeningEvent",
)


def snake(name: str) -> str:
    """SNIPS names (camelCase, CamelCase) as pack names: timeRange -> time_range."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    entity: str


@dataclass(frozen=True)
class Query:
    text: str
    intent: str
    spans: tuple[Span, ...]


def _read_json(path: Path) -> Any:
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:  # a few upstream files are Latin-1
        return json.loads(raw.decode("latin-1"))


def snips_queries(split: str) -> list[Query]:
    """`split` is "train_full" (training) or "validate" (the 700 scored queries)."""
    queries = []
    for intent in SNIPS_INTENTS:
        file = f"train_{intent}_full.json" if split == "train_full" else f"validate_{intent}.json"
        for item in _read_json(datasets_dir() / "snips" / intent / file)[intent]:
            text, spans = "", []
            for part in item["data"]:
                piece = part["text"]
                if "entity" in part:
                    spans.append(Span(len(text), len(text) + len(piece), snake(part["entity"])))
                text += piece
            queries.append(Query(text, snake(intent), tuple(spans)))
    return queries


def _annotated(query: Query) -> str:
    out, cursor = [], 0
    for span in query.spans:
        out.append(escape(query.text[cursor : span.start]))
        out.append(f"[{escape(query.text[span.start : span.end])}]({span.entity})")
        cursor = span.end
    out.append(escape(query.text[cursor:]))
    return "".join(out)


def build_snips_pack(folder: Path) -> tuple[int, int]:
    """Write SNIPS's full training data as a pack with learned entities; returns (intents, examples)."""
    queries = [q for q in snips_queries("train_full") if q.text.strip()]
    entities = sorted({span.entity for q in queries for span in q.spans})
    by_intent: dict[str, list[str]] = defaultdict(list)
    for query in queries:
        by_intent[query.intent].append(_annotated(query))
    lines = [*_header("snips"), "entities:"]
    lines += [f"  {name}: {{}}" for name in entities]
    lines += ["intents:"]
    for intent, examples in sorted(by_intent.items()):
        lines += [f"  {intent}:", "    examples:"]
        lines += [f"      - {json.dumps(example)}" for example in dict.fromkeys(examples)]
    lines += _footer()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(by_intent), sum(len(v) for v in by_intent.values())
