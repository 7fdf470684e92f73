"""One reused connection; recovery from terminated backends, restarts, stalls and overload."""

import json
import logging
import os
import random
import re
import signal
import ssl
import time

import pg8000.native
import pytest
from pg8000.exceptions import DatabaseError, InterfaceError

from lambda_src.database import Database
from lambda_src.errors import (
    CircuitOpenError,
    DeadlineExceededError,
    QueryError,
    TransientDatabaseError,
)
from lambda_src.handlers import reader, writer
from lambda_src.invocation import Deadline
from lambda_src.resilience import (
    BreakerState,
    CircuitBreaker,
    FailureKind,
    RetryPolicy,
    classify,
)
from lambda_src.tls import verified_ssl_context

from .helpers import (
    FakeLambdaContext,
    RecordedSleep,
    backend_pids,
    create_login_role,
    events_of,
    http_event,
    new_password,
    settings_for,
    sqs_event,
    terminate_backends,
    unique_name,
)
from .net_faults import SilentListener
from .pg_server import free_port

WARM_INVOCATIONS = 1000


@pytest.fixture
def item_id(postgres, app_database) -> int:
    admin = postgres.admin(app_database.name)
    try:
        rows = admin.run(
            "INSERT INTO app.items (idempotency_key, payload) VALUES (:k, '{\"n\": 1}') "
            "RETURNING id",
            k=unique_name("seed"),
        )
    finally:
        admin.close()
    return rows[0][0]


def _reader_database(postgres, tls, app_database, **options) -> Database:
    settings = settings_for(
        host="localhost",
        port=postgres.port,
        database=app_database.name,
        user=app_database.reader_user,
        ca_bundle=tls.trusted_bundle,
        secret_arn=app_database.reader_secret_arn,
    )
    return Database(settings, **options)


def test_database_warm_invocations_share_one_server_connection(
    postgres, app_database, use_role, item_id, caplog
):
    use_role(app_database.reader_user, app_database.reader_secret_arn)
    event = http_event(f"/items/{item_id}")
    admin = postgres.admin()
    try:
        first = reader.handler(event, FakeLambdaContext())
        assert first["statusCode"] == 200
        pids_after_first = backend_pids(admin, app_database.reader_user)

        started = time.perf_counter()
        for _ in range(WARM_INVOCATIONS - 1):
            response = reader.handler(event, FakeLambdaContext())
            assert response["statusCode"] == 200
        elapsed_seconds = time.perf_counter() - started

        pids_after_all = backend_pids(admin, app_database.reader_user)
    finally:
        admin.close()

    assert len(pids_after_first) == 1
    assert pids_after_all == pids_after_first
    assert len(events_of(caplog, "db.connected")) == 1
    assert len(events_of(caplog, "secret.read")) == 1
    requests = events_of(caplog, "reader.request")
    assert len(requests) == WARM_INVOCATIONS
    assert [r.cold_start for r in requests[:2]] == [True, False]
    assert len({r.request_id for r in requests}) == WARM_INVOCATIONS
    assert {(r.status_code, r.attempt) for r in requests} == {(200, 1)}
    assert all(r.latency_ms > 0 for r in requests)
    # One line per warm invocation at INFO and above: the connection's lines come only once.
    informative = [
        r.event
        for r in caplog.records
        if r.name.startswith("lambda_src") and r.levelno >= logging.INFO
    ]
    assert sorted(informative[:2]) == ["db.connected", "secret.read"]
    assert informative[2:] == ["reader.request"] * WARM_INVOCATIONS
    # Not a benchmark (see bench/), only a guard against something pathological such as a
    # reconnect per invocation, which costs a TLS handshake and a SCRAM exchange each time.
    assert elapsed_seconds < 60


