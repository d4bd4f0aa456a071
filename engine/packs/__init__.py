"""Domain packs: load YAML with positions, validate in two passes, and build typed objects.

>>> from engine.packs import load_pack
>>> pack = load_pack("domains/retail")      # raises PackInvalid with every problem found
"""

from engine.packs.errors import CATALOGUE, Diagnostic, PackInvalid, Problem, Severity
from engine.packs.jsonschema import pack_json_schema, tests_json_schema
from engine.packs.loader import CheckResult, check_pack, load_pack
from engine.packs.pack import Origin, Pack
from engine.packs.source import Location

__all__ = [
    "CATALOGUE",
    "CheckResult",
    "Diagnostic",
    "Location",
    "Origin",
    "Pack",
    "PackInvalid",
    "Problem",
    "Severity",
    "check_pack",
    "load_pack",
    "pack_json_schema",
    "tests_json_schema",
]
