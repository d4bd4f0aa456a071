"""The Twilio (SMS/MMS) connector: signature checks, Twilio's incoming-message webhooks, and the
Messages API calls of the replies."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from engine.channels.base import Answer, Inbound, Malformed, OutboundCall, Rejected, WebhookRequest
from engine.channels.settings import MissingCredential, TwilioConfig
from engine.channels.twilio import EMPTY_TWIML, TwilioConnector, media_kind, signature, url_variants
from tests.channels import twilio_platform as tw
from tests.channels.fake_platform import Delivery, FakePlatform

NOW = 1_800_000_000.0
WEBHOOK_URL = "http://testserver" + tw.WEBHOOK
API = "https://api.twilio.test"
MESSAGES = f"{API}/2010-04-01/Accounts/{tw.ACCOUNT_SID}/Messages.json"
AUTH = (tw.ACCOUNT_SID, tw.AUTH_TOKEN)
CUSTOMER = "+447700900123"
SID = "SM1f0e8ae6ade43cb3c0ce4525424e404f"
ADDRESS = {"to": CUSTOMER, "from": tw.BOT_NUMBER}
FROM_BOT = {"To": CUSTOMER, "From": tw.BOT_NUMBER}
#: HTTP basic auth of the Account SID and Auth Token of `tw.ENVIRON`, as Twilio receives it.
BASIC_AUTH = (
    "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpmMDBkZmVlZGMwZmZlZTAxMjM0NTY3ODlhYmNkZWYwMQ=="
)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


@pytest.fixture
def connector(session: requests.Session) -> TwilioConnector:
    return TwilioConnector.from_config(tw.config(API), session, tw.ENVIRON)


def request_of(delivery: Delivery, url: str = WEBHOOK_URL) -> WebhookRequest:
    """The request as the hub hands it over: lower-case headers, `url` the URL it arrived at."""
    full = url + delivery.path_and_query
    return WebhookRequest(
        method=delivery.method,
        url=full,
        headers={name.lower(): value for name, value in delivery.headers.items()},
        query=dict(parse_qsl(urlsplit(full).query)),
        body=delivery.body,
    )


def text_request(body: str = "Where is my order?", message_id: str = SID) -> WebhookRequest:
    return request_of(
        tw.customer_text(CUSTOMER, body, message_id, now=NOW, webhook_url=WEBHOOK_URL, api_url=API)
    )


def form_request(fields: dict[str, str]) -> WebhookRequest:
    return request_of(tw.delivery(fields, webhook_url=WEBHOOK_URL))


def rejection(connector: TwilioConnector, request: WebhookRequest) -> Rejected:
    with pytest.raises(Rejected) as caught:
        connector.verify(request, NOW)
    return caught.value


def sms(
    body: str | None = None, media: str | None = None, *, describes: int = 1, **sender: str
) -> OutboundCall:
    """A Messages API call; `describes` 0 for the calls before the last of one message."""
    form = dict(sender or FROM_BOT)
    if body is not None:
        form["Body"] = body
    if media is not None:
        form["MediaUrl"] = media
    return OutboundCall(url=MESSAGES, form=form, auth=AUTH, describes=describes)


# -- settings --------------------------------------------------------------------------------------
def test_twilio_from_config_reads_the_credentials(session: requests.Session) -> None:
    connector = TwilioConnector.from_config(tw.config(API), session, tw.ENVIRON)
    assert (connector.account_sid, connector.auth_token) == (tw.ACCOUNT_SID, tw.AUTH_TOKEN)
    assert connector.api_url == API
    assert connector.public_url is None and connector.messaging_service_sid is None


def test_twilio_from_config_prefers_the_configured_account_sid(session: requests.Session) -> None:
    config = TwilioConfig(api_url=API + "/", account_sid="AC99999999999999999999999999999999")
    connector = TwilioConnector.from_config(config, session, {"PARLEY_TWILIO_AUTH_TOKEN": "t"})
    assert connector.account_sid == "AC99999999999999999999999999999999"
    assert connector.render([{"text": "hi"}], ADDRESS)[0].url == (
        f"{API}/2010-04-01/Accounts/AC99999999999999999999999999999999/Messages.json"
    )


@pytest.mark.parametrize("missing", ["PARLEY_TWILIO_ACCOUNT_SID", "PARLEY_TWILIO_AUTH_TOKEN"])
def test_twilio_from_config_names_a_missing_variable(session: requests.Session, missing: str) -> None:
    environ = {name: value for name, value in tw.ENVIRON.items() if name != missing}
    with pytest.raises(MissingCredential, match=f"channels.twilio: the environment variable {missing}"):
        TwilioConnector.from_config(tw.config(API), session, environ)


# -- the signature ---------------------------------------------------------------------------------
TWILIO_EXAMPLE = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}


def test_twilio_signature_matches_twilios_published_example() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, TWILIO_EXAMPLE.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert signature("12345", with_port, TWILIO_EXAMPLE.items()) == "kvajT1Ptam85bY51eRf/AJRuM3w="


def test_twilio_signature_of_repeated_fields_sorts_their_values() -> None:
    fields = [("MediaUrl", "b"), ("Body", "x"), ("MediaUrl", "a")]
    assert signature("k", "https://h/p", fields) == signature("k", "https://h/pBodyxMediaUrlaMediaUrlb", [])


@pytest.mark.parametrize(
    ("url", "variants"),
    [
        ("https://bot.example.com/w", ["https://bot.example.com/w", "https://bot.example.com:443/w"]),
        (
            "https://bot.example.com:443/w?a=1",
            ["https://bot.example.com:443/w?a=1", "https://bot.example.com/w?a=1"],
        ),
        ("http://testserver/w", ["http://testserver/w", "http://testserver:80/w"]),
        ("https://bot.example.com:8443/w", ["https://bot.example.com:8443/w"]),
    ],
)
def test_twilio_url_variants_add_or_drop_the_default_port(url: str, variants: list[str]) -> None:
    assert url_variants(url) == variants


def test_twilio_verify_accepts_twilios_request(connector: TwilioConnector) -> None:
    connector.verify(text_request(), NOW)


def test_twilio_verify_accepts_a_signature_over_the_url_with_its_default_port(
    connector: TwilioConnector,
) -> None:
    fields = tw.incoming(CUSTOMER, "hi", SID)
    signed = tw.delivery(fields, webhook_url="https://bot.example.com:443" + tw.WEBHOOK)
    connector.verify(request_of(signed, "https://bot.example.com" + tw.WEBHOOK), NOW)


def test_twilio_verify_signs_the_query_string(connector: TwilioConnector) -> None:
    fields = tw.incoming(CUSTOMER, "hi", SID)
    url = WEBHOOK_URL + "?pack=retail"
    signed = tw.delivery(fields, webhook_url=url)
    connector.verify(request_of(signed, url), NOW)
    assert rejection(connector, request_of(signed, WEBHOOK_URL)).status == 403


def test_twilio_verify_refuses_a_missing_signature_with_401(connector: TwilioConnector) -> None:
    request = text_request()
    headers = {name: value for name, value in request.headers.items() if name != "x-twilio-signature"}
    rejected = rejection(connector, WebhookRequest("POST", request.url, headers, {}, request.body))
    assert rejected.status == 401
    assert "no X-Twilio-Signature header" in rejected.reason


def test_twilio_verify_refuses_another_auth_token_with_403(connector: TwilioConnector) -> None:
    signed = tw.delivery(
        tw.incoming(CUSTOMER, "secret words", SID), webhook_url=WEBHOOK_URL, auth_token="x" * 32
    )
    rejected = rejection(connector, request_of(signed))
    assert rejected.status == 403
    assert "does not match a request to http://testserver/webhooks/twilio/webhook" in rejected.reason
    assert "public_url" in rejected.reason
    assert "secret words" not in rejected.reason


def test_twilio_verify_refuses_a_tampered_body_with_403(connector: TwilioConnector) -> None:
    request = text_request("Cancel my order")
    tampered = request.body.replace(b"Cancel", b"Refund")
    rejected = rejection(connector, WebhookRequest("POST", request.url, request.headers, {}, tampered))
    assert rejected.status == 403
    assert "Refund" not in rejected.reason


def test_twilio_verify_refuses_an_added_field_with_403(connector: TwilioConnector) -> None:
    request = text_request()
    extended = request.body + b"&NumMedia=1"
    assert (
        rejection(connector, WebhookRequest("POST", request.url, request.headers, {}, extended)).status == 403
    )


def test_twilio_verify_refuses_a_url_twilio_did_not_sign(connector: TwilioConnector) -> None:
    """Behind a proxy the engine sees an internal URL; Twilio signed the public one."""
    public = "https://bot.example.com" + tw.WEBHOOK
    signed = tw.delivery(tw.incoming(CUSTOMER, "hi", SID), webhook_url=public)
    assert rejection(connector, request_of(signed, "http://10.0.0.5:5005" + tw.WEBHOOK)).status == 403


def test_twilio_verify_uses_public_url_when_set(session: requests.Session) -> None:
    public = "https://bot.example.com" + tw.WEBHOOK
    connector = TwilioConnector.from_config(TwilioConfig(api_url=API, public_url=public), session, tw.ENVIRON)
    signed = tw.delivery(tw.incoming(CUSTOMER, "hi", SID), webhook_url=public)
    connector.verify(request_of(signed, "http://10.0.0.5:5005" + tw.WEBHOOK), NOW)
    assert (
        rejection(
            connector, request_of(tw.delivery(tw.incoming(CUSTOMER, "hi", SID), webhook_url=WEBHOOK_URL))
        ).status
        == 403
    )


def test_twilio_verify_refuses_another_account_with_403(connector: TwilioConnector) -> None:
    fields = tw.incoming(CUSTOMER, "hi", SID, AccountSid="AC11111111111111111111111111111111")
    rejected = rejection(connector, form_request(fields))
    assert rejected.status == 403
    assert rejected.reason == "the message's AccountSid is not the configured Account SID"


def test_twilio_verify_refuses_a_form_without_account_sid(connector: TwilioConnector) -> None:
    fields = tw.incoming(CUSTOMER, "hi", SID)
    del fields["AccountSid"]
    assert rejection(connector, form_request(fields)).status == 403


def test_twilio_verify_refuses_a_body_that_is_not_text(connector: TwilioConnector) -> None:
    request = text_request()
    rejected = rejection(connector, WebhookRequest("POST", request.url, request.headers, {}, b"\xff\xfe"))
    assert rejected.status == 403


# -- incoming messages -----------------------------------------------------------------------------
def test_twilio_parse_text(connector: TwilioConnector) -> None:
    assert connector.parse(text_request("Where is my order?")) == [
        Inbound(
            SID,
            CUSTOMER,
            "Where is my order?",
            {"to": CUSTOMER, "from": tw.BOT_NUMBER},
            {"from_country": "GB"},
        )
    ]


def test_twilio_parse_keeps_where_the_number_is(connector: TwilioConnector) -> None:
    fields = tw.incoming(
        "+14155550100",
        "hello",
        SID,
        FromCity="SAN FRANCISCO",
        FromState="CA",
        FromCountry="US",
        FromZip="94105",
    )
    [inbound] = connector.parse(form_request(fields))
    assert inbound.metadata == {"from_city": "SAN FRANCISCO", "from_state": "CA", "from_country": "US"}
    assert inbound.sender_id == "+14155550100"


def test_twilio_parse_a_retried_delivery_has_the_same_message_id(connector: TwilioConnector) -> None:
    first = connector.parse(text_request("hi", SID))
    again = connector.parse(text_request("hi", SID))
    assert first == again
    assert first[0].message_id == SID


def test_twilio_parse_a_chosen_option_is_the_digit(connector: TwilioConnector) -> None:
    click = tw.customer_click(
        CUSTOMER, "Track an order", "2", SID, now=NOW, webhook_url=WEBHOOK_URL, api_url=API
    )
    connector.verify(request_of(click), NOW)
    [inbound] = connector.parse(request_of(click))
    assert inbound.text == "2"


def test_twilio_parse_the_reply_goes_through_a_messaging_service(connector: TwilioConnector) -> None:
    fields = tw.incoming(CUSTOMER, "hi", SID, MessagingServiceSid="MG9752274e9e519418a7406176694466fa")
    [inbound] = connector.parse(form_request(fields))
    assert inbound.address == {"to": CUSTOMER, "from": tw.BOT_NUMBER}


def test_twilio_parse_mms_image_with_caption(connector: TwilioConnector) -> None:
    media = (
        "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/MM8/Media/ME1"
    )
    fields = tw.incoming(
        CUSTOMER,
        "my broken lamp",
        "MM800f449d0399ed014aae2bcc0cc2f2ec",
        NumMedia="1",
        MediaContentType0="image/jpeg",
        MediaUrl0=media,
    )
    [inbound] = connector.parse(form_request(fields))
    assert inbound.message_id == "MM800f449d0399ed014aae2bcc0cc2f2ec"
    assert inbound.text == "[image] my broken lamp"
    assert inbound.metadata == {
        "from_country": "GB",
        "attachments": [{"type": "image", "url": media, "mime_type": "image/jpeg"}],
    }


def test_twilio_parse_several_media_without_text(connector: TwilioConnector) -> None:
    fields = tw.incoming(
        CUSTOMER,
        "",
        "MM1",
        NumMedia="3",
        MediaContentType0="application/pdf",
        MediaUrl0="https://api.twilio.com/m/0",
        MediaContentType1="audio/amr",
        MediaUrl1="https://api.twilio.com/m/1",
        MediaContentType2="video/mp4",
        MediaUrl2="https://api.twilio.com/m/2",
    )
    [inbound] = connector.parse(form_request(fields))
    assert inbound.text == "[file] [audio] [video]"
    assert [a["type"] for a in inbound.metadata["attachments"]] == ["file", "audio", "video"]


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("image/png", "image"),
        ("audio/mpeg", "audio"),
        ("video/3gpp", "video"),
        ("text/vcard", "file"),
        ("", "file"),
    ],
)
def test_twilio_media_kind(content_type: str, kind: str) -> None:
    assert media_kind(content_type) == kind


@pytest.mark.parametrize(
    "extra",
    [
        {"Body": ""},
        {"Body": "   "},
        {"OptOutType": "STOP", "Body": "STOP"},
        {"OptOutType": "HELP", "Body": "HELP"},
        {"SmsStatus": "delivered", "MessageStatus": "delivered", "Body": ""},
        {"SmsStatus": "undelivered", "Body": ""},
    ],
    ids=["empty", "blank", "opt-out", "help", "delivered-status", "old-status"],
)
def test_twilio_parse_ignores_what_is_not_a_customer_message(
    connector: TwilioConnector, extra: dict[str, str]
) -> None:
    assert connector.parse(form_request(tw.incoming(CUSTOMER, "hi", SID, **extra))) == []


def test_twilio_parse_ignores_a_status_callback(connector: TwilioConnector) -> None:
    """What Twilio posts to a message's StatusCallback when it is this URL."""
    fields = {
        "ApiVersion": "2010-04-01",
        "MessageStatus": "delivered",
        "RawDlrDoneDate": "2401151220",
        "SmsSid": "SM3f0e8ae6ade43cb3c0ce4525424e4040",
        "SmsStatus": "delivered",
        "To": CUSTOMER,
        "From": tw.BOT_NUMBER,
        "MessageSid": "SM3f0e8ae6ade43cb3c0ce4525424e4040",
        "AccountSid": tw.ACCOUNT_SID,
    }
    request = form_request(fields)
    connector.verify(request, NOW)
    assert connector.parse(request) == []


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To"])
def test_twilio_parse_a_form_without_the_fields_is_malformed(
    connector: TwilioConnector, missing: str
) -> None:
    fields = tw.incoming(CUSTOMER, "hi", SID)
    del fields[missing]
    with pytest.raises(Malformed, match="MessageSid, From or To"):
        connector.parse(form_request(fields))


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"NumMedia": "one"}, "NumMedia is not a number"),
        ({"NumMedia": "-1"}, "NumMedia is negative"),
        ({"NumMedia": "1"}, "MediaUrl0 is missing"),
    ],
)
def test_twilio_parse_bad_media_fields_are_malformed(
    connector: TwilioConnector, extra: dict[str, str], problem: str
) -> None:
    with pytest.raises(Malformed, match=problem):
        connector.parse(form_request(tw.incoming(CUSTOMER, "hi", SID, **extra)))