def test_database_backend_terminated_between_invocations_next_succeeds(
    postgres, app_database, use_role, item_id, caplog
):
    use_role(app_database.reader_user, app_database.reader_secret_arn)
    event = http_event(f"/items/{item_id}")
    assert reader.handler(event, FakeLambdaContext())["statusCode"] == 200

    admin = postgres.admin()
    try:
        assert terminate_backends(admin, app_database.reader_user) == 1
        response = reader.handler(event, FakeLambdaContext())
        pids = backend_pids(admin, app_database.reader_user)
    finally:
        admin.close()

    assert response["statusCode"] == 200
    assert len(pids) == 1
    failed = events_of(caplog, "db.attempt_failed")
    assert [r.attempt for r in failed] == [1]
    assert failed[0].sqlstate in ("57P01", None)  # the FATAL message, or just a closed socket
    assert events_of(caplog, "reader.request")[-1].attempt == 2
    assert len(events_of(caplog, "db.connected")) == 2


def test_database_session_closed_by_idle_session_timeout_next_transaction_succeeds(
    postgres, tls, secrets_client, caplog
):
    # GIVEN a role whose sessions the server ends after 200 ms idle (FATAL 57P05)
    user, password = unique_name("idle"), new_password()
    admin = postgres.admin()
    try:
        create_login_role(admin, user, password)
        admin.run(f'ALTER ROLE "{user}" SET idle_session_timeout = 200')
        arn = secrets_client.create_secret(
            Name=unique_name("secret"), SecretString=json.dumps({"password": password})
        )["ARN"]
        database = Database(
            settings_for(
                host="localhost",
                port=postgres.port,
                database="postgres",
                user=user,
                ca_bundle=tls.trusted_bundle,
                secret_arn=arn,
            )
        )
        first_pid = database.run_transaction(
            lambda c: c.run("SELECT pg_backend_pid()"), Deadline.after(10)
        )[0][0]
        # WHEN the server has closed the idle session (awaited in pg_stat_activity)
        deadline = time.monotonic() + 10
        while backend_pids(admin, user) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend_pids(admin, user) == []
    finally:
        admin.close()

    # THEN the next transaction opens a new session and succeeds
    try:
        second_pid = database.run_transaction(
            lambda c: c.run("SELECT pg_backend_pid()"), Deadline.after(10)
        )[0][0]
    finally:
        database.close()
    assert second_pid != first_pid
    assert len(events_of(caplog, "db.connected")) == 2
    assert {r.sqlstate for r in events_of(caplog, "db.attempt_failed")} <= {"57P05", None}


def test_database_server_restart_next_invocation_succeeds_after_retry(
    postgres, app_database, use_role, item_id, caplog
):
    use_role(app_database.reader_user, app_database.reader_secret_arn)
    event = http_event(f"/items/{item_id}")
    assert reader.handler(event, FakeLambdaContext())["statusCode"] == 200

    postgres.restart()
    response = reader.handler(event, FakeLambdaContext())

    assert response["statusCode"] == 200
    assert [r.attempt for r in events_of(caplog, "db.attempt_failed")] == [1]
    assert [r.attempt for r in events_of(caplog, "db.retry")] == [2]
    assert events_of(caplog, "reader.request")[-1].attempt == 2


def test_database_stalled_server_fails_within_connect_timeout_and_keeps_nothing(tls, app_database):
    listener = SilentListener()
    sleep = RecordedSleep([])
    database = Database(
        settings_for(
            host="127.0.0.1",
            port=listener.port,
            database=app_database.name,
            user=app_database.reader_user,
            ca_bundle=tls.trusted_bundle,
            secret_arn=app_database.reader_secret_arn,
        ),
        connect_timeout_seconds=0.5,
        retry_policy=RetryPolicy(max_attempts=2, base_delay_seconds=0.01),
        sleep=sleep,
    )
    try:
        started = time.monotonic()
        with pytest.raises(TransientDatabaseError) as raised:
            database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))
        elapsed_seconds = time.monotonic() - started
    finally:
        listener.close()

    assert listener.accepted == 2
    # Two connect timeouts, plus room for the secret fetch from moto on a loaded machine; a
    # connect that ignored its timeout would run into the 10 s deadline instead.
    assert 2 * 0.5 <= elapsed_seconds < 2 * 0.5 + 3.0
    assert "still failed after 2 attempts" in str(raised.value)
    assert not database.is_connected


