"""The catalogue of every problem the pack loader and validator can report.

Each problem has a stable code that is never reused for something else, a severity, a message
template and a fix template. `Problem(...)` builds a `Diagnostic`, which is an exception carrying
the code as an attribute, so callers can `raise` one or collect many.

Code ranges:
    P0xx  files, YAML syntax, imports
    P1xx  schema: keys, types, values
    P2xx  references between parts of a pack, merging files and imports
    P3xx  flow structure
    P4xx  training data and slots
    P5xx  responses: templates, conditions, and how they show on channels
    P6xx  escalation
    P7xx  conversation tests
    P8xx  training (reported by `parley train`)
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.packs.source import Location, SourceFile

__all__ = [
    "CATALOGUE",
    "Diagnostic",
    "PackInvalid",
    "Problem",
    "Severity",
    "did_you_mean",
    "with_source_lines",
]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Diagnostic(Exception):
    """One problem found in a pack, at a place, with the way to fix it."""

    def __init__(
        self,
        code: str,
        severity: Severity,
        message: str,
        fix: str,
        location: Location | None,
        source_line: str | None = None,
    ) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.severity = severity
        self.message = message
        self.fix = fix
        self.location = location
        self.source_line = source_line

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def with_source(self, source_line: str | None) -> Diagnostic:
        return Diagnostic(self.code, self.severity, self.message, self.fix, self.location, source_line)

    def format(self) -> str:
        """Render as `file:line:col: severity CODE: message`, the source line, a caret and the fix."""
        where = f"{self.location}: " if self.location else ""
        lines = [f"{where}{self.severity} {self.code}: {self.message}"]
        if self.source_line is not None and self.location is not None:
            stripped = self.source_line.rstrip()
            lines.append(f"    {stripped}")
            lines.append("    " + " " * (self.location.column - 1) + "^")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "fix": self.fix,
            "file": self.location.file if self.location else None,
            "line": self.location.line if self.location else None,
            "column": self.location.column if self.location else None,
        }

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.location is None:
            return ("", 0, 0, self.code)
        return (self.location.file, self.location.line, self.location.column, self.code)

    def __str__(self) -> str:
        return self.format()


class PackInvalid(Exception):
    """Raised when a pack has errors (or, when loaded strictly, warnings).

    `diagnostics` holds everything found; `failing` and `codes` the problems that rejected the pack.
    """

    def __init__(self, pack: str, diagnostics: Sequence[Diagnostic], *, strict: bool = False) -> None:
        self.pack = pack
        self.diagnostics = list(diagnostics)
        self.errors = [d for d in self.diagnostics if d.is_error]
        self.failing = list(self.diagnostics) if strict else self.errors
        self.codes = [d.code for d in self.failing]
        what = "problem(s) (strict: warnings count as errors)" if strict else "error(s)"
        super().__init__(
            f"pack {pack!r} has {len(self.failing)} {what}:\n" + "\n".join(d.format() for d in self.failing)
        )


def with_source_lines(diagnostics: Iterable[Diagnostic], sources: Iterable[SourceFile]) -> list[Diagnostic]:
    """Give each diagnostic that has none the text of the line it points at."""
    by_name = {source.display: source for source in sources}
    result = []
    for diagnostic in diagnostics:
        location = diagnostic.location
        source = by_name.get(location.file) if location else None
        if source is not None and location is not None and diagnostic.source_line is None:
            diagnostic = diagnostic.with_source(source.line_text(location.line))
        result.append(diagnostic)
    return result


@dataclass(frozen=True)
class Problem:
    """A catalogue entry: calling it with a location and fields makes a `Diagnostic`."""

    code: str
    severity: Severity
    title: str
    message: str
    fix: str

    def __call__(self, location: Location | None, /, **fields: Any) -> Diagnostic:
        return Diagnostic(
            self.code,
            self.severity,
            _fill(self.message, fields),
            _fill(self.fix, fields),
            location,
        )


class _Fields(dict[str, str]):
    """Template fields; optional ones (such as a hint) left out render as nothing."""

    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, fields: dict[str, Any]) -> str:
    return template.format_map(_Fields({k: _show(v) for k, v in fields.items()}))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        return ", ".join(str(v) for v in items) if items else "(none)"
    return json.dumps(value) if isinstance(value, (dict, bool)) or value is None else str(value)


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """A hint naming the closest option, or listing the options when none is close."""
    options = sorted(set(options))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if not options:
        return "none are declared"
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"known: {shown}"


E, W = Severity.ERROR, Severity.WARNING

# -- P0xx: files, YAML, imports -------------------------------------------------------------
PACK_NOT_FOUND = Problem(
    "P001",
    E,
    "pack folder not found",
    "pack folder '{path}' does not exist or holds no .yml/.yaml files",
    "pass the folder of a pack, such as domains/retail",
)
YAML_SYNTAX = Problem(
    "P002",
    E,
    "YAML syntax error",
    "YAML syntax error: {problem}",
    "check indentation and quoting near this line; values containing ': ' or starting with "
    "'[', '{{', '*' or '&' must be quoted",
)
DUPLICATE_KEY = Problem(
    "P003",
    E,
    "key repeated in one mapping",
    "key '{key}' appears twice in the same mapping",
    "keep one '{key}' (YAML would silently keep only the last)",
)
NOT_A_MAPPING = Problem(
    "P004",
    E,
    "file is not a mapping",
    "a pack file must be a mapping of sections (pack, intents, slots, ...), found {found}",
    "start the file with top-level keys such as 'intents:' or 'flows:'",
)
FILE_UNREADABLE = Problem(
    "P005",
    E,
    "file cannot be read",
    "cannot read '{path}': {reason}",
    "check the file exists, is readable and is UTF-8 text",
)
IMPORT_NOT_FOUND = Problem(
    "P006",
    E,
    "imported pack not found",
    "imported pack '{name}' not found at '{path}'",
    "imports name a sibling pack folder (e.g. 'common') or a path relative to this pack",
)
IMPORT_CYCLE = Problem(
    "P007",
    E,
    "import cycle",
    "packs import each other in a cycle: {cycle}",
    "remove one of the imports; shared content belongs in a pack that imports nothing of these",
)
LOOKUP_FILE = Problem(
    "P008",
    E,
    "lookup file problem",
    "lookup file '{path}': {reason}",
    "give a path relative to the pack folder of a UTF-8 .txt (one value per line) or .csv file",
)
METADATA_MISSING = Problem(
    "P009",
    E,
    "pack metadata missing",
    "the pack declares no '{key}'",
    "add '{key}:' at the top of the pack's main file (e.g. pack.yml)",
)
EMPTY_FILE = Problem(
    "P010",
    W,
    "empty file",
    "file is empty and contributes nothing to the pack",
    "delete it or add content",
)

# -- P1xx: schema ---------------------------------------------------------------------------
UNKNOWN_KEY = Problem(
    "P101",
    E,
    "unknown key",
    "unknown key '{key}' in {where}; {hint}",
    "valid keys here: {valid}",
)
WRONG_TYPE = Problem(
    "P102",
    E,
    "wrong type",
    "{where}: expected {expected}, found {found}",
    "write {expected} here{hint}",
)
MISSING_KEY = Problem(
    "P103",
    E,
    "required key missing",
    "{where} needs '{key}'",
    "add '{key}:'",
)
BAD_VALUE = Problem(
    "P104",
    E,
    "value not allowed",
    "{where}: {problem}",
    "{fix}",
)
BAD_REGEX = Problem(
    "P105",
    E,
    "regular expression does not compile",
    "regular expression '{pattern}' does not compile: {reason}",
    "fix the pattern (Python 're' syntax); escape literal characters such as '.', '(', '[' with a backslash",
)
BAD_ANNOTATION = Problem(
    "P106",
    E,
    "malformed entity annotation",
    "example '{example}': {reason}",
    "annotate entities as [text](entity), [text](entity:role) or "
    '[text]{{"entity": "e", "role": "r", "value": "v"}}',
)
STEP_KIND = Problem(
    "P107",
    E,
    "step kind missing or ambiguous",
    "a step needs exactly one of: {kinds}",
    "write the step as e.g. '- collect: order_id' or '- respond: greet', one kind per step",
)
BAD_NAME = Problem(
    "P108",
    E,
    "invalid name",
    "{kind} name '{name}' is not allowed",
    "names use lowercase letters, digits and '_', and start with a letter (e.g. 'order_id')",
)
CONFLICTING_OPTIONS = Problem(
    "P109",
    E,
    "options that exclude each other",
    "{where}: {problem}",
    "{fix}",
)
FILL_KIND = Problem(
    "P110",
    E,
    "fill rule kind missing or ambiguous",
    "a slot fill rule needs exactly one of: entity, intent, text",
    "write e.g. '- entity: order_id', '- intent: affirm' with 'value: true', or '- text: true'",
)

# -- P2xx: references and merging -----------------------------------------------------------
DUPLICATE_DEFINITION = Problem(
    "P201",
    E,
    "defined twice in one pack",
    "{kind} '{name}' is defined twice in this pack (also at {other})",
    "keep one definition, or rename one of them",
)
IMPORT_CONFLICT = Problem(
    "P202",
    E,
    "conflicts with an imported definition",
    "{kind} '{name}' is already defined by imported pack '{pack}' at {other}",
    "rename it, or list '{section}.{name}' under 'overrides:' to replace the imported one",
)
OVERRIDE_NOTHING = Problem(
    "P203",
    W,
    "override that replaces nothing",
    "'{path}' is listed under overrides but {reason}",
    "remove it from 'overrides:', fix the name, or define the replacement in this pack",
)
UNKNOWN_INTENT = Problem(
    "P210",
    E,
    "unknown intent",
    "{where} names intent '{name}', which is not defined; {hint}",
    "define it under 'intents:' or fix the name",
)
UNKNOWN_ENTITY = Problem(
    "P211",
    E,
    "unknown entity",
    "{where} names entity '{name}', which is not defined; {hint}",
    "define it under 'entities:' or fix the name",
)
UNKNOWN_SLOT = Problem(
    "P212",
    E,
    "unknown slot",
    "{where} names slot '{name}', which is not defined; {hint}",
    "define it under 'slots:' or fix the name",
)
UNKNOWN_RESPONSE = Problem(
    "P213",
    E,
    "unknown response",
    "{where} names response '{name}', which is not defined; {hint}",
    "define it under 'responses:' or fix the name",
)
UNKNOWN_ACTION = Problem(
    "P214",
    E,
    "unknown action",
    "{where} names custom action '{name}', which is not declared; {hint}",
    "declare it under 'actions:' (with its timeout and the slots it sets) or fix the name",
)
UNKNOWN_FLOW = Problem(
    "P215",
    E,
    "unknown flow",
    "{where} names flow '{name}', which is not defined; {hint}",
    "define it under 'flows:' or fix the name",
)
UNKNOWN_QUEUE = Problem(
    "P216",
    E,
    "unknown queue",
    "{where} names escalation queue '{name}', which is not defined; {hint}",
    "define it under 'escalation: queues:' or fix the name",
)
UNKNOWN_ROLE = Problem(
    "P217",
    E,
    "unknown entity role",
    "{where} uses role '{role}' of entity '{entity}', which declares roles: {roles}",
    "add '{role}' to the entity's 'roles:' or fix the name",
)
UNKNOWN_CHANNEL = Problem(
    "P218",
    E,
    "unknown channel",
    "{where}: unknown channel '{name}'; {hint}",
    "use one of: {known}",
)
MISSING_SYSTEM_RESPONSE = Problem(
    "P219",
    E,
    "response needed by a built-in behaviour is missing",
    "{feature} needs response '{name}', which is not defined",
    "define response '{name}' (the common pack has one: add 'imports: [common]'){off}",
)

# -- P3xx: flows ----------------------------------------------------------------------------
UNREACHABLE_STEP = Problem(
    "P301",
    E,
    "unreachable step",
    "this step can never run: the step before it {reason}",
    "remove it, move it before that step, or give it an 'id' and jump to it with 'goto'",
)
ORPHAN_FLOW = Problem(
    "P302",
    E,
    "flow can never start",
    "flow '{name}' can never start: it has no trigger, and no flow that can start links to it or calls it",
    "add 'trigger: {{intents: [...]}}', or 'link:'/'call:' it from another flow",
)
DUPLICATE_STEP_ID = Problem(
    "P303",
    E,
    "step id used twice",
    "step id '{name}' is used twice in flow '{flow}'",
    "give every step of a flow its own id",
)
UNKNOWN_STEP_ID = Problem(
    "P304",
    E,
    "goto to an unknown step",
    "goto '{name}' names no step of flow '{flow}'; {hint}",
    "give the target step 'id: {name}', or fix the name",
)
CALL_CYCLE = Problem(
    "P305",
    E,
    "flows call each other in a cycle",
    "flows call each other in a cycle: {cycle}",
    "use 'link' (which ends the current flow) for one of these, or restructure the flows",
)
TRIGGER_CONFLICT = Problem(
    "P306",
    E,
    "intent triggers two flows",
    "intent '{intent}' triggers both flow '{first}' and flow '{second}'",
    "trigger each flow with its own intents, or add a 'guard' so they cannot both start",
)
# -- P4xx: training data and slots ----------------------------------------------------------
SHARED_EXAMPLE = Problem(
    "P401",
    E,
    "example in two intents",
    "example '{example}' appears in intent '{intent}' and intent '{other}' (at {where})",
    "keep it in the intent it means; the model cannot learn two answers for the same text",
)
FEW_EXAMPLES = Problem(
    "P402",
    W,
    "intent has too few examples",
    "intent '{intent}' has {count} example(s); at least {minimum} are recommended",
    "add varied phrasings (typos, short and long forms, colloquial wording)",
)
REPEATED_EXAMPLE = Problem(
    "P403",
    W,
    "example repeated in one intent",
    "example '{example}' appears twice in intent '{intent}'",
    "remove the repeat",
)
ENTITY_NEVER_EXTRACTED = Problem(
    "P404",
    E,
    "entity can never be extracted",
    "entity '{name}' has no regex, lookup or system type, and no example annotates it",
    "annotate it in some intent examples as [text]({name}), or give it 'regex:', 'lookup:' or 'system:'",
)
SLOT_NEVER_FILLED = Problem(
    "P405",
    E,
    "slot is never filled",
    "slot '{name}' is never filled: no fill rule, collect step, set step, initial value or action sets it",
    "add fill rules (e.g. '- entity: {name}'), collect it in a flow, or list it under an action's 'slots:'",
)
SLOT_VALUE_TYPE = Problem(
    "P406",
    E,
    "value does not fit the slot",
    "{where}: value {value} does not fit slot '{slot}' of type {type}: {reason}",
    "give a value of type {type}",
)
INTENT_NO_EXAMPLES = Problem(
    "P407",
    E,
    "intent without examples",
    "intent '{intent}' has no examples",
    "add at least one example (10 or more for reliable recognition)",
)
SLOT_OPTION_FOR_TYPE = Problem(
    "P408",
    E,
    "slot option does not apply to its type",
    "slot '{slot}' of type {type}: {problem}",
    "{fix}",
)
RETRY_UNSAFE = Problem(
    "P409",
    W,
    "retries on an action that is not idempotent",
    "action '{name}' retries {retries} time(s) but is not marked 'idempotent: true'",
    "retrying may repeat its effect (e.g. create two returns): mark it idempotent if it is safe, "
    "or set 'retries: 0'",
)
UNUSED_ITEM = Problem(
    "P410",
    W,
    "defined but never used",
    "{kind} '{name}' is defined but nothing uses it",
    "remove it, or use it",
)
ANNOTATION_NOT_EXTRACTED = Problem(
    "P411",
    W,
    "annotated value the entity would not find",
    "example of intent '{intent}' marks '{value}' as {entity}, but {reason}",
    "fix the annotation, or extend the entity's {extend} so the assistant finds such values",
)

# -- P5xx: templates, conditions, responses on channels -------------------------------------
TEMPLATE_SYNTAX = Problem(
    "P501",
    E,
    "template does not compile",
    "template does not compile: {reason}",
    "fix the jinja2 syntax: '{{{{ slots.name }}}}' inserts a value, '{{% if ... %}}...{{% endif %}}' "
    "chooses text",
)
TEMPLATE_NAME = Problem(
    "P502",
    E,
    "template uses an unknown name",
    "template uses '{name}', which is not known; {hint}",
    "templates can use: {known}",
)
CONDITION_SYNTAX = Problem(
    "P503",
    E,
    "condition does not compile",
    "condition '{condition}' does not compile: {reason}",
    "write a Python-like expression such as 'slots.order_total > 100 and intent == \"complain\"'",
)
CONDITION_NAME = Problem(
    "P504",
    E,
    "condition uses an unknown name",
    "condition uses '{name}', which is not known; {hint}",
    "conditions can use: {known}",
)
BUTTONS_DO_NOT_FIT_CHANNEL = Problem(
    "P505",
    W,
    "buttons a channel cannot show as written",
    "response '{response}'{variation} on {platform}: {problem}",
    "{fix}",
)
CUSTOM_NOT_SENT = Problem(
    "P506",
    W,
    "custom payload on a channel that does not send it",
    "response '{response}'{variation} has a custom payload, which {platform} does not send: {consequence}",
    "{fix}",
)
CUSTOM_FOR_SEVERAL_PLATFORMS = Problem(
    "P507",
    W,
    "custom payload sent to several platforms",
    "response '{response}'{variation} has a custom payload but no 'channel:', so the same "
    "platform-specific message is sent to {platforms}",
    "add 'channel:' naming the platform the payload is written for ({channels}), and give the "
    "others a variation of their own, with text or with a custom payload written for them{imported}",
)

# -- P6xx: escalation -----------------------------------------------------------------------
BAD_HOURS = Problem(
    "P601",
    E,
    "business hours not understood",
    "{where}: {problem}",
    "write hours as 'HH:MM-HH:MM' (24-hour clock), several ranges separated by ',', or 'closed', "
    "and a timezone such as 'Europe/London'",
)
NO_QUEUES = Problem(
    "P602",
    E,
    "escalation used without queues",
    "{where} escalates, but the pack defines no escalation queues",
    "define at least one queue under 'escalation: queues:'",
)

# -- P7xx: conversation tests ---------------------------------------------------------------
TEST_STEP_KIND = Problem(
    "P701",
    E,
    "test step kind missing or ambiguous",
    "a test step needs exactly one of: {kinds}",
    "write e.g. '- user: where is my refund' or '- bot: refund_status'",
)
DUPLICATE_TEST = Problem(
    "P702",
    E,
    "two tests with the same name",
    "test '{name}' is defined twice (also at {other})",
    "give every test its own name",
)
TEST_STUB_UNKNOWN = Problem(
    "P703",
    E,
    "stub for an undeclared action",
    "test stubs action '{name}', which the pack does not declare; {hint}",
    "stub only actions declared under 'actions:'",
)
STUB_UNDECLARED_SLOT = Problem(
    "P704",
    E,
    "stub sets a slot its action does not declare",
    "the stub of action '{action}' sets slot '{slot}', which the action does not list under 'slots:'",
    "add '{slot}' to the action's 'slots:' (if the real action sets it) or remove it from the stub",
)


# -- P8xx: training -------------------------------------------------------------------------
INTENT_WITHOUT_EXAMPLES = Problem(
    "P801",
    E,
    "intent without examples",
    "intent '{name}' has no examples, so the model cannot learn it",
    "add example messages under 'examples:' (10 or more), or remove the intent",
)
TOO_FEW_INTENTS = Problem(
    "P802",
    E,
    "too few intents to train",
    "the pack has {count} intent(s) with examples ({intents}); a model needs at least two to tell apart",
    "add another intent with examples, or import the common pack (imports: [common])",
)

LANGUAGE_WITHOUT_TOKENIZER = Problem(
    "P803",
    E,
    "language without a tokenizer",
    "language '{language}' has no spaCy tokenizer, so its messages cannot be read",
    "use an ISO 639-1 code spaCy supports, such as en, de, fr, es, it, nl or pt",
)

NOTHING_TO_EVALUATE = Problem(
    "P804",
    E,
    "nothing to evaluate",
    "no intent has two examples, so cross-validation has nothing to hold out and measure",
    "add examples: 10 or more per intent (the pack still trains, with the configured threshold)",
)


def _catalogue() -> dict[str, Problem]:
    entries: dict[str, Problem] = {}
    for value in list(globals().values()):
        if isinstance(value, Problem):
            if value.code in entries:
                raise RuntimeError(f"error code {value.code} is used twice in the catalogue")
            entries[value.code] = value
    return dict(sorted(entries.items()))


#: Every problem by code.
CATALOGUE: dict[str, Problem] = _catalogue()