def test_twilio_parse_a_json_body_is_malformed(connector: TwilioConnector) -> None:
    request = WebhookRequest("POST", WEBHOOK_URL, {}, {}, b'{"MessageSid": "SM1", "From": "+1"}')
    with pytest.raises(Malformed):
        connector.parse(request)


def test_twilio_ack_is_empty_twiml(connector: TwilioConnector) -> None:
    assert connector.ack(text_request()) == Answer(
        200, '<?xml version="1.0" encoding="UTF-8"?><Response></Response>', "text/xml"
    )
    assert EMPTY_TWIML.startswith("<?xml")


# -- replies ---------------------------------------------------------------------------------------
def test_twilio_render_text(connector: TwilioConnector) -> None:
    calls = connector.render([{"recipient_id": CUSTOMER, "text": "Your order ships today."}], ADDRESS)
    assert calls == [sms("Your order ships today.")]
    assert calls[0].json is None and calls[0].headers == {} and calls[0].method == "POST"
    assert calls[0].describes == 1


def test_twilio_render_several_messages_in_order(connector: TwilioConnector) -> None:
    calls = connector.render([{"text": "One."}, {"text": "Two."}], ADDRESS)
    assert calls == [sms("One."), sms("Two.")]


def test_twilio_render_through_a_messaging_service(session: requests.Session) -> None:
    config = TwilioConfig(api_url=API, messaging_service_sid="MG9752274e9e519418a7406176694466fa")
    connector = TwilioConnector.from_config(config, session, tw.ENVIRON)
    calls = connector.render([{"text": "Hello"}], ADDRESS)
    assert calls == [sms("Hello", To=CUSTOMER, MessagingServiceSid="MG9752274e9e519418a7406176694466fa")]