def test_database_stalled_query_fails_within_remaining_time_and_discards_connection(
    postgres, tls, app_database
):
    database = _reader_database(postgres, tls, app_database)
    backend_pid = database.run_transaction(
        lambda c: c.run("SELECT pg_backend_pid()"), Deadline.after(10)
    )[0][0]
    remaining_seconds = 1.0
    os.kill(backend_pid, signal.SIGSTOP)  # the server process stops answering mid-session
    try:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as raised:
            database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(remaining_seconds))
        elapsed_seconds = time.monotonic() - started
    finally:
        os.kill(backend_pid, signal.SIGCONT)
        database.close()

    assert remaining_seconds * 0.9 <= elapsed_seconds < remaining_seconds + 0.5
    assert "too little for another attempt" in str(raised.value)
    assert not database.is_connected


def test_database_transaction_of_several_slow_statements_ends_at_the_deadline(
    postgres, tls, app_database
):
    # GIVEN 1.5 s left and a unit of work of three statements of 0.6 s each: every one is
    # within the time left when the transaction starts, all three together are not
    database = _reader_database(
        postgres, tls, app_database, retry_policy=RetryPolicy(max_attempts=1)
    )
    remaining_seconds = 1.5

    def three_slow_statements(connection) -> None:
        for _ in range(3):
            connection.run("SELECT pg_sleep(0.6)")

    # WHEN it runs
    started = time.monotonic()
    try:
        with pytest.raises(TransientDatabaseError):
            database.run_transaction(three_slow_statements, Deadline.after(remaining_seconds))
        elapsed_seconds = time.monotonic() - started
    finally:
        database.close()

    # THEN it fails by the deadline instead of finishing after it, and keeps no connection
    assert elapsed_seconds < remaining_seconds + 0.2
    assert not database.is_connected


def test_database_max_connections_exhausted_retries_with_jitter_then_breaker_opens_and_recovers(
    postgres, tls, app_database, caplog
):
    hog_user, hog_password = unique_name("hog"), new_password()
    admin = postgres.admin()
    try:
        create_login_role(admin, hog_user, hog_password)
    finally:
        admin.close()

    clock_seconds = [1000.0]
    breaker = CircuitBreaker(
        failure_threshold=4, cooldown_seconds=30, clock=lambda: clock_seconds[0]
    )
    sleep = RecordedSleep([])
    policy = RetryPolicy(max_attempts=3, base_delay_seconds=0.05, max_delay_seconds=1.0)
    database = _reader_database(
        postgres,
        tls,
        app_database,
        breaker=breaker,
        retry_policy=policy,
        sleep=sleep,
        rng=random.Random(20261203),
    )
    held = _fill_all_connection_slots(postgres, tls, hog_user, hog_password)
    try:
        # Invocation 1: three attempts, each refused with 53300, two jittered backoffs.
        with pytest.raises(TransientDatabaseError) as first:
            database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))
        assert first.value.sqlstate == "53300"
        expected_rng = random.Random(20261203)
        assert sleep.delays == [
            policy.delay_seconds(1, expected_rng),
            policy.delay_seconds(2, expected_rng),
        ]
        assert 0 <= sleep.delays[0] <= 0.05 and 0 <= sleep.delays[1] <= 0.1
        assert breaker.state is BreakerState.CLOSED

        # Invocation 2: the fourth failure in a row opens the breaker; no backoff is slept.
        with pytest.raises(CircuitOpenError) as second:
            database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))
        assert second.value.sqlstate == "53300"
        assert breaker.state is BreakerState.OPEN
        assert len(sleep.delays) == 2

        # Invocation 3: fails fast without touching the server.
        attempts_before = len(events_of(caplog, "db.attempt_failed"))
        started = time.monotonic()
        with pytest.raises(CircuitOpenError):
            database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))
        assert time.monotonic() - started < 0.1
        assert len(events_of(caplog, "db.attempt_failed")) == attempts_before
    finally:
        for connection in held:
            connection.close()

    # Connections are free again and the cool-down has passed: one trial, then closed.
    clock_seconds[0] += 31
    assert breaker.state is BreakerState.HALF_OPEN
    try:
        rows = database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))
    finally:
        database.close()
    assert rows == [[1]]
    assert breaker.state is BreakerState.CLOSED
    assert {r.sqlstate for r in events_of(caplog, "db.attempt_failed")} == {"53300"}


