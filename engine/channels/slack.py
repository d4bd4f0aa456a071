"""Slack: the Events API and Interactivity in, `chat.postMessage` out.

One Slack app talks to customers in two places:

- **Direct messages** with the app (`message` events whose `channel_type` is `im`).
- **Channels the app was invited to**, when a message mentions it (`app_mention` events; the
  mention itself is removed from the text). Other channel messages are not read, so a message
  that mentions the app is never answered twice when the app also receives `message.channels`.

Both arrive as JSON (`event_callback`), identified by the callback's `event_id`; Slack retries an
unacknowledged callback with the same `event_id` (and an `X-Slack-Retry-Num` header), which is
how a retry is recognised. Button clicks arrive from Interactivity as a form whose `payload`
field holds a `block_actions` JSON; a click's id is its `trigger_id`, which Slack generates for
each interaction and which a resent request repeats.

Every request is signed with the app's Signing Secret: `X-Slack-Signature` is `v0=` and the hex
HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<raw body>`.

Replies are `chat.postMessage` calls with the Bot User OAuth Token. Texts are sent as Slack
mrkdwn (so a pack can write `<https://example.com|links>` and `*bold*`); buttons become an
`actions` block under a `section` holding the text. The customer's conversation is their Slack
user id, as in Rasa's connector.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

import requests

from engine.channels.base import (
    Answer,
    Connector,
    Inbound,
    Malformed,
    OutboundCall,
    Rejected,
    WebhookRequest,
    one_message,
)
from engine.channels.limits import LIMITS, cut
from engine.channels.settings import SlackConfig
from engine.channels.text import buttons_of, numbered_options, split_text, text_of

log = logging.getLogger(__name__)

#: Message subtypes that are a customer writing (a plain message has no subtype at all):
#: a shared file, and a thread reply also sent to the channel.
CUSTOMER_SUBTYPES = frozenset({"file_share", "thread_broadcast"})

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
#: `<https://example.com|example.com>`, `<mailto:a@b.c|a@b.c>`, `<tel:+44...>`: Slack's links.
_LINK = re.compile(r"<((?:https?|mailto|tel):[^|>]*)(?:\|([^>]*))?>")
#: `<#C024BE7LR|general>`: a channel reference.
_CHANNEL_REF = re.compile(r"<#([A-Z0-9]+)(?:\|([^>]*))?>")
#: A mention at the start of the text (`<@U0LAN0Z89> hello`), for an app whose user id is unknown.
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>")
_SPACES = re.compile(r"[ \t]{2,}")

#: What to do about Slack's commonest refusals of chat.postMessage.
_HINTS: dict[str, str] = {
    "channel_not_found": "the conversation does not exist or the app cannot see it",
    "not_in_channel": "the app is not a member of the channel: invite it with /invite @<app name>",
    "is_archived": "the channel is archived",
    "invalid_auth": "the Bot User OAuth Token is wrong: copy it again from OAuth & Permissions",
    "not_authed": "no Bot User OAuth Token was sent",
    "token_revoked": "the Bot User OAuth Token was revoked: reinstall the app and copy the new token",
    "account_inactive": "the app was uninstalled or its token deactivated: reinstall it",
    "msg_too_long": "the text is longer than Slack accepts",
    "invalid_blocks": "Slack refused the message's blocks (a custom payload's blocks, most likely)",
}


class SlackConnector(Connector):
    """A Slack app's Events API and Interactivity webhook (both Request URLs point at it)."""

    name = "slack"
    limits = LIMITS["slack"]

    def __init__(
        self,
        bot_token: str,
        signing_secret: str,
        *,
        api_url: str,
        session: requests.Session,
        reply_in_thread: bool = False,
        max_age_seconds: float = 300.0,
    ) -> None:
        """`bot_token` is the Bot User OAuth Token (xoxb-...), `signing_secret` the app's Signing
        Secret. Raises ValueError when either is empty."""
        if not bot_token:
            raise ValueError("the Slack connector needs the app's Bot User OAuth Token (xoxb-...)")
        if not signing_secret:
            raise ValueError("the Slack connector needs the app's Signing Secret to check requests")
        self._token = bot_token
        self._secret = signing_secret.encode("utf-8")
        self.api_url = api_url.rstrip("/")
        self.session = session
        self.reply_in_thread = reply_in_thread
        self.max_age_seconds = max_age_seconds

    @classmethod
    def from_config(
        cls, config: SlackConfig, session: requests.Session, environ: Mapping[str, str] | None = None
    ) -> SlackConnector:
        """The connector `config` describes, its credentials read from the environment (`environ`,
        default `os.environ`). Raises `MissingCredential` naming the variable that is not set."""
        token = config.secret(
            "slack",
            config.bot_token_variable,
            "the Slack app's Bot User OAuth Token (xoxb-..., on the app's OAuth & Permissions page)",
            environ,
        )
        secret = config.secret(
            "slack",
            config.signing_secret_variable,
            "the Slack app's Signing Secret (Basic Information, App Credentials)",
            environ,
        )
        return cls(
            token,
            secret,
            api_url=config.api_url,
            session=session,
            reply_in_thread=config.reply_in_thread,
            max_age_seconds=config.max_age_seconds,
        )

    # -- in ------------------------------------------------------------------------------------------
    def verify(self, request: WebhookRequest, now: float) -> None:
        """Check Slack's signature of the raw body. Raises `Rejected`: 401 when a header is
        missing or the timestamp is not within `max_age_seconds` of `now` (a replay), 403 when the
        signature is not the one the Signing Secret gives."""
        signature = request.header("X-Slack-Signature")
        timestamp = request.header("X-Slack-Request-Timestamp")
        if not signature:
            raise Rejected("no X-Slack-Signature header: the request does not come from Slack", 401)
        if not timestamp:
            raise Rejected("no X-Slack-Request-Timestamp header: the request does not come from Slack", 401)
        if not _TIMESTAMP.fullmatch(timestamp):
            raise Rejected("stale request: X-Slack-Request-Timestamp is not a Unix time in seconds", 401)
        age = now - int(timestamp)
        if abs(age) > self.max_age_seconds:
            raise Rejected(
                f"stale request: signed {age:+.0f} s from this server's clock (at most "
                f"{self.max_age_seconds:g} s allowed): a replayed request, or this machine's clock is wrong",
                401,
            )
        mac = hmac.new(self._secret, b"v0:" + timestamp.encode("ascii") + b":" + request.body, hashlib.sha256)
        expected = ("v0=" + mac.hexdigest()).encode("ascii")
        if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
            raise Rejected(
                "X-Slack-Signature does not match the body: the Signing Secret configured here is not "
                "the app's (Basic Information, App Credentials), or the body was changed on the way",
                403,
            )

    def challenge(self, request: WebhookRequest) -> Answer | None:
        """Slack's `url_verification` handshake (sent when the Request URL is saved): the
        `challenge` value, as plain text."""
        if _is_form(request):
            return None
        try:
            body = request.json()
        except Malformed:
            return None
        if isinstance(body, dict) and body.get("type") == "url_verification":
            value = body.get("challenge")
            if isinstance(value, str) and value:
                return Answer(200, value, "text/plain")
        return None

    def parse(self, request: WebhookRequest) -> list[Inbound]:
        """The customer's message in an Events API callback or the click in an Interactivity
        payload; none for other events (the app's own messages, edits, deletions, joins,
        reactions ...). Raises `Malformed` for a body that is neither."""
        if _is_form(request):
            return self._parse_interaction(request)
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            raise Malformed("not a Slack Events API request: expected a JSON object with a 'type'")
        kind = body["type"]
        if kind == "url_verification":
            raise Malformed("a url_verification request without a 'challenge' string")
        if kind != "event_callback":
            return []  # app_rate_limited and other notices about the app, not messages
        event, event_id = body.get("event"), body.get("event_id")
        if not isinstance(event, dict) or not isinstance(event_id, str) or not event_id:
            raise Malformed("an event_callback needs an 'event' object and an 'event_id' string")
        return self._parse_event(body, event, event_id)

    def _parse_event(self, body: Mapping[str, Any], event: Mapping[str, Any], event_id: str) -> list[Inbound]:
        kind = event.get("type")
        if kind == "message":
            if event.get("channel_type") != "im":
                return []  # channel messages are read through app_mention only
            subtype = event.get("subtype")
            if subtype is not None and subtype not in CUSTOMER_SUBTYPES:
                return []  # bot_message, message_changed, message_deleted, channel_join ...
        elif kind != "app_mention":
            return []
        if event.get("bot_id") or event.get("hidden"):
            return []  # the app's own messages and other apps'
        user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
        if not (_text(user) and _text(channel) and isinstance(ts, str)):
            raise Malformed(f"a Slack {kind} event needs 'user', 'channel' and 'ts' strings")
        app_users = _app_users(body)
        if user in app_users:
            return []  # the app's own file uploads carry its user id, not always a bot_id
        raw = event.get("text")
        said = _readable(_without_mentions(raw if isinstance(raw, str) else "", app_users))
        files = event.get("files")
        shared = files if isinstance(files, list) else []
        attachments = [_attachment(f) for f in shared if isinstance(f, Mapping)]
        text = " ".join([*(_described(a) for a in attachments), *([said] if said else [])])
        if not text:
            return []  # a bare mention of the app, or an empty message
        thread_ts = event.get("thread_ts")
        in_thread = isinstance(thread_ts, str) and bool(thread_ts)
        metadata: dict[str, Any] = {"team": body.get("team_id") or event.get("team")}
        if isinstance(event.get("channel_type"), str):
            metadata["channel_type"] = event["channel_type"]
        if attachments:
            metadata["attachments"] = attachments
        address = {
            "channel": channel,
            "ts": ts,
            "thread_ts": thread_ts if in_thread else ts,
            "in_thread": in_thread,
        }
        return [Inbound(event_id, user, text, address, metadata)]

    def _parse_interaction(self, request: WebhookRequest) -> list[Inbound]:
        raw = request.form().get("payload")
        if raw is None:
            raise Malformed("a Slack Interactivity request has a 'payload' form field; this one has none")
        try:
            payload = json.loads(raw)
        except ValueError as error:
            raise Malformed(f"the Interactivity 'payload' field is not JSON: {error}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise Malformed("the Interactivity 'payload' is not an object with a 'type'")
        if payload["type"] != "block_actions":
            return []  # modal submissions, shortcuts, message actions: not customer messages
        container = payload.get("container")
        if not isinstance(container, dict) or container.get("type") != "message":
            return []  # clicks in a modal or the app's Home tab
        user, actions = payload.get("user"), payload.get("actions")
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, str) or not user_id or not isinstance(actions, list):
            raise Malformed("a block_actions payload needs 'user.id' and 'actions'")
        channel = payload.get("channel")
        channel_id = channel.get("id") if isinstance(channel, dict) else container.get("channel_id")
        message_ts = container.get("message_ts")
        if not isinstance(channel_id, str) or not channel_id or not isinstance(message_ts, str):
            raise Malformed("a block_actions payload from a message needs the channel id and 'message_ts'")
        thread_ts = container.get("thread_ts")
        in_thread = isinstance(thread_ts, str) and bool(thread_ts)
        address = {
            "channel": channel_id,
            "ts": message_ts,
            "thread_ts": thread_ts if in_thread else message_ts,
            "in_thread": in_thread,
        }
        team = payload.get("team")
        team_id = team.get("id") if isinstance(team, dict) else None
        trigger_id = payload.get("trigger_id")
        found: list[Inbound] = []
        for index, action in enumerate(a for a in actions if isinstance(a, dict)):
            value = _chosen_value(action)
            if value is None:
                continue  # a link button (no value) or a component whose choice is not a value
            # A trigger_id is unique per interaction and repeated when the same request is resent.
            if isinstance(trigger_id, str) and trigger_id:
                message_id = trigger_id if index == 0 else f"{trigger_id}:{index}"
            else:
                message_id = f"action:{message_ts}:{action.get('action_id')}:{action.get('action_ts')}"
            label = action.get("text")
            title = label.get("text") if isinstance(label, dict) else None
            metadata = {
                "team": team_id,
                "button": {"title": title, "action_id": action.get("action_id"), "type": action.get("type")},
            }
            found.append(Inbound(message_id, user_id, value, address, metadata))
        return found

    # -- out -----------------------------------------------------------------------------------------
    def render(self, messages: Sequence[Mapping[str, Any]], address: Mapping[str, Any]) -> list[OutboundCall]:
        """One `chat.postMessage` per text piece, image, custom payload and attachment of each
        message, in the order Rasa sends them (text with buttons, custom, image, attachment).
        Raises ValueError for an address without a channel."""
        channel = address.get("channel")
        if not isinstance(channel, str) or not channel:
            raise ValueError(f"a Slack address needs a 'channel'; got keys {sorted(address)}")
        where: dict[str, Any] = {"channel": channel}
        thread_ts = address.get("thread_ts")
        if isinstance(thread_ts, str) and thread_ts and (address.get("in_thread") or self.reply_in_thread):
            where["thread_ts"] = thread_ts
        calls: list[OutboundCall] = []
        for message in messages:
            calls.extend(one_message([self._call(body) for body in self._bodies(message, where)]))
        return calls

    def _bodies(self, message: Mapping[str, Any], where: Mapping[str, Any]) -> list[dict[str, Any]]:
        bodies = self._texts(message, where)
        custom = message.get("custom")
        if isinstance(custom, Mapping):
            bodies.append({**where, **custom})  # the pack's own fields win, "channel" included
        elif custom is not None:
            log.warning("slack: a response's 'custom' is not an object; it is not sent")
        image = message.get("image")
        if isinstance(image, str) and image:
            image_block = {"type": "image", "image_url": image, "alt_text": "image"}
            bodies.append({**where, "text": image, "blocks": [image_block]})
        attachment = message.get("attachment")
        if isinstance(attachment, str) and attachment:
            bodies.append({**where, "text": attachment})
        elif isinstance(attachment, Mapping):
            bodies.append({**where, "attachments": [dict(attachment)]})
        elif attachment is not None:
            log.warning("slack: a response's 'attachment' is neither a URL nor an object; it is not sent")
        return bodies

    def _texts(self, message: Mapping[str, Any], where: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The text's pieces, the buttons in an actions block under the last one."""
        text = text_of(message)
        buttons = buttons_of(message)
        if buttons and self.numbered(message):
            text, buttons = numbered_options(text, buttons), []
        pieces = split_text(text, self.limits.max_text) if text.strip() else []
        bodies: list[dict[str, Any]] = [{**where, "text": piece} for piece in pieces]
        if not buttons:
            return bodies
        actions = {"type": "actions", "elements": [_button(index, b) for index, b in enumerate(buttons)]}
        if bodies:
            last = bodies[-1]
            section = {"type": "section", "text": {"type": "mrkdwn", "text": last["text"]}}
            last["blocks"] = [section, actions]
        else:  # buttons without a text: the titles are the notification's text
            bodies.append({**where, "text": " | ".join(b["title"] for b in buttons), "blocks": [actions]})
        return bodies

    def _call(self, body: Mapping[str, Any]) -> OutboundCall:
        # Slack warns (missing_charset) about a JSON body whose Content-Type names no charset.
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Content-Type": "application/json; charset=utf-8",
        }
        return OutboundCall(f"{self.api_url}/chat.postMessage", json=body, headers=headers)

    def failure(self, response: requests.Response) -> str | None:
        """Why Slack refused a call: its `error` code (Slack answers HTTP 200 with `"ok": false`),
        with what to do about the common ones; or the HTTP status when it is not 2xx."""
        problem = super().failure(response)
        if problem is not None:
            return problem
        try:
            body = response.json()
        except ValueError:
            status = response.status_code
            return f"Slack answered HTTP {status} with a body that is not JSON: {response.text[:300]}"
        if not isinstance(body, dict):
            return f"Slack answered HTTP {response.status_code} with JSON that is not an object"
        if body.get("ok") is True:
            return None
        error = str(body.get("error") or "unknown_error")
        if error == "missing_scope":
            needed = body.get("needed") or "a scope"
            return (
                f"missing_scope: the token lacks {needed}; add it under OAuth & Permissions, Bot Token "
                "Scopes, and reinstall the app"
            )
        hint = _HINTS.get(error)
        details = _problems(body) if error == "invalid_blocks" else ""
        return f"{error}: {hint}{details}" if hint else error