def test_twilio_render_buttons_as_numbered_options(connector: TwilioConnector) -> None:
    message = {
        "text": "What can I do for you?",
        "buttons": [
            {"title": "Track an order", "payload": "/track"},
            {"title": "Return an item", "payload": "/return"},
            {"title": "Talk to a person", "payload": "/human"},
        ],
    }
    assert connector.numbered(message)
    assert connector.render([message], ADDRESS) == [
        sms("What can I do for you?\n\n1. Track an order\n2. Return an item\n3. Talk to a person")
    ]


def test_twilio_render_quick_replies_as_numbered_options(connector: TwilioConnector) -> None:
    message = {
        "text": "Did that help?",
        "quick_replies": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
    }
    assert connector.render([message], ADDRESS) == [sms("Did that help?\n\n1. Yes\n2. No")]


def test_twilio_render_many_buttons_all_numbered(connector: TwilioConnector) -> None:
    buttons = [{"title": f"Size {n}", "payload": f'/size{{"n": {n}}}'} for n in range(1, 13)]
    [call] = connector.render([{"text": "Which size?", "buttons": buttons}], ADDRESS)
    assert call.form is not None
    lines = call.form["Body"].split("\n")
    assert lines[:2] == ["Which size?", ""]
    assert lines[2:] == [f"{n}. Size {n}" for n in range(1, 13)]