def test_database_session_is_never_pinned(postgres, app_database, use_role, item_id):
    """Read the server's own statement log for the roles' sessions: nothing that pins."""
    admin = postgres.admin()
    roles = (app_database.writer_user, app_database.reader_user)
    try:
        for role in roles:
            admin.run(f"ALTER ROLE \"{role}\" SET log_statement = 'all'")
        log_offset = postgres.log_file.stat().st_size

        use_role(app_database.writer_user, app_database.writer_secret_arn)
        body = json.dumps({"idempotencyKey": unique_name("pin"), "payload": {"a": 1}})
        assert writer.handler(sqs_event(body, body), FakeLambdaContext()) == {
            "batchItemFailures": []
        }
        use_role(app_database.reader_user, app_database.reader_secret_arn)
        assert (
            reader.handler(http_event(f"/items/{item_id}"), FakeLambdaContext())["statusCode"]
            == 200
        )
        assert (
            reader.handler(http_event("/items", {"limit": "5"}), FakeLambdaContext())["statusCode"]
            == 200
        )
    finally:
        for role in roles:
            admin.run(f'ALTER ROLE "{role}" RESET log_statement')
        admin.close()

    statements = _statements_logged_since(postgres, log_offset, roles, app_database.name)
    assert len(statements) >= 8
    forbidden = re.compile(
        r"\b(PREPARE|DECLARE|LISTEN|TEMP|TEMPORARY|pg_advisory\w*|set_config)\b", re.IGNORECASE
    )
    for statement in statements:
        assert not forbidden.search(statement), statement
        # Extended-protocol statements are unnamed; simple queries appear as "statement:".
        assert statement.startswith(("statement:", "execute <unnamed>:")), statement
        sql = statement.split(":", 1)[1].strip()
        if re.match(r"SET\b", sql, re.IGNORECASE):
            raise AssertionError(f"session-level SET sent: {sql}")
        if "SET " in sql.upper():
            assert re.fullmatch(r"BEGIN; SET LOCAL statement_timeout = \d+", sql), sql


def test_reader_invocation_sends_exactly_one_statement(postgres, app_database, use_role, item_id):
    """The server's statement log: no BEGIN, SET or COMMIT around a read, cold or warm."""
    role = app_database.reader_user
    admin = postgres.admin()
    statements_per_invocation = []
    try:
        admin.run(f"ALTER ROLE \"{role}\" SET log_statement = 'all'")
        use_role(role, app_database.reader_secret_arn)
        for event in (
            http_event(f"/items/{item_id}"),  # cold: connects first
            http_event(f"/items/{item_id}"),
            http_event("/items", {"limit": "5"}),
        ):
            log_offset = postgres.log_file.stat().st_size
            assert reader.handler(event, FakeLambdaContext())["statusCode"] == 200
            statements_per_invocation.append(
                _statements_logged_since(postgres, log_offset, (role,), app_database.name)
            )
    finally:
        admin.run(f'ALTER ROLE "{role}" RESET log_statement')
        admin.close()

    assert [len(statements) for statements in statements_per_invocation] == [1, 1, 1]
    item, again, listing = (statements[0] for statements in statements_per_invocation)
    assert item == again == f"execute <unnamed>: {_numbered(reader.SELECT_ITEM_SQL)}"
    assert listing == f"execute <unnamed>: {_numbered(reader.SELECT_ITEMS_SQL)}"


def test_database_read_is_stopped_by_the_server_statement_timeout_and_keeps_the_session(
    postgres, tls, secrets_client, caplog
):
    # GIVEN a role whose sessions get statement_timeout from the server, as the parameter
    # group gives every session on RDS
    user, password = unique_name("bounded"), new_password()
    admin = postgres.admin()
    try:
        create_login_role(admin, user, password)
        admin.run(f'ALTER ROLE "{user}" SET statement_timeout = 300')
    finally:
        admin.close()
    arn = secrets_client.create_secret(
        Name=unique_name("secret"), SecretString=json.dumps({"password": password})
    )["ARN"]
    database = Database(
        settings_for(
            host="localhost",
            port=postgres.port,
            database="postgres",
            user=user,
            ca_bundle=tls.trusted_bundle,
            secret_arn=arn,
        )
    )
    try:
        pid = database.run_read("SELECT pg_backend_pid()", Deadline.after(10))[0][0]

        # WHEN a read runs longer than that, with far more time left in the invocation
        started = time.monotonic()
        with pytest.raises(QueryError) as raised:
            database.run_read("SELECT pg_sleep(:seconds)", Deadline.after(10), seconds=5)
        elapsed_seconds = time.monotonic() - started

        # THEN the server stops it (57014, not retried) and the session stays usable
        pid_after = database.run_read("SELECT pg_backend_pid()", Deadline.after(10))[0][0]
    finally:
        database.close()
    assert raised.value.sqlstate == "57014"
    assert elapsed_seconds < 2
    assert events_of(caplog, "db.attempt_failed") == []
    assert pid_after == pid