# -- helpers -------------------------------------------------------------------------------------
def _is_form(request: WebhookRequest) -> bool:
    """Interactivity posts a form; the Events API posts JSON."""
    content_type = request.header("Content-Type") or ""
    return content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"


def _text(value: object) -> TypeGuard[str]:
    """Whether `value` is a non-empty string."""
    return isinstance(value, str) and bool(value)


def _app_users(body: Mapping[str, Any]) -> set[str]:
    """The app's own bot user ids, from `authorizations` (and the older `authed_users`)."""
    found: set[str] = set()
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list):
        for entry in authorizations:
            if isinstance(entry, dict) and entry.get("is_bot") and isinstance(entry.get("user_id"), str):
                found.add(entry["user_id"])
    authed = body.get("authed_users")
    if isinstance(authed, list):
        found.update(u for u in authed if isinstance(u, str))
    return found


def _without_mentions(text: str, app_users: set[str]) -> str:
    """`text` without mentions of the app (`<@U0LAN0Z89>`); when the app's user id is unknown,
    without a mention at the start (an app_mention's usual form)."""
    if app_users:
        for user in app_users:
            text = re.sub(rf"<@{re.escape(user)}(?:\|[^>]*)?>", " ", text)
    else:
        text = _LEADING_MENTION.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _readable(text: str) -> str:
    """Slack's encoding undone: links shown as their label (else their address), channel
    references as `#name`, and `&lt;` `&gt;` `&amp;` as the characters the customer typed."""

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if label:
            return label
        return target.removeprefix("mailto:").removeprefix("tel:")

    def channel(match: re.Match[str]) -> str:
        return f"#{match.group(2) or match.group(1)}"

    text = _CHANNEL_REF.sub(channel, _LINK.sub(link, text))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _attachment(file: Mapping[str, Any]) -> dict[str, Any]:
    """A shared file's details (none of its content: `url` needs the bot token and files:read)."""
    mime = file.get("mimetype")
    subtype = file.get("subtype")
    if subtype == "slack_audio" or (isinstance(mime, str) and mime.startswith("audio/")):
        kind = "audio"
    elif subtype == "slack_video" or (isinstance(mime, str) and mime.startswith("video/")):
        kind = "video"
    elif isinstance(mime, str) and mime.startswith("image/"):
        kind = "image"
    else:
        kind = "file"
    details = {
        "type": kind,
        "file_id": file.get("id"),
        "name": file.get("name"),
        "mime_type": mime,
        "filetype": file.get("filetype"),
        "url": file.get("url_private"),
    }
    return {key: value for key, value in details.items() if isinstance(value, str) and value}


