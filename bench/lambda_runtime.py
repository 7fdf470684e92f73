"""Lambda runtime against a local PostgreSQL over verified TLS: warm reader invocations against
the raw query, the connect-per-invocation pattern against ours, connections, cold start."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pg8000.native
from moto.server import ThreadedMotoServer

from bench.preview import REPO_ROOT
from bench.report import Result
from bench.stats import interleaved, median, percentile
from lambda_src.credentials import SecretPasswordProvider, SecretsManagerReader
from lambda_src.database import Database
from lambda_src.handlers import reader
from lambda_src.handlers.bootstrap import parse_event, run_bootstrap
from lambda_src.invocation import Deadline, start_invocation
from lambda_src.logs import LOGGER_NAME
from lambda_src.settings import DbSettings
from lambda_src.tls import verified_ssl_context
from tests.lambda_runtime.helpers import (
    REGION,
    FakeLambdaContext,
    create_login_role,
    db_environ,
    http_event,
    new_password,
)
from tests.lambda_runtime.pg_server import PostgresServer, free_port
from tests.lambda_runtime.tls_material import (
    issue_server_certificate,
    make_authority,
    write_bundle,
)

# Limits of these numbers. The server runs on this machine, so a round trip costs far less
# than one across a VPC to RDS Proxy and on to the instance: the handshakes of a new
# connection, and the extra round trips of a writer's transaction (BEGIN with SET LOCAL, then
# COMMIT), weigh less here than they would in AWS. The reader sends its query alone. The
# functions log in with a Secrets Manager password (moto's server), not with an IAM token,
# which RDS Proxy checks itself; that check is not measured. The interpreter is this
# machine's CPython, not Lambda's arm64 runtime.
DATABASE_NAME = "appdb"
MASTER_USER = "app_master"
READER_USER = "items_reader"
ITEM_COUNT = 1000
INVOCATIONS_FOR_CONNECTION_COUNT = 1000
# The statement timeout a writer's transaction sets, for the raw variant that does the same.
RAW_STATEMENT_TIMEOUT_MS = 10_000

# Targets from the issue.
WARM_P50_RATIO_TARGET = "<= 1.15"
NAIVE_RATIO_TARGET = ">= 5"
CONNECTIONS_TARGET = "<= 1"

# Fake credentials: Secrets Manager is moto's server, and IAM tokens are only signed locally.
_FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKEFORBENCHMARK",
    "AWS_SECRET_ACCESS_KEY": "fake-secret-access-key-used-only-by-the-benchmark",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
_CLEARED_AWS_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE")


@dataclass(frozen=True)
class LocalDatabase:
    """The bootstrapped database, the reader's environment and the server's log."""

    server: PostgresServer
    reader_environment: dict[str, str]
    reader_secret_arn: str

    def connections_authorized(self, user: str) -> tuple[int, int]:
        """(connections the server authorized for `user` so far, how many of them used TLS)."""
        marker = f"connection authorized: user={user} "
        lines = [
            line
            for line in self.server.log_file.read_text(
                encoding="utf-8", errors="replace"
            ).splitlines()
            if marker in line
        ]
        return len(lines), sum(1 for line in lines if "SSL enabled" in line)


@contextlib.contextmanager
def local_database(work_dir: Path) -> Iterator[LocalDatabase]:
    """A TLS PostgreSQL (the tests' server), moto's Secrets Manager, and the app database set
    up by the bootstrap handler's own code, as a deployment does."""
    authority = make_authority("lambda-private-db benchmark CA")
    bundle = write_bundle(work_dir / "bench-ca.pem", authority)
    certificate = issue_server_certificate(authority, ["localhost"], ["127.0.0.1"])
    server = PostgresServer("bench", certificate=certificate)
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    saved_environment = dict(os.environ)
    # moto's server logs every request it serves through werkzeug; only its errors matter here.
    werkzeug_logger = logging.getLogger("werkzeug")
    saved_werkzeug_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.ERROR)
    try:
        server.initialize()
        # The server logs every connection it authorizes, with its TLS parameters: that log is
        # how connections are counted, on the server's side.
        with (server.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("log_connections = on\n")
        server.start()
        moto.start()
        for name in _CLEARED_AWS_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(_FAKE_AWS_ENVIRONMENT)
        os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = f"http://127.0.0.1:{moto_port}"

        reader_secret_arn = _bootstrap(server, bundle)
        environment = db_environ(
            host="localhost",
            port=server.port,
            database=DATABASE_NAME,
            user=READER_USER,
            ca_bundle=bundle,
            secret_arn=reader_secret_arn,
            log_level="INFO",
        )
        os.environ.update(environment)
        yield LocalDatabase(server, environment, reader_secret_arn)
    finally:
        werkzeug_logger.setLevel(saved_werkzeug_level)
        os.environ.clear()
        os.environ.update(saved_environment)
        with contextlib.suppress(Exception):
            moto.stop()
        with contextlib.suppress(RuntimeError):
            server.stop()
        server.remove()


def _bootstrap(server: PostgresServer, bundle: Path) -> str:
    """Master role and database as RDS makes them, then the bootstrap; returns the reader's
    secret ARN. Passwords live only in the server and in moto's secrets."""
    client = boto3.client("secretsmanager", region_name=REGION)
    master_password = new_password()
    admin = server.admin()
    try:
        create_login_role(admin, MASTER_USER, master_password, "CREATEROLE CREATEDB")
        # RDS has this role; a vanilla PostgreSQL does not.
        admin.run("CREATE ROLE rds_iam NOLOGIN")
        admin.run(f'CREATE DATABASE {DATABASE_NAME} OWNER "{MASTER_USER}"')
    finally:
        admin.close()
    master_secret_arn = client.create_secret(
        Name="bench-master",
        SecretString=json.dumps({"username": MASTER_USER, "password": master_password}),
    )["ARN"]
    reader_secret_arn = client.create_secret(Name="bench-items-reader")["ARN"]

    master_environment = db_environ(
        host="localhost",
        port=server.port,
        database=DATABASE_NAME,
        user=MASTER_USER,
        ca_bundle=bundle,
        secret_arn=master_secret_arn,
        endpoint_kind="instance",
        log_level="WARNING",
    )
    master = Database(DbSettings.from_environ(master_environment))
    try:
        run_bootstrap(
            parse_event(
                {
                    "schema": "app",
                    "roles": [
                        {"name": READER_USER, "access": "read-only", "secretArn": reader_secret_arn}
                    ],
                    "iamAuth": False,
                }
            ),
            master,
            SecretsManagerReader(REGION),
            Deadline.after(30),
        )
    finally:
        master.close()

    admin = server.admin(DATABASE_NAME)
    try:
        admin.run(
            "INSERT INTO app.items (idempotency_key, payload) "
            "SELECT 'bench-' || n, jsonb_build_object('n', n, 'note', 'benchmark item') "
            "FROM generate_series(1, :count) AS n",
            count=ITEM_COUNT,
        )
    finally:
        admin.close()
    return reader_secret_arn


@contextlib.contextmanager
def quiet_runtime_logs() -> Iterator[None]:
    """The runtime logs JSON to stdout, as Lambda wants; here it goes to /dev/null, so the
    formatting is still paid for but the table stays readable."""
    logger = logging.getLogger(LOGGER_NAME)
    before = list(logger.handlers)
    with open(os.devnull, "w", encoding="utf-8") as devnull, contextlib.redirect_stdout(devnull):
        try:
            yield
        finally:
            for handler in logger.handlers[:]:
                if handler not in before:
                    logger.removeHandler(handler)


def _item_ids() -> Iterator[int]:
    return itertools.cycle(range(1, ITEM_COUNT + 1))


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _ours(ids: Iterator[int]) -> Callable[[], float]:
    """A warm invocation of the reader handler, as Lambda makes it."""

    def invoke() -> float:
        event = http_event(f"/items/{next(ids)}")
        context = FakeLambdaContext()
        started = time.perf_counter()
        response = reader.handler(event, context)
        seconds = time.perf_counter() - started
        _expect_ok(response)
        return seconds

    return invoke


def _naive(ids: Iterator[int], password: SecretPasswordProvider) -> Callable[[], float]:
    """The same handler code, but a new connection in every invocation, closed at the end.

    Kind to the naive pattern: the password and the TLS context are cached across
    invocations, as a module-level variable would keep them, so only the connection differs.
    """

    def invoke() -> float:
        event = http_event(f"/items/{next(ids)}")
        context = FakeLambdaContext()
        started = time.perf_counter()
        deadline = start_invocation(context)
        database = Database(DbSettings.from_environ(), password_provider=password)
        try:
            response = reader.read_items(event, database, deadline)
        finally:
            database.close()
        seconds = time.perf_counter() - started
        _expect_ok(response)
        return seconds

    return invoke


def _expect_ok(response: dict) -> None:
    if response["statusCode"] != 200:
        raise RuntimeError(f"the reader answered {response['statusCode']}: {response['body']}")


def _raw_connection(environment: dict[str, str], password: str) -> pg8000.native.Connection:
    settings = DbSettings.from_environ(environment)
    return pg8000.native.Connection(
        user=settings.user,
        host=settings.host,
        port=settings.port,
        database=settings.database,
        password=password,
        ssl_context=verified_ssl_context(settings.ca_bundle_path),
    )


def _raw(connection: pg8000.native.Connection, ids: Iterator[int]) -> Callable[[], float]:
    """The reader's query on an already open connection, nothing else."""

    def query() -> float:
        item_id = next(ids)
        started = time.perf_counter()
        rows = connection.run(reader.SELECT_ITEM_SQL, item_id=item_id)
        seconds = time.perf_counter() - started
        if not rows:
            raise RuntimeError(f"item {item_id} is missing from the benchmark database")
        return seconds

    return query


def _raw_in_transaction(
    connection: pg8000.native.Connection, ids: Iterator[int]
) -> Callable[[], float]:
    """The query wrapped as the writer's units run (BEGIN and SET LOCAL, the query, COMMIT),
    for scale: the reader itself sends the query alone."""

    def query() -> float:
        item_id = next(ids)
        started = time.perf_counter()
        connection.run(f"BEGIN; SET LOCAL statement_timeout = {RAW_STATEMENT_TIMEOUT_MS}")
        rows = connection.run(reader.SELECT_ITEM_SQL, item_id=item_id)
        connection.run("COMMIT")
        seconds = time.perf_counter() - started
        if not rows:
            raise RuntimeError(f"item {item_id} is missing from the benchmark database")
        return seconds

    return query


def runtime_benchmarks(
    work_dir: Path, *, warm_pairs: int, naive_pairs: int, cold_starts: int
) -> list[Result]:
    results: list[Result] = []
    with local_database(work_dir) as database, quiet_runtime_logs():
        results += connections_for_invocations(database)
        password = SecretPasswordProvider(database.reader_secret_arn, SecretsManagerReader(REGION))
        raw_connection = _raw_connection(
            database.reader_environment, password.password(Deadline.after(10))
        )
        try:
            results += warm_invocations(raw_connection, warm_pairs)
        finally:
            raw_connection.close()
        results += naive_against_ours(database, password, naive_pairs)
        results += cold_start(database, cold_starts)
    return results


def connections_for_invocations(database: LocalDatabase) -> list[Result]:
    """Connections the server authorizes while the reader serves 1,000 invocations, starting
    from a fresh execution environment (the first invocation connects)."""
    before, tls_before = database.connections_authorized(READER_USER)
    ours = _ours(_item_ids())
    for _ in range(INVOCATIONS_FOR_CONNECTION_COUNT):
        ours()
    after, tls_after = database.connections_authorized(READER_USER)
    if after - before != tls_after - tls_before:
        raise RuntimeError("the server authorized a reader connection without TLS")
    return [
        Result(
            f"lambda.connections_for_{INVOCATIONS_FOR_CONNECTION_COUNT}_invocations",
            after - before,
            "connections",
            CONNECTIONS_TARGET,
        )
    ]


def warm_invocations(raw_connection: pg8000.native.Connection, pairs: int) -> list[Result]:
    """Warm reader invocations, the raw query and the raw query in a writer-style transaction,
    interleaved `pairs` times over the same item ids."""
    samples = interleaved(
        pairs,
        [
            ("ours", _ours(_item_ids())),
            ("raw", _raw(raw_connection, _item_ids())),
            ("raw_transaction", _raw_in_transaction(raw_connection, _item_ids())),
        ],
    )
    p50 = {name: percentile(values, 0.5) * 1000 for name, values in samples.items()}
    p99 = {name: percentile(values, 0.99) * 1000 for name, values in samples.items()}
    return [
        Result("lambda.warm.invocations", pairs, "invocations"),
        Result("lambda.warm.ours_p50", p50["ours"], "ms"),
        Result("lambda.warm.ours_p99", p99["ours"], "ms"),
        Result("lambda.warm.raw_query_p50", p50["raw"], "ms"),
        Result("lambda.warm.raw_query_p99", p99["raw"], "ms"),
        Result("lambda.warm.raw_query_in_transaction_p50", p50["raw_transaction"], "ms"),
        Result(
            "lambda.warm.p50_ratio_ours_vs_raw",
            p50["ours"] / p50["raw"],
            "x",
            WARM_P50_RATIO_TARGET,
        ),
        Result("lambda.warm.p99_ratio_ours_vs_raw", p99["ours"] / p99["raw"], "x"),
        Result(
            "lambda.warm.p50_ratio_ours_vs_raw_in_transaction",
            p50["ours"] / p50["raw_transaction"],
            "x",
        ),
    ]


def naive_against_ours(
    database: LocalDatabase, password: SecretPasswordProvider, pairs: int
) -> list[Result]:
    """Connect-per-invocation against our warm invocations, interleaved `pairs` times."""
    before, _ = database.connections_authorized(READER_USER)
    samples = interleaved(
        pairs,
        [("naive", _naive(_item_ids(), password)), ("ours", _ours(_item_ids()))],
    )
    after, _ = database.connections_authorized(READER_USER)
    naive_ms, ours_ms = median(samples["naive"]) * 1000, median(samples["ours"]) * 1000
    return [
        Result("lambda.naive.invocations", pairs, "invocations"),
        Result("lambda.naive.connect_per_invocation_p50", naive_ms, "ms"),
        Result("lambda.naive.ours_p50", ours_ms, "ms"),
        Result("lambda.naive.ratio_naive_vs_ours", naive_ms / ours_ms, "x", NAIVE_RATIO_TARGET),
        Result("lambda.naive.connections_per_invocation", (after - before) / pairs, "connections"),
    ]


def cold_start(database: LocalDatabase, runs: int) -> list[Result]:
    """Fresh processes, each importing the runtime and serving its first invocation; a bare
    `python -c pass` interleaved with them shows what the interpreter alone costs."""
    phases: dict[str, list[float]] = {}
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }

    def one_cold_start() -> float:
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as directory:
            result_path = Path(directory) / "cold.json"
            started = time.perf_counter()
            completed = subprocess.run(
                [sys.executable, "-m", "bench.cold_start", str(result_path), "7"],
                cwd=REPO_ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
            seconds = time.perf_counter() - started
            if completed.returncode != 0:
                raise RuntimeError(f"the cold start failed:\n{completed.stderr[-3000:]}")
            for phase, value in json.loads(result_path.read_text(encoding="utf-8")).items():
                phases.setdefault(phase, []).append(value)
        return seconds

    def bare_python() -> float:
        return _timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))

    samples = interleaved(runs, [("cold", one_cold_start), ("python", bare_python)])
    results = [
        Result("lambda.cold.runs", runs, "processes"),
        Result("lambda.cold.process_ms", median(samples["cold"]) * 1000, "ms"),
        Result("lambda.cold.python_startup_ms", median(samples["python"]) * 1000, "ms"),
    ]
    for phase in (
        "imports_ms",
        "secret_read_ms",
        "tls_connect_ms",
        "first_invocation_ms",
        "second_invocation_ms",
        "iam_token_ms",
        "worker_ms",
    ):
        results.append(Result(f"lambda.cold.{phase}", median(phases[phase]), "ms"))
    return results
