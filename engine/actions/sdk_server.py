"""Run a rasa_sdk action server in one process: `python -m engine.actions.sdk_server --actions
actions --port 5055`.

It serves what `python -m rasa_sdk --actions actions` serves (rasa_sdk's own app and executor;
the actions a package lists in `ACTIONS`, or every Action subclass rasa_sdk finds in it), on
127.0.0.1 unless SANIC_HOST says otherwise, in Sanic's single-process mode instead of a manager
process and a spawned worker. One process is what `ActionServerProcess` can supervise: stopping
it, or the parent's death (SIGKILL included), leaves no orphaned worker behind. Production action servers are
started however their developers like; this is for `parley run`, `parley shell` and tests.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
from collections.abc import Sequence

from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m engine.actions.sdk_server", description=__doc__)
    parser.add_argument("--actions", required=True, help="the Python package of actions, e.g. actions")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    executor = ActionExecutor()
    package = importlib.import_module(args.actions)
    listed = getattr(package, "ACTIONS", None)
    if listed is not None:  # the package says which actions it offers: register exactly those
        for action in listed:
            executor.register_action(action)
    else:
        executor.register_package(args.actions)
    app = create_app_for_serve(executor, cors_origins=None)  # no web page may call it
    app.prepare(
        host=os.environ.get("SANIC_HOST", "127.0.0.1"),
        port=args.port,
        single_process=True,
        access_log=False,
        motd=False,
    )
    Sanic.serve_single(primary=app)


if __name__ == "__main__":
    main()