def test_database_stalled_read_fails_within_remaining_time_and_discards_connection(
    postgres, tls, app_database
):
    database = _reader_database(postgres, tls, app_database)
    backend_pid = database.run_read("SELECT pg_backend_pid()", Deadline.after(10))[0][0]
    remaining_seconds = 1.0
    os.kill(backend_pid, signal.SIGSTOP)  # the server process stops answering mid-session
    try:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as raised:
            database.run_read("SELECT 1", Deadline.after(remaining_seconds))
        elapsed_seconds = time.monotonic() - started
    finally:
        os.kill(backend_pid, signal.SIGCONT)
        database.close()

    assert remaining_seconds * 0.9 <= elapsed_seconds < remaining_seconds + 0.5
    assert "too little for another attempt" in str(raised.value)
    assert not database.is_connected


def _statements_logged_since(postgres, offset: int, roles, database_name: str) -> list[str]:
    """What the server logged (log_statement) for `roles` after byte `offset` of its log."""
    with postgres.log_file.open() as log:
        log.seek(offset)
        lines = [
            line
            for line in log
            if any(f"{role}@{database_name}" in line for role in roles) and "LOG:" in line
        ]
    return [line.split("LOG:", 1)[1].strip() for line in lines]


def _numbered(sql: str) -> str:
    """`sql` as the server logs it: pg8000 turns each :name into $1, $2, ..."""
    names: dict[str, str] = {}
    return re.sub(r":(\w+)", lambda m: names.setdefault(m[1], f"${len(names) + 1}"), sql)


def test_retry_policy_full_jitter_stays_within_exponential_ceiling():
    policy = RetryPolicy(max_attempts=5, base_delay_seconds=0.1, max_delay_seconds=0.5)
    rng = random.Random(7)
    for failed_attempts, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (5, 0.5)):
        samples = [policy.delay_seconds(failed_attempts, rng) for _ in range(2000)]
        assert min(samples) >= 0 and max(samples) <= ceiling
        # Full jitter spreads the delays over the whole range, not around one value.
        assert min(samples) < ceiling * 0.05 and max(samples) > ceiling * 0.95
        assert abs(sum(samples) / len(samples) - ceiling / 2) < ceiling * 0.05


def test_circuit_breaker_opens_half_opens_and_closes():
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=10, clock=lambda: now[0])
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()

    now[0] = 10.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # only one trial at a time
    breaker.record_failure()  # the trial failed: open again for a full cool-down
    assert breaker.state is BreakerState.OPEN
    assert breaker.seconds_until_trial() == pytest.approx(10.0)

    now[0] = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def _fill_all_connection_slots(postgres, tls, user: str, password: str) -> list:
    """Open TLS connections as `user` until the server answers 53300 (too many clients)."""
    held: list[pg8000.native.Connection] = []
    context = verified_ssl_context(tls.trusted_bundle)
    for _ in range(postgres.max_connections + 1):
        try:
            held.append(
                pg8000.native.Connection(
                    user=user,
                    password=password,
                    host="localhost",
                    port=postgres.port,
                    database="postgres",
                    ssl_context=context,
                    timeout=10,
                )
            )
        except DatabaseError as exc:
            assert exc.args[0]["C"] == "53300", exc.args[0]
            return held
    for connection in held:
        connection.close()
    raise AssertionError("the server never refused a connection")


