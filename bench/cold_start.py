"""One cold start of the reader, run as `python -m bench.cold_start RESULT.json` in a fresh
process: imports, the first invocation (credentials, TLS connect, query), a warm one, and the
signing of an IAM auth token. The database settings come from the DB_* variables."""

import json
import logging
import os
import sys
import time
from pathlib import Path

# The worker's clock starts here, after the standard library modules above (which the
# interpreter's own start-up has mostly loaded already).
_WORKER_STARTED = time.perf_counter()

# Events of the runtime's own structured log whose latency_ms the cold start reports.
_TIMED_EVENTS = ("secret.read", "db.connected")


class _LatencyCapture(logging.Handler):
    """Keeps the latency_ms of the runtime's secret.read and db.connected events."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.latency_ms: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        if event in _TIMED_EVENTS:
            self.latency_ms.setdefault(event, float(getattr(record, "latency_ms", 0.0)))


def _milliseconds(since: float) -> float:
    return (time.perf_counter() - since) * 1000


def main(result_path: Path, item_id: int) -> None:
    started = time.perf_counter()
    from lambda_src.handlers import reader
    from lambda_src.logs import LOGGER_NAME

    imports_ms = _milliseconds(started)

    from lambda_src.credentials import IamAuthTokenProvider
    from lambda_src.invocation import Deadline
    from lambda_src.settings import DbSettings
    from tests.lambda_runtime.helpers import FakeLambdaContext, http_event

    capture = _LatencyCapture()
    logging.getLogger(LOGGER_NAME).addHandler(capture)
    event = http_event(f"/items/{item_id}")

    started = time.perf_counter()
    first = reader.handler(event, FakeLambdaContext())
    first_invocation_ms = _milliseconds(started)

    started = time.perf_counter()
    second = reader.handler(event, FakeLambdaContext())
    second_invocation_ms = _milliseconds(started)

    # What the tiers do behind RDS Proxy: sign an IAM auth token (local SigV4, with the
    # function's credentials; here the fake ones in the environment).
    started = time.perf_counter()
    IamAuthTokenProvider(DbSettings.from_environ()).password(Deadline.after(10))
    iam_token_ms = _milliseconds(started)

    statuses = [first["statusCode"], second["statusCode"]]
    if statuses != [200, 200] or set(capture.latency_ms) != set(_TIMED_EVENTS):
        raise SystemExit(
            f"cold start did not read item {item_id}: statuses {statuses}, timed events "
            f"{sorted(capture.latency_ms)}"
        )
    result = {
        "imports_ms": imports_ms,
        "secret_read_ms": capture.latency_ms["secret.read"],
        "tls_connect_ms": capture.latency_ms["db.connected"],
        "first_invocation_ms": first_invocation_ms,
        "second_invocation_ms": second_invocation_ms,
        "iam_token_ms": iam_token_ms,
        "worker_ms": _milliseconds(_WORKER_STARTED),
    }
    result_path.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
    # Lambda keeps the process for the next invocation, so tearing the interpreter down (here
    # 0.2-0.4 s, freeing what boto3, botocore and pg8000 loaded) is no part of a cold start;
    # leave without it, so that the parent's wall time ends where the cold start does.
    sys.stdout.flush()
    os._exit(0)
