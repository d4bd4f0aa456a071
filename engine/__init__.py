"""Parley: a declarative dialogue engine for support assistants."""

__version__ = "0.1.0"

__all__ = ["__version__"]