def test_database_read_only_server_connection_replaced_until_writable_again(
    postgres, app_database, use_role, caplog
):
    """25006, as after a failover that left the session on a demoted primary."""
    use_role(app_database.writer_user, app_database.writer_secret_arn)
    body = json.dumps({"idempotencyKey": unique_name("ro"), "payload": {}})
    admin = postgres.admin()
    try:
        admin.run(f'ALTER ROLE "{app_database.writer_user}" SET default_transaction_read_only = on')
        failed = writer.handler(sqs_event(body, ids=["m-1"]), FakeLambdaContext())
    finally:
        admin.run(f'ALTER ROLE "{app_database.writer_user}" RESET default_transaction_read_only')
        admin.close()
    recovered = writer.handler(sqs_event(body, ids=["m-1"]), FakeLambdaContext())

    assert failed == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert recovered == {"batchItemFailures": []}
    assert [r.sqlstate for r in events_of(caplog, "db.attempt_failed")] == ["25006"] * 3
    # Each read-only session was thrown away: three for the failed call, one for the next.
    assert len(events_of(caplog, "db.connected")) == 4


@pytest.mark.parametrize(
    ("error", "kind", "discard"),
    [
        (DatabaseError({"C": "53300", "M": "too many clients"}), FailureKind.TRANSIENT, False),
        (DatabaseError({"C": "08006", "M": "connection failure"}), FailureKind.TRANSIENT, True),
        (DatabaseError({"C": "57P01", "M": "terminating"}), FailureKind.TRANSIENT, True),
        (DatabaseError({"C": "57P03", "M": "starting up"}), FailureKind.TRANSIENT, True),
        (DatabaseError({"V": "FATAL", "C": "57P05", "M": "idle"}), FailureKind.TRANSIENT, True),
        # FATAL always ends the session, whatever the code: the connection cannot be reused.
        (DatabaseError({"V": "FATAL", "C": "3D000", "M": "no db"}), FailureKind.PERMANENT, True),
        (DatabaseError({"S": "FATAL", "C": "XX000", "M": "internal"}), FailureKind.PERMANENT, True),
        (DatabaseError({"C": "40001", "M": "serialization"}), FailureKind.TRANSIENT, False),
        (DatabaseError({"C": "40P01", "M": "deadlock"}), FailureKind.TRANSIENT, False),
        (DatabaseError({"C": "25006", "M": "read-only"}), FailureKind.TRANSIENT, True),
        (DatabaseError({"C": "28P01", "M": "password"}), FailureKind.AUTHENTICATION, True),
        (DatabaseError({"C": "28000", "M": "no entry"}), FailureKind.AUTHENTICATION, True),
        (DatabaseError({"C": "23505", "M": "duplicate"}), FailureKind.PERMANENT, False),
        (DatabaseError({"C": "42501", "M": "permission"}), FailureKind.PERMANENT, False),
        (DatabaseError({"C": "57014", "M": "statement timeout"}), FailureKind.PERMANENT, False),
        (InterfaceError("network error"), FailureKind.TRANSIENT, True),
        (InterfaceError("connection is closed"), FailureKind.TRANSIENT, True),
        (InterfaceError("Server refuses SSL"), FailureKind.TLS, True),
        (InterfaceError("There's a placeholder 'x' in the query"), FailureKind.PERMANENT, False),
        (TimeoutError("timed out"), FailureKind.TRANSIENT, True),
        (ConnectionRefusedError(111, "refused"), FailureKind.TRANSIENT, True),
        (ssl.SSLCertVerificationError("certificate verify failed"), FailureKind.TLS, True),
        (ssl.SSLEOFError("EOF"), FailureKind.TRANSIENT, True),
    ],
)
def test_classify_sorts_failures(error, kind, discard):
    failure = classify(error)
    assert (failure.kind, failure.discard_connection) == (kind, discard)


def test_database_no_time_left_does_not_spend_the_half_open_trial(tls):
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10, clock=lambda: now[0])
    breaker.record_failure()
    now[0] = 10.0
    database = Database(
        settings_for(
            host="localhost",
            port=free_port(),
            database="app",
            user="app_user",
            ca_bundle=tls.trusted_bundle,
            auth_mode="iam",
        ),
        breaker=breaker,
    )

    with pytest.raises(DeadlineExceededError):
        database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(0.05))

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the trial is still there for the next invocation
