"""CDS Hooks service benchmark: requests/s and p50/p99 latency of patient-view over loopback (bounded in time).

Usage::

    python bench/service.py              # 1, 8 and 32 concurrent clients, 10 s each, 2 workers
    python bench/service.py --quick      # 3 s each
    python bench/service.py --json       # one JSON object on stdout (details on stderr)

What it does: starts ``ivig-cds serve --workers N`` (default 2) with an ES384-trusting configuration
and a SQLite feedback store, then drives ``POST /cds-services/ivig-cds-patient-view`` with a prefetch of
about 100 FHIR resources (a refractory polymyositis patient with 44 monthly CK and MMT-8 results; the
prefetch is complete, so the service fetches nothing). Every request carries a fresh signed JWT
(pre-signed before the clock starts, so the client's signing is not measured). Per concurrency level:
requests, requests/s, client p50/p99 (round trip), server p50/p99 (the service's own request log, from
request arrival to response), errors, and the CPU time per request of the service's processes and of
the client (from /proc: it does not depend on what else the machine runs, so 2 cores / the sum is the
rate two idle cores would reach). Then, in this process, where the time of one request goes: the same
steps the service runs, timed one by one (median of 200). Client, server and all its workers share the
machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "service"))  # the FHIR test data and key helpers
os.environ["IVIG_CDS_LOAD_PLUGINS"] = ""

import httpx  # noqa: E402
import jwt  # noqa: E402
from hook_data import hook_request, patient_resources, prefetch_of  # noqa: E402
from servers import SigningKey, TokenFactory, jwks  # noqa: E402

SERVICE = "ivig-cds-patient-view"
PATH = f"/cds-services/{SERVICE}"
PUBLIC = "https://cds.bench"
ISS = "https://ehr.bench"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body_and_count() -> tuple[bytes, int]:
    pid = "bench-patient"
    resources = patient_resources(pid, date.today(), assessments=44)
    body = hook_request("patient-view", pid, prefetch=prefetch_of(resources))
    return json.dumps(body).encode(), len(resources)


def start_server(directory: Path, key: SigningKey, workers: int) -> tuple[subprocess.Popen[bytes], str, Path]:
    (directory / "jwks.json").write_text(json.dumps(jwks(key)))
    (directory / "service.toml").write_text(
        f'public_url = "{PUBLIC}"\n[[trust]]\niss = "{ISS}"\njwks_file = "jwks.json"\nalgorithms = ["ES384"]\n'
        '[feedback]\ndatabase_url = "sqlite:///feedback.sqlite3"\n[engine]\nentry_points = false\n'
        '[limits]\nrequest_budget_seconds = 30\n[cards]\nrule_url = "https://docs.bench/rules/{rule_id}"\n'
    )
    port = free_port()
    log = directory / "serve.log"
    cmd = [
        sys.executable,
        "-m",
        "ivig_cds.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--config",
        "service.toml",
    ]
    proc = subprocess.Popen(cmd, cwd=directory, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url, log
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the service did not start:\n{log.read_text()}")


async def drive(url: str, body: bytes, tokens: list[str], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    request_ids: list[str] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal errors
            while tokens and time.perf_counter() < stop:
                token = tokens.pop()
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                t0 = time.perf_counter()
                response = await client.post(PATH, content=body, headers=headers)
                latencies.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    errors += 1
                request_ids.append(response.headers.get("x-request-id", ""))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "ids": request_ids, "errors": errors, "seconds": elapsed}


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process and its children (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def server_latencies(log: Path, ids: list[str]) -> list[float]:
    wanted = set(ids)
    found = re.findall(r"request_id=([0-9a-f]+) .*latency_ms=([0-9.]+)", log.read_text())
    return [float(ms) for rid, ms in found if rid in wanted]


def phases(body: bytes, key: SigningKey, tokens: TokenFactory) -> dict[str, float]:
    """Median ms of each step the service runs for one request, in this process, one after the other."""
    from ivig_cds import Engine, fhir
    from ivig_cds.outputs.cds_hooks import CardOptions, build_cards
    from ivig_cds.service.hooks import parse_call
    from ivig_cds.service.services import SERVICES
    from ivig_cds.service.store import Store

    engine = Engine(entry_points=False)
    mapping = fhir.load_mapping()
    store = Store(f"sqlite:///{tempfile.mkdtemp()}/phases.sqlite3")
    public = jwt.PyJWK(key.jwk, algorithm="ES384")
    token = tokens.make(key, PUBLIC + PATH, iss=ISS)
    call = parse_call(SERVICES[SERVICE], body)
    patient, _ = fhir.patient_from_prefetch(call.prefetch, mapping=mapping, patient_id=call.patient_id)
    evaluation = engine.evaluate(patient)
    cards = build_cards(evaluation, CardOptions(hook_instance=call.hook_instance))
    steps: dict[str, Callable[[], Any]] = {
        "jwt_verify_es384": lambda: jwt.decode(token, public, algorithms=["ES384"], audience=PUBLIC + PATH),
        "parse_and_validate_request": lambda: parse_call(SERVICES[SERVICE], body),
        "fhir_mapping": lambda: fhir.patient_from_prefetch(
            call.prefetch, mapping=mapping, patient_id=call.patient_id
        ),
        "evaluation": lambda: engine.evaluate(patient),
        "cards": lambda: build_cards(evaluation, CardOptions(hook_instance=str(uuid.uuid4()))),
        "response_json": lambda: json.dumps(cards.response, ensure_ascii=False).encode(),
        "replay_store_claim": lambda: store.claim_token(ISS, str(uuid.uuid4()), int(time.time()) + 60),
        "record_cards_shown": lambda: store.record_cards(SERVICE, "h", cards.cards),
    }
    out = {}
    for name, step in steps.items():
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = round(statistics.median(times), 3)
    out["sum"] = round(sum(out.values()), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 s per concurrency level instead of 10")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--workers", type=int, default=2, help="service worker processes (default 2)")
    ap.add_argument("--clients", default="1,8,32", help="concurrency levels (default 1,8,32)")
    args = ap.parse_args(argv)
    seconds = 3.0 if args.quick else 10.0
    say: Callable[[str], None] = (lambda m: print(m, file=sys.stderr)) if args.json else print
    body, count = body_and_count()
    key, tokens = SigningKey.generate("bench-es384", "ES384"), TokenFactory()
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "workers": args.workers,
        "prefetch_resources": count,
        "request_bytes": len(body),
        "seconds_per_level": seconds,
    }
    say(json.dumps(meta))
    results: dict[str, Any] = {"meta": meta, "levels": {}}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, log = start_server(Path(tmp), key, args.workers)
        try:
            warm = [tokens.make(key, PUBLIC + PATH, iss=ISS, lifetime=300) for _ in range(40)]
            asyncio.run(drive(url, body, warm, 4, 30))
            for clients in [int(c) for c in args.clients.split(",")]:
                budget = int(seconds * 450) + 50  # more tokens than the service can use in the time
                batch = [tokens.make(key, PUBLIC + PATH, iss=ISS, lifetime=300) for _ in range(budget)]
                cpu_server, cpu_client = cpu_seconds(proc.pid), time.process_time()
                run = asyncio.run(drive(url, body, batch, clients, seconds))
                cpu_server, cpu_client = cpu_seconds(proc.pid) - cpu_server, time.process_time() - cpu_client
                time.sleep(0.5)  # let the log catch up
                server = server_latencies(log, run["ids"])
                lat = run["latencies"]
                level = {
                    "requests": len(lat),
                    "requests_per_s": round(len(lat) / run["seconds"], 1),
                    "client_p50_ms": round(percentile(lat, 0.50), 2),
                    "client_p99_ms": round(percentile(lat, 0.99), 2),
                    "server_p50_ms": round(percentile(server, 0.50), 2),
                    "server_p99_ms": round(percentile(server, 0.99), 2),
                    "errors": run["errors"],
                    "server_cpu_ms_per_request": round(1000 * cpu_server / max(1, len(lat)), 2),
                    "client_cpu_ms_per_request": round(1000 * cpu_client / max(1, len(lat)), 2),
                }
                results["levels"][str(clients)] = level
                say(f"{clients:>3} clients: {json.dumps(level)}")
        finally:
            proc.terminate()
            proc.wait(30)
    results["phases_ms"] = phases(body, key, tokens)
    results["meta"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    say("phases (ms, median, one process): " + json.dumps(results["phases_ms"]))
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
