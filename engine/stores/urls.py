"""Store URLs in messages: never with their password."""

from __future__ import annotations

import re

# scheme://user:password@host... ; the password ends at the last "@" before the host.
_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*:)(?P<password>.*)@(?P<tail>[^@]*)$")


def mask_password(url: str) -> str:
    """`url` with its password (if any) replaced by `***`, for logs and error messages."""
    match = _PASSWORD.match(url)
    if match is None:
        return url
    return f"{match['head']}***@{match['tail']}"
