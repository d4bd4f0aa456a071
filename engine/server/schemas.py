"""Wire payloads of the HTTP API: what requests must look like, and what answers look like.

The REST channel's body follows Rasa's (`sender`, `message`, `metadata`, `input_channel`);
unknown keys are ignored there, as Rasa does, so existing clients keep working. The conversation
API is Parley's own: unknown keys are errors.

Message length: a message may have up to MAX_MESSAGE_CHARS (4,000) characters. Rasa sets no
limit; Parley bounds it so one request cannot make a turn slow, but above the NLU's reading
window: the NLU reads the first 1,000 characters (a longer message is a paste, an error log or
an e-mail, and still gets an answer instead of an error), the whole text is stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_MESSAGE_CHARS = 4000
MAX_SENDER_CHARS = 200


def _storable(text: str) -> str:
    """Text every store can keep: no NUL (PostgreSQL text cannot hold it; a JSON escape can carry
    it). Lone surrogates, the other unstorable escape, pydantic rejects itself."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


# The length constraints come before the check, so their errors read "String should have ...".
SenderId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_SENDER_CHARS,
        description="The conversation's id, chosen by the channel (a user or session id).",
    ),
    AfterValidator(_storable),
]
MessageText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        description='The customer\'s message; a button payload `/intent{"slot": "value"}` is taken as '
        "given. Up to 4,000 characters; the NLU reads the first 1,000.",
    ),
    AfterValidator(_storable),
]
MessageId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="Parley's addition: the client's id for this message. A message sent again with the "
        "same id (a retry after a timeout or a 503) is answered from the stored turn, not processed twice.",
    ),
    AfterValidator(_storable),
]
ChannelName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The channel the runtime sees (response variations and conditions may test it).",
    ),
]


class RestMessage(BaseModel):
    """A customer message on Rasa's REST channel."""

    model_config = ConfigDict(extra="ignore")

    sender: SenderId
    message: MessageText
    metadata: dict[str, Any] | None = Field(
        None, description="Anything the channel knows (kept on the user event, visible to actions)."
    )
    input_channel: ChannelName | None = Field(
        None, description="Rasa's override of the channel name the runtime sees (default: rest)."
    )
    message_id: MessageId | None = None


class Button(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str
    payload: str


class BotMessage(BaseModel):
    """One bot message, in the shape of Rasa's REST channel."""

    model_config = ConfigDict(extra="allow")

    recipient_id: str
    text: str | None = None
    buttons: list[Button] | None = None
    quick_replies: list[Button] | None = None
    image: str | None = None
    custom: dict[str, Any] | None = None
    attachment: Any = None


class RestStatus(BaseModel):
    status: str = "ok"


# -- the conversation API ------------------------------------------------------------------
class InjectMessage(BaseModel):
    """A message sent into a conversation as if the customer had typed it."""

    model_config = ConfigDict(extra="forbid")

    text: MessageText
    channel: ChannelName = "api"
    metadata: dict[str, Any] | None = None
    message_id: MessageId | None = None


class InjectIntent(BaseModel):
    """An intent (with entity values) sent into a conversation, as a button payload would."""

    model_config = ConfigDict(extra="forbid")

    intent: str = Field(
        min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$", description="An intent of the pack."
    )
    entities: dict[str, Any] = Field(
        default_factory=dict, description="Slot or entity values the payload carries: {name: value}."
    )
    channel: ChannelName = "api"


class EndHandoff(BaseModel):
    """A person hands the conversation back to the bot."""

    model_config = ConfigDict(extra="forbid")

    resume: bool = Field(
        description="true: the interrupted flow goes on where it stopped; false: every flow ends and the "
        "bot waits for the customer."
    )
    agent: str | None = Field(None, max_length=200, description="Who hands it back.")
    channel: ChannelName = "rest"


class AcceptHandoff(BaseModel):
    """A person takes the conversation (the bot stays silent until the handoff ends)."""

    model_config = ConfigDict(extra="forbid")

    agent: str = Field(min_length=1, max_length=200, description="Who takes it.")


class TurnAnswer(BaseModel):
    """What a message or a handoff change did."""

    sender_id: str
    messages: list[BotMessage] = Field(description="What the bot said, in the REST channel's shape.")
    events: list[dict[str, Any]] = Field(
        description="The events it added (PII redacted unless include_pii=true)."
    )


class PackInfo(BaseModel):
    name: str
    version: str
    default: bool = Field(description="Whether /webhooks/rest/webhook goes to this pack.")
    model_id: str | None
    loaded_at: float = Field(description="Unix time the model was swapped in.")
    intents: int
    flows: int


class ConversationInfo(BaseModel):
    sender_id: str
    events: int
    started: float
    updated: float


class ConversationList(BaseModel):
    pack: str
    limit: int
    offset: int
    conversations: list[ConversationInfo]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable error code (see the API description).")
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail
