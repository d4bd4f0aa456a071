"""The NLU: compile a pack's examples into a model that reads customer messages.

>>> from engine.nlu import ModelStore
>>> model = ModelStore(Path("models")).load("retail")
>>> model.parse("where is my order A12345?").intent
'order_status'
"""

from engine.nlu.model import ModelError, NluModel, Thresholds
from engine.nlu.store import ModelStore, TrainOutcome
from engine.nlu.types import OUT_OF_SCOPE, EntityMatch, IntentScore, ParseResult

__all__ = [
    "OUT_OF_SCOPE",
    "EntityMatch",
    "IntentScore",
    "ModelError",
    "ModelStore",
    "NluModel",
    "ParseResult",
    "Thresholds",
    "TrainOutcome",
]