def test_twilio_render_buttons_without_text(connector: TwilioConnector) -> None:
    message = {"buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]}
    assert connector.render([message], ADDRESS) == [sms("1. Yes\n2. No")]


def test_twilio_render_splits_a_long_text_with_the_options_on_the_last_piece(
    connector: TwilioConnector,
) -> None:
    first, second = "A" * 1000 + ".", "B" * 900 + "."
    message = {"text": f"{first}\n\n{second}", "buttons": [{"title": "OK", "payload": "/ok"}]}
    assert connector.render([message], ADDRESS) == [sms(first, describes=0), sms(f"{second}\n\n1. OK")]


def test_twilio_render_options_that_do_not_fit_the_last_piece_follow_it(connector: TwilioConnector) -> None:
    text = "C" * 1590 + "."
    message = {"text": text, "buttons": [{"title": "Yes", "payload": "/y"}, {"title": "No", "payload": "/n"}]}
    assert connector.render([message], ADDRESS) == [sms(text, describes=0), sms("1. Yes\n2. No")]


def test_twilio_render_every_piece_is_within_1600_characters(connector: TwilioConnector) -> None:
    words = " ".join(["parcel"] * 800)
    calls = connector.render([{"text": words}], ADDRESS)
    bodies = [call.form["Body"] for call in calls if call.form is not None]
    assert len(bodies) == 4
    assert [call.describes for call in calls] == [0, 0, 0, 1]
    assert all(len(body) <= 1600 for body in bodies)
    assert " ".join(bodies) == words


def test_twilio_render_image_as_mms_with_the_text(connector: TwilioConnector) -> None:
    message = {"text": "Here is the lamp.", "image": "https://shop.example.com/lamp.jpg"}
    assert connector.render([message], ADDRESS) == [
        sms("Here is the lamp.", media="https://shop.example.com/lamp.jpg")
    ]


def test_twilio_render_image_alone(connector: TwilioConnector) -> None:
    calls = connector.render(
        [{"recipient_id": CUSTOMER, "image": "https://shop.example.com/lamp.jpg"}], ADDRESS
    )
    assert calls == [sms(media="https://shop.example.com/lamp.jpg")]


def test_twilio_render_image_goes_on_the_last_piece(connector: TwilioConnector) -> None:
    first, second = "D" * 1200 + ".", "E" * 500 + "."
    message = {"text": f"{first} {second}", "image": "https://shop.example.com/e.png"}
    assert connector.render([message], ADDRESS) == [
        sms(first, describes=0),
        sms(second, media="https://shop.example.com/e.png"),
    ]


def test_twilio_render_attachment_url_as_mms(connector: TwilioConnector) -> None:
    messages: list[dict[str, Any]] = [
        {"attachment": "https://shop.example.com/invoice.pdf"},
        {
            "text": "Label",
            "attachment": {"type": "file", "payload": {"url": "https://shop.example.com/label.pdf"}},
        },
    ]
    assert connector.render(messages, ADDRESS) == [
        sms(media="https://shop.example.com/invoice.pdf"),
        sms("Label", media="https://shop.example.com/label.pdf"),
    ]


def test_twilio_render_image_and_attachment_take_two_calls(connector: TwilioConnector) -> None:
    message = {
        "text": "Both",
        "image": "https://s.example.com/a.png",
        "attachment": {"url": "https://s.example.com/b.pdf"},
    }
    assert connector.render([message], ADDRESS) == [
        sms("Both", media="https://s.example.com/a.png", describes=0),
        sms(media="https://s.example.com/b.pdf"),
    ]


def test_twilio_render_attachment_without_url_is_skipped(
    connector: TwilioConnector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.channels.twilio"):
        assert connector.render([{"attachment": {"type": "location"}}], ADDRESS) == []
    assert "an attachment without a URL cannot be sent by SMS; skipped" in caplog.text


def test_twilio_render_custom_is_skipped_with_a_warning(
    connector: TwilioConnector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.channels.twilio"):
        assert connector.render([{"recipient_id": CUSTOMER, "custom": {"Body": "raw"}}], ADDRESS) == []
        assert connector.render([{"text": "Hi", "custom": {"x": 1}}], ADDRESS) == [sms("Hi")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["a custom payload cannot be sent by SMS; skipped"] * 2


def test_twilio_render_agent_message_names_the_agent(connector: TwilioConnector) -> None:
    message = {"recipient_id": CUSTOMER, "text": "I have refunded the order.", "agent": "Alice"}
    assert connector.render([message], ADDRESS) == [sms("Alice: I have refunded the order.")]


def test_twilio_render_needs_the_numbers(connector: TwilioConnector) -> None:
    with pytest.raises(ValueError, match="'to', the customer's number"):
        connector.render([{"text": "hi"}], {"from": tw.BOT_NUMBER})
    with pytest.raises(ValueError, match="'from', the number the customer wrote to"):
        connector.render([{"text": "hi"}], {"to": CUSTOMER})


# -- Twilio's answers -----------------------------------------------------------------------------
def test_twilio_failure_reads_twilios_error(
    connector: TwilioConnector, session: requests.Session, platform: FakePlatform
) -> None:
    platform.script(
        400,
        {
            "code": 21211,
            "message": "The 'To' number +4477 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        },
    )
    platform.script(201, {"sid": "SM2", "status": "queued"})
    platform.script(500, b"upstream broke")
    refused, accepted, broken = (session.post(platform.url + "/Messages.json", data={}) for _ in range(3))
    with refused, accepted, broken:
        assert connector.failure(refused) == (
            "HTTP 400: Twilio error 21211: The 'To' number +4477 is not a valid phone number."
        )
        assert connector.failure(accepted) is None
        assert connector.failure(broken) == "HTTP 500: upstream broke"


def test_twilio_calls_reach_the_api_as_twilio_expects(
    session: requests.Session, platform: FakePlatform
) -> None:
    connector = TwilioConnector.from_config(tw.config(platform.url), session, tw.ENVIRON)
    [inbound] = connector.parse(
        request_of(
            tw.customer_text(CUSTOMER, "help", SID, now=NOW, webhook_url=WEBHOOK_URL, api_url=platform.url)
        )
    )
    messages: list[dict[str, Any]] = [
        {
            "text": "Pick one & go:",
            "buttons": [
                {"title": "Orders", "payload": "/orders"},
                {"title": "Returns", "payload": "/returns"},
            ],
        },
        {"text": "The lamp", "image": "https://shop.example.com/lamp.jpg?size=large"},
        {"text": "Ça marche.", "agent": "Alice"},
    ]
    for call in connector.render(messages, inbound.address):
        platform.script(201, {"sid": "SM9", "status": "queued"})
        response = session.request(
            call.method, call.url, json=call.json, data=call.form, headers=call.headers, auth=call.auth
        )
        with response:
            assert connector.failure(response) is None
    captured = platform.wait_for(3)
    path = f"/2010-04-01/Accounts/{tw.ACCOUNT_SID}/Messages.json"
    assert [c.path for c in captured] == [path] * 3
    assert [c.method for c in captured] == ["POST"] * 3
    assert [c.form() for c in captured] == [
        {"To": CUSTOMER, "From": tw.BOT_NUMBER, "Body": "Pick one & go:\n\n1. Orders\n2. Returns"},
        {
            "To": CUSTOMER,
            "From": tw.BOT_NUMBER,
            "Body": "The lamp",
            "MediaUrl": "https://shop.example.com/lamp.jpg?size=large",
        },
        {"To": CUSTOMER, "From": tw.BOT_NUMBER, "Body": "Alice: Ça marche."},
    ]
    assert (
        captured[2].body
        == urlencode({"To": CUSTOMER, "From": tw.BOT_NUMBER, "Body": "Alice: Ça marche."}).encode()
    )
    for received in captured:
        assert received.headers["content-type"] == "application/x-www-form-urlencoded"
        assert received.headers["authorization"] == BASIC_AUTH
    assert [tw.sent_texts(c) for c in captured] == [["Pick one & go:"], ["The lamp"], ["Alice: Ça marche."]]
    assert [tw.sent_buttons(c) for c in captured] == [[("Orders", "1"), ("Returns", "2")], [], []]


# -- the test helpers ------------------------------------------------------------------------------
def test_twilio_platform_helpers_round_trip(session: requests.Session, platform: FakePlatform) -> None:
    connector = TwilioConnector.from_config(tw.config(platform.url), session, tw.ENVIRON)
    delivery = tw.customer_text(
        CUSTOMER, "hi there", SID, now=NOW, webhook_url=WEBHOOK_URL, api_url=platform.url
    )
    assert delivery.method == "POST" and delivery.path_and_query == ""
    assert delivery.headers["Content-Type"] == "application/x-www-form-urlencoded"
    connector.verify(request_of(delivery), NOW)
    assert connector.parse(request_of(delivery))[0].text == "hi there"
    for call in connector.render([{"buttons": [{"title": "Only options", "payload": "/x"}]}], ADDRESS):
        with session.request(call.method, call.url, data=call.form, auth=call.auth):
            pass
    [captured] = platform.wait_for(1)
    assert tw.sent_texts(captured) == []
    assert tw.sent_buttons(captured) == [("Only options", "1")]
    other = type(captured)("GET", "/2010-04-01/Accounts", {}, {}, b"")
    assert tw.sent_texts(other) == [] and tw.sent_buttons(other) == []
