"""The HTTP server: channels, the conversation API, health, metrics."""
