"""Messenger connectors: Telegram, Slack, Facebook Messenger, WhatsApp, Microsoft Teams (Bot
Framework) and SMS (Twilio), each at `/webhooks/<name>/webhook`.

- `base`: what a connector is (verify, parse, render) and the types it trades in;
- `limits`, `text`: what each platform can show, splitting and numbered options;
- `settings`: config.yml's `channels:` section;
- `inbox`: every received message recorded before the platform is answered (deduplicated);
- `sender`: the replies sent with a pooled session, 429 and Retry-After honoured;
- `registry`: the connectors config.yml switches on;
- one module per platform.

The server side (the route, background processing, relaying agents' messages) is in
engine.server.channels.
"""