def _described(attachment: Mapping[str, Any]) -> str:
    if attachment["type"] == "file":
        name = attachment.get("name")
        return f"[file {name}]" if name else "[file]"
    return f"[{attachment['type']}]"


def _chosen_value(action: Mapping[str, Any]) -> str | None:
    """What a click chose: a button's value, a menu's or overflow's selected option's value."""
    value = action.get("value")
    if isinstance(value, str) and value:
        return value
    option = action.get("selected_option")
    if isinstance(option, dict) and isinstance(option.get("value"), str) and option["value"]:
        return str(option["value"])
    return None


def _button(index: int, button: Mapping[str, str]) -> dict[str, Any]:
    """A Block Kit button; a click sends its `value` (the payload) back."""
    title = button["title"]
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": cut(title, LIMITS["slack"].max_title)},
        "action_id": f"parley_button_{index}",
    }
    if button["payload"]:
        element["value"] = button["payload"]
    return element


def _problems(body: Mapping[str, Any]) -> str:
    """The first of Slack's explanations of an invalid_blocks error."""
    metadata = body.get("response_metadata")
    messages = metadata.get("messages") if isinstance(metadata, dict) else None
    if isinstance(messages, list) and messages:
        return " (" + "; ".join(str(m) for m in messages[:3]) + ")"
    return ""
