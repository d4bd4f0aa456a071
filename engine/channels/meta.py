"""What Facebook Messenger and WhatsApp share, both being Meta webhooks: the subscription check
when the callback URL is saved, and the `X-Hub-Signature-256` every notification carries."""

from __future__ import annotations

import hashlib
import hmac
import re

from engine.channels.base import Answer, Rejected, WebhookRequest

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


def subscription(request: WebhookRequest, verify_token: str) -> Answer:
    """Meta's check when the callback URL is saved: `hub.challenge` echoed (text/plain) when
    `hub.mode` is "subscribe" and `hub.verify_token` is the configured Verify Token; 403 for
    another token, 400 when a parameter is missing."""
    mode = request.query.get("hub.mode")
    token = request.query.get("hub.verify_token")
    challenge = request.query.get("hub.challenge")
    if not mode or token is None or not challenge:
        return Answer(400, "expected Meta's subscription check: hub.mode, hub.verify_token and hub.challenge")
    if mode != "subscribe":
        return Answer(400, "hub.mode must be 'subscribe'")
    if not hmac.compare_digest(token.encode("utf-8"), verify_token.encode("utf-8")):
        return Answer(403, "hub.verify_token is not the Verify Token this webhook was configured with")
    return Answer(200, challenge, "text/plain")


def verify_signature(request: WebhookRequest, app_secret: str) -> None:
    """Raise `Rejected` unless `X-Hub-Signature-256` is `sha256=` and the hex HMAC-SHA256 of the
    raw body keyed with the App Secret: 401 when the header is missing, 403 when it is malformed
    or does not match. Meta signs no timestamp: retries and replays are caught by message ids."""
    header = (request.header(SIGNATURE_HEADER) or "").strip()
    if not header:
        raise Rejected(f"no {SIGNATURE_HEADER} header: Meta signs every webhook it sends", 401)
    match = _SIGNATURE.fullmatch(header)
    if match is None:
        raise Rejected(f"{SIGNATURE_HEADER} is not 'sha256=' followed by 64 hex digits", 403)
    expected = hmac.new(app_secret.encode("utf-8"), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group(1).lower()):
        raise Rejected(
            f"{SIGNATURE_HEADER} does not match the body: it was not signed with the configured App "
            "Secret (App settings > Basic > App secret of the Meta app that owns the webhook), or the "
            "body was changed on the way",
            403,
        )
