"""HTTP helpers the outbound clients share (custom actions, messenger APIs, the helpdesk webhook)."""

from __future__ import annotations

import email.utils
import math
import time

import requests
from requests.adapters import HTTPAdapter


def pooled_session(pool_size: int) -> requests.Session:
    """A session keeping up to `pool_size` connections per host open for the threads that share
    it (requests' default keeps 10). Retries are the caller's: the adapter makes none."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for: delta-seconds or an HTTP date (counted from `now`,
    by default the current time). None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
