"""config.yml's `channels:` section: which messenger connectors are on, and where their
credentials are. Credentials never live in config.yml: each field ending in `_variable` names
the environment variable that holds one, and `parley run` refuses to start when a connector that
is on lacks one (the message names the variable and where the platform shows its value).

```yaml
channels:
  telegram:
    pack: retail          # default: the first pack of config.yml
  slack: {}               # every credential from its default variable
  twilio:
    enabled: false        # kept here, switched off
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field


class MissingCredential(Exception):
    """A connector that is on lacks a credential in the environment."""


class ChannelConfig(BaseModel):
    """What every connector has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="false keeps the settings but switches the connector off.")
    pack: str | None = Field(None, description="The pack it serves (default: the first of config.yml).")
    api_url: str = Field(description="The platform API's base URL (tests point it at a local fake).")
    max_attempts: int = Field(
        4, ge=1, le=10, description="Attempts per API call when the platform answers 429 or 5xx."
    )
    max_retry_after: float = Field(
        30.0, gt=0, le=600, description="Longest Retry-After waited for; a longer one fails the call."
    )
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds to wait for the platform's API.")

    def secret(self, channel: str, variable: str, what: str, environ: Mapping[str, str] | None = None) -> str:
        """The value of environment variable `variable`; raises `MissingCredential` naming it."""
        value = (os.environ if environ is None else environ).get(variable, "").strip()
        if not value:
            raise MissingCredential(
                f"channels.{channel}: the environment variable {variable} is not set; it must hold {what}"
            )
        return value


class TelegramConfig(ChannelConfig):
    api_url: str = "https://api.telegram.org"
    token_variable: str = Field(
        "PARLEY_TELEGRAM_TOKEN", description="Holds the bot token @BotFather gave (123456:ABC-...)."
    )
    secret_token_variable: str = Field(
        "PARLEY_TELEGRAM_SECRET_TOKEN",
        description="Holds the secret_token given to setWebhook (1-256 characters A-Z a-z 0-9 _ -); "
        "Telegram sends it in X-Telegram-Bot-Api-Secret-Token.",
    )


class SlackConfig(ChannelConfig):
    api_url: str = "https://slack.com/api"
    bot_token_variable: str = Field(
        "PARLEY_SLACK_BOT_TOKEN", description="Holds the app's Bot User OAuth Token (xoxb-...)."
    )
    signing_secret_variable: str = Field(
        "PARLEY_SLACK_SIGNING_SECRET", description="Holds the app's Signing Secret (Basic Information)."
    )
    reply_in_thread: bool = Field(
        False, description="Answer in the thread of the customer's message instead of the channel."
    )
    max_age_seconds: float = Field(
        300.0, gt=0, le=3600, description="Requests signed longer ago than this are refused (replays)."
    )


class FacebookConfig(ChannelConfig):
    api_url: str = "https://graph.facebook.com/v19.0"
    page_access_token_variable: str = Field(
        "PARLEY_FACEBOOK_PAGE_ACCESS_TOKEN", description="Holds the Page access token."
    )
    app_secret_variable: str = Field(
        "PARLEY_FACEBOOK_APP_SECRET", description="Holds the Meta app's App Secret (signs the webhooks)."
    )
    verify_token_variable: str = Field(
        "PARLEY_FACEBOOK_VERIFY_TOKEN",
        description="Holds the Verify Token typed into the webhook's settings (any string you choose).",
    )


class WhatsAppConfig(ChannelConfig):
    api_url: str = "https://graph.facebook.com/v19.0"
    access_token_variable: str = Field(
        "PARLEY_WHATSAPP_ACCESS_TOKEN",
        description="Holds a System User access token with whatsapp_business_messaging.",
    )
    app_secret_variable: str = Field(
        "PARLEY_WHATSAPP_APP_SECRET", description="Holds the Meta app's App Secret (signs the webhooks)."
    )
    verify_token_variable: str = Field(
        "PARLEY_WHATSAPP_VERIFY_TOKEN",
        description="Holds the Verify Token typed into the webhook's settings (any string you choose).",
    )


class BotFrameworkConfig(ChannelConfig):
    api_url: str = Field(
        "https://smba.trafficmanager.net/teams",
        description="Unused for replies (they go to each activity's serviceUrl); kept for symmetry.",
    )
    app_id: str = Field("", description="The bot's Microsoft App ID (the token's audience).")
    app_id_variable: str = Field(
        "PARLEY_BOTFRAMEWORK_APP_ID", description="Holds the App ID when `app_id` is empty."
    )
    app_password_variable: str = Field(
        "PARLEY_BOTFRAMEWORK_APP_PASSWORD", description="Holds the bot's client secret (app password)."
    )
    openid_metadata_url: str = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        description="Where the signing keys of incoming tokens are found (their jwks_uri).",
    )
    jwks_file: str | None = Field(
        None, description="A JSON Web Key Set file used instead of fetching keys (offline, tests)."
    )
    issuer: str = Field("https://api.botframework.com", description="The issuer incoming tokens must have.")
    token_url: str = Field(
        "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token",
        description="Where the bot gets its own token for replies (client credentials).",
    )
    token_scope: str = Field("https://api.botframework.com/.default", description="The replies' token scope.")


class TwilioConfig(ChannelConfig):
    api_url: str = "https://api.twilio.com"
    account_sid: str = Field("", description="The Account SID (AC...); else from account_sid_variable.")
    account_sid_variable: str = Field("PARLEY_TWILIO_ACCOUNT_SID", description="Holds the Account SID.")
    auth_token_variable: str = Field(
        "PARLEY_TWILIO_AUTH_TOKEN",
        description="Holds the Auth Token (signs the webhooks, authorizes replies).",
    )
    public_url: str | None = Field(
        None,
        description="The webhook's URL as configured in Twilio (it is part of the signature); needed "
        "behind a proxy that changes the host or scheme. Default: the URL the request arrived at.",
    )
    messaging_service_sid: str | None = Field(
        None,
        description="Send replies through this Messaging Service (MG...) instead of from the number "
        "the customer wrote to.",
    )


class ChannelsConfig(BaseModel):
    """The messenger connectors; a connector is on when it is listed (and not `enabled: false`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    telegram: TelegramConfig | None = None
    slack: SlackConfig | None = None
    facebook: FacebookConfig | None = None
    whatsapp: WhatsAppConfig | None = None
    botframework: BotFrameworkConfig | None = None
    twilio: TwilioConfig | None = None

    def enabled(self) -> dict[str, ChannelConfig]:
        """Name -> settings of the connectors that are on."""
        found: dict[str, ChannelConfig] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, ChannelConfig) and value.enabled:
                found[name] = value
        return found
