"""``ivig-cds serve`` as a user runs it: config errors, the dev mode, and two workers sharing PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from stack import SECRETS, assert_no_secrets, skip_without_stack

skip_without_stack()

import httpx  # noqa: E402
from hook_data import hook_request, patient_resources, prefetch_of  # noqa: E402
from invariants import check_cards_response  # noqa: E402
from servers import jwks  # noqa: E402

from ivig_cds.cli import main  # noqa: E402
from ivig_cds.service.store import Store  # noqa: E402

PG_ENV = "IVIG_CDS_TEST_POSTGRES_URL"
PV = "ivig-cds-patient-view"
CLI = [sys.executable, "-m", "ivig_cds.cli"]
ENV = {**os.environ, "IVIG_CDS_LOAD_PLUGINS": ""}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=ENV, cwd=cwd)


class Served:
    """An ``ivig-cds serve`` subprocess; its stderr goes to a file."""

    def __init__(self, args: list[str], directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / f"serve-{self.port}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [*CLI, "serve", "--port", str(self.port), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=ENV,
                cwd=directory,
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        return self.log.read_text()


def test_serve_without_config_or_dev_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    assert "give --config FILE" in capsys.readouterr().err


def test_dev_mode_is_refused_on_a_non_loopback_address(capsys: pytest.CaptureFixture[str]) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.10", "cds.example.org"):
        assert main(["serve", "--dev", "--host", host]) == 2
        assert "--dev is refused on a non-loopback address" in capsys.readouterr().err


def test_config_errors_name_each_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        'public_url = "http://cds.example"\n'
        "[[trust]]\n"
        'iss = "https://ehr.example"\n'
        'jku = ["http://ehr.example/jwks"]\n'
        'algorithms = ["HS256", "none"]\n'
        "[jwt]\nleeway_seconds = 120\n"
        '[cors]\norigins = ["*"]\n'
        "[surprise]\nkey = 1\n"
    )
    result = run("serve", "--config", str(config))  # one real process: what a user sees
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for expected in (
        "public_url: must be https",
        "trust.0.jku",
        "trust.0.algorithms.0",
        "trust.0.algorithms.1",
        "jwt.leeway_seconds",
        "cors.origins",
        "surprise",
    ):
        assert expected in result.stderr, expected
    for text, expected in (
        ('public_url = "https://cds.example"\n', "no [[trust]] entry"),
        (
            'public_url = "https://cds.example"\n[[trust]]\niss = "https://e.example"\njwks_file = "k.json"\n',
            "[cards] rule_url is required",
        ),
        ("public_url = \n", "not valid TOML"),
    ):
        config.write_text(text)
        assert main(["serve", "--config", str(config)]) == 2
        assert expected in capsys.readouterr().err
    assert main(["serve", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "cannot read service configuration" in capsys.readouterr().err
    config.write_text(
        'public_url = "https://cds.example"\n[[trust]]\niss = "https://e.example"\njwks_file = "absent.json"\n'
        '[cards]\nrule_url = "https://docs.example/{rule_id}"\n[feedback]\ndatabase_url = "sqlite:///fb.db"\n'
    )
    assert main(["serve", "--config", str(config)]) == 2
    assert "trust.jwks_file" in capsys.readouterr().err


def test_dev_mode_is_loud_and_needs_no_token(tmp_path: Path) -> None:
    served = Served(["--dev"], tmp_path)
    try:
        assert httpx.get(served.url + "/cds-services").status_code == 200
        pid = f"dev-SECRET-{os.getpid()}"
        SECRETS.append(pid)
        body = hook_request("patient-view", pid, prefetch=prefetch_of(patient_resources(pid, date.today())))
        response = httpx.post(f"{served.url}/cds-services/{PV}", json=body, timeout=30)
        assert response.status_code == 200
        check_cards_response(response.json())
    finally:
        log = served.stop()
    assert "DEVELOPMENT MODE" in log and "NO AUTHENTICATION" in log
    assert_no_secrets(log, [pid])


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"no PostgreSQL server: set {PG_ENV} (.ci/run does)")
def test_two_workers_share_postgresql_a_jti_replayed_to_the_other_worker_is_refused(
    tmp_path: Path, keys: Any, tokens: Any
) -> None:
    (tmp_path / "ehr-jwks.json").write_text(json.dumps(jwks(keys.oob)))
    (tmp_path / "service.toml").write_text(
        'public_url = "https://cds.test"\n'
        '[[trust]]\niss = "https://ehr.test"\njwks_file = "ehr-jwks.json"\nalgorithms = ["RS384"]\n'
        f'[feedback]\ndatabase_url = "{os.environ[PG_ENV]}"\n'
        '[engine]\nbackend = "reference"\nentry_points = false\n'
        '[cards]\nrule_url = "https://docs.test/{rule_id}"\n'
    )
    served = Served(["--workers", "2", "--config", "service.toml"], tmp_path)
    pid = f"w2-SECRET-{os.getpid()}"
    SECRETS.append(pid)
    body = hook_request("patient-view", pid, prefetch=prefetch_of(patient_resources(pid, date.today())))
    path = f"/cds-services/{PV}"
    token = tokens.make(keys.oob, "https://cds.test" + path)
    try:
        with httpx.Client(base_url=served.url, timeout=30) as first:
            response = first.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        check_cards_response(response.json())
        card = response.json()["cards"][0]["uuid"]
        first_id = response.headers["x-request-id"]
        replay_ids = []
        for _ in range(30):  # each on a fresh connection, so both workers answer some
            with httpx.Client(base_url=served.url, timeout=30) as client:
                again = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
            assert again.status_code == 401
            replay_ids.append(again.headers["x-request-id"])
        fb_path = path + "/feedback"
        entry = {
            "card": card,
            "outcome": "overridden",
            "outcomeTimestamp": "2026-12-01T10:00:00Z",
            "overrideReason": {"userComment": "seen on two workers"},
        }
        fb = httpx.post(
            served.url + fb_path,
            json={"feedback": [entry]},
            headers={"Authorization": f"Bearer {tokens.make(keys.oob, 'https://cds.test' + fb_path)}"},
        )
        assert fb.status_code == 200
    finally:
        log = served.stop()
    worker = {rid: p for p, rid in re.findall(r"pid=(\d+) request_id=([0-9a-f]+)", log)}
    assert len({worker[r] for r in [first_id, *replay_ids]}) == 2, "both workers answered"
    assert any(worker[r] != worker[first_id] for r in replay_ids), "a replay reached the other worker"
    summary = next(r for r in Store(os.environ[PG_ENV], create=False).report() if r.rule_id == "ivig-cds-summary")
    assert summary.shown >= 1 and summary.overridden >= 1
    assert_no_secrets(log, [pid, token, *tokens.issued])
