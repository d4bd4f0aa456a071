"""Fixtures of the connector tests: `platform`, a local fake of a messenger's API, and `serve`,
the retail assistant served with connectors pointed at one."""

from tests.channels.fake_platform import platform  # noqa: F401 (fixture)
from tests.channels.serving import serve  # noqa: F401 (fixture)
from tests.dialogue.conftest import clock  # noqa: F401 (fixture)
