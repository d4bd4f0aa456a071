"""Custom actions over HTTP: the Rasa SDK protocol client, its circuit breaker, the pack as a
Rasa domain, and running the example action server next to the engine."""

from engine.actions.circuit import CircuitBreaker
from engine.actions.client import ActionServerUnavailable, HttpActionRunner
from engine.actions.domain import rasa_domain
from engine.actions.process import ActionServerProcess

__all__ = [
    "ActionServerProcess",
    "ActionServerUnavailable",
    "CircuitBreaker",
    "HttpActionRunner",
    "rasa_domain",
]
