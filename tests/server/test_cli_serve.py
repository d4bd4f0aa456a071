"""`parley run` refuses what cannot work, before training or serving anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.actions.process import free_port
from engine.cli import main
from tests.conftest import ROOT
from tests.server.conftest import write_shop
from tests.stores.conftest import redis_server  # noqa: F401 (fixture)


def _config(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "config.yml"
    config.write_text(body, encoding="utf-8")
    return config


def _shop_config(tmp_path: Path, stores: str = "{tracker: 'sqlite:///x.sqlite'}") -> Path:
    shop = write_shop(tmp_path / "shop")
    return _config(tmp_path, f"packs: ['{shop}']\nmodels: '{tmp_path / 'models'}'\nstores: {stores}\n")


def test_cli_serve_refuses_several_workers_with_the_in_process_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PARLEY_LOCK_STORE_URL", raising=False)
    monkeypatch.delenv("PARLEY_TRACKER_STORE_URL", raising=False)
    config = _shop_config(tmp_path)
    assert main(["--config", str(config), "run", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "parley run: --workers 2 needs a lock store that every worker process shares, and the lock store "
        "is in-process: each worker would hold its own locks, so two messages of one conversation could be "
        "processed at once by two workers and events would be lost. Set stores.lock in config.yml (or "
        "PARLEY_LOCK_STORE_URL) to redis://host:port/db, or run one worker.\n"
    )
    assert not (tmp_path / "models").exists()  # refused before training


def test_cli_serve_refuses_several_workers_with_the_memory_tracker_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_LOCK_STORE_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("PARLEY_TRACKER_STORE_URL", "memory://")
    config = _shop_config(tmp_path)
    assert main(["--config", str(config), "run", "--workers", "3"]) == 2
    err = capsys.readouterr().err
    assert "--workers 3 needs a tracker store that every worker process shares" in err
    assert "lock store" not in err


def test_cli_serve_needs_packs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "packs: []\n")
    assert main(["--config", str(config), "run"]) == 2
    assert "lists no packs to serve" in capsys.readouterr().err


def test_cli_serve_reports_a_broken_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "server: {port: 0}\n")
    assert main(["--config", str(config), "run"]) == 2
    assert "server.port: Input should be greater than or equal to 1" in capsys.readouterr().err


def test_cli_serve_does_not_serve_an_invalid_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shop = write_shop(tmp_path / "shop")
    (shop / "pack.yml").write_text((shop / "pack.yml").read_text().replace("respond: greet", "respond: gret"))
    config = _config(tmp_path, f"packs: ['{shop}']\nmodels: '{tmp_path / 'models'}'\n")
    assert main(["--config", str(config), "run", "--stub-actions"]) == 1
    out = capsys.readouterr().out
    assert "gret" in out
    assert "✗ shop 1.0.0 is not valid" in out
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        pytest.param(
            ["--workers", "0"], "workers must be a whole number of at least 1, not '0'", id="workers-0"
        ),
        pytest.param(["--port", "70000"], "a port is a number from 1 to 65535, not '70000'", id="port-range"),
    ],
)
def test_cli_serve_checks_its_options(
    option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_serve_workers_that_cannot_start_stop_the_server_with_the_reason(
    tmp_path: Path,
    redis_server: str,  # noqa: F811 (fixture)
) -> None:
    """A setup every worker fails on (here a webhook whose secret is not set) ends `parley run
    --workers 2` with the reason, instead of uvicorn starting the failing workers again for ever."""
    shop = write_shop(tmp_path / "shop")
    config = _config(
        tmp_path,
        f"packs: ['{shop}']\nmodels: '{tmp_path / 'models'}'\n"
        f"stores: {{tracker: 'sqlite:///{tmp_path / 'x.sqlite'}', lock: '{redis_server}'}}\n"
        f"server: {{port: {free_port()}}}\n"
        "handoff: {webhook: {url: 'https://helpdesk.example.com/hook'}}\n",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "--config",
            str(config),
            "run",
            "--workers",
            "2",
            "--stub-actions",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "parley run: the helpdesk webhook signs its notifications" in done.stdout
    assert "PARLEY_HANDOFF_WEBHOOK_SECRET, which is not set" in done.stdout
    assert "died" not in done.stderr  # no worker was started again
