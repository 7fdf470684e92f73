"""One verified TLS connection per execution environment, with retries and a circuit breaker."""

import logging
import os
import random
import time
from collections.abc import Callable
from typing import TypeVar

import pg8000.native
from pg8000.exceptions import Error as Pg8000Error

from lambda_src.credentials import PasswordProvider, password_provider_for
from lambda_src.errors import (
    AuthenticationFailedError,
    CircuitOpenError,
    DatabaseRuntimeError,
    DeadlineExceededError,
    QueryError,
    TlsError,
    TransientDatabaseError,
)
from lambda_src.invocation import Deadline
from lambda_src.logs import LOGGER_NAME, configure_logging, log_event
from lambda_src.resilience import (
    BreakerState,
    CircuitBreaker,
    Failure,
    FailureKind,
    RetryPolicy,
    classify,
)
from lambda_src.settings import INSTANCE_TRUST_BUNDLE, DbSettings
from lambda_src.tls import require_rds_root_for_region, verified_ssl_context

logger = logging.getLogger(f"{LOGGER_NAME}.database")

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 5.0
QUERY_TIMEOUT_SECONDS = 10.0
# An attempt is not started with less time than this left: it could not finish anyway.
MIN_ATTEMPT_SECONDS = 0.2
DEFAULT_APPLICATION_NAME = "lambda-private-db"

# Below this much time left, a statement is not sent: the socket could not wait for its answer.
MIN_STATEMENT_SECONDS = 0.05

Work = Callable[["BoundedConnection"], T]


class Database:
    """Runs reads and transactions over one lazily opened, reused connection.

    A read (`run_read`) is one statement sent on its own, in autocommit: one exchange with
    the server, where a transaction costs a BEGIN and a COMMIT besides. A unit of work that
    writes, or needs several statements, runs in a transaction (`run_transaction`).

    Either may run more than once when a transient failure interrupts it, so it must be
    idempotent (the writer's ON CONFLICT DO NOTHING, reads, the bootstrap's IF NOT EXISTS).

    Nothing here pins an RDS Proxy session: statements go out as unnamed prepared statements
    or simple queries, the only SET is SET LOCAL inside a transaction, and no cursor,
    temporary table, advisory lock or LISTEN is used.
    """

    def __init__(
        self,
        settings: DbSettings,
        *,
        password_provider: PasswordProvider | None = None,
        retry_policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS,
        query_timeout_seconds: float = QUERY_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        application_name: str | None = None,
    ) -> None:
        self.settings = settings
        self.breaker = breaker or CircuitBreaker()
        self.retry_policy = retry_policy or RetryPolicy()
        self.connect_timeout_seconds = connect_timeout_seconds
        self.query_timeout_seconds = query_timeout_seconds
        self._passwords = password_provider or password_provider_for(settings)
        self._ssl_context = verified_ssl_context(settings.ca_bundle_path)
        if settings.ca_bundle_path == INSTANCE_TRUST_BUNDLE:
            require_rds_root_for_region(self._ssl_context, settings.region, INSTANCE_TRUST_BUNDLE)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._application_name = application_name or os.environ.get(
            "AWS_LAMBDA_FUNCTION_NAME", DEFAULT_APPLICATION_NAME
        )
        self._connection: pg8000.native.Connection | None = None
        # Attempts the latest run_read or run_transaction made, for the invocation's log line.
        self.last_attempt = 0

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    def run_read(self, sql: str, deadline: Deadline, **params: object) -> list | None:
        """Run one read-only statement in autocommit, retrying transient failures.

        No BEGIN, no SET, no COMMIT: the statement is the only message of the exchange, and the
        server runs it in a transaction of its own. pg8000's native connection sends exactly
        what it is given (it has no autocommit switch to turn off), and with parameters it uses
        the extended protocol, whose unnamed statement the server refuses to split into several.

        Its time is bounded on two sides. The client waits at most min(query timeout, time
        left) on the socket and throws the connection away when that runs out. The server
        stops the statement at the `statement_timeout` of the parameter group (or the role):
        RDS Proxy does not pass a client's cancel request on, and a session-level SET here
        would pin the proxy session. A statement the client gave up on can therefore keep
        running on the server until that timeout.
        """
        return self._with_retries(
            lambda: self._read_attempt(sql, params, deadline), deadline, "db.read"
        )

    def run_transaction(self, work: Work[T], deadline: Deadline) -> T:
        """Run `work(connection)` between BEGIN and COMMIT, retrying transient failures."""
        return self._with_retries(
            lambda: self._transaction_attempt(work, deadline), deadline, "db.transaction"
        )

    def _with_retries(self, attempt_once: Callable[[], T], deadline: Deadline, event: str) -> T:
        policy = self.retry_policy
        self.last_attempt = 0
        for attempt in range(1, policy.max_attempts + 1):
            # The time check comes first: a half-open breaker's single trial must not be
            # spent on an attempt that cannot run.
            if deadline.remaining() < MIN_ATTEMPT_SECONDS:
                raise DeadlineExceededError(
                    f"Only {deadline.remaining():.2f} s of the invocation is left, too little "
                    f"for attempt {attempt} on {self._where()}; raise the function's timeout."
                )

            if not self.breaker.allow():
                raise CircuitOpenError(
                    f"The database at {self._where()} failed {self.breaker.failure_threshold} "
                    "times in a row; calls fail fast for another "
                    f"{self.breaker.seconds_until_trial():.1f} s before one trial call."
                )

            self.last_attempt = attempt
            started = time.monotonic()
            try:
                result = attempt_once()
            except DatabaseRuntimeError:
                # Raised by this library with its own message (credentials, TLS, deadline).
                self.breaker.record_inconclusive()
                raise
            except (Pg8000Error, OSError) as exc:
                failure = classify(exc)
                latency_ms = _milliseconds_since(started)
                if failure.kind is not FailureKind.TRANSIENT:
                    # The server answered, so it is reachable: that is all the breaker tracks.
                    self.breaker.record_success()
                    raise self._permanent_error(failure, exc) from exc

                self.breaker.record_failure()
                log_event(
                    logger,
                    logging.WARNING,
                    "db.attempt_failed",
                    f"Attempt {attempt} on {self._where()} failed: {type(exc).__name__}",
                    attempt=attempt,
                    sqlstate=failure.sqlstate,
                    error_type=type(exc).__name__,
                    latency_ms=latency_ms,
                    breaker_state=self.breaker.state.value,
                )
                if self.breaker.state is BreakerState.OPEN:
                    raise CircuitOpenError(
                        f"The database at {self._where()} failed "
                        f"{self.breaker.failure_threshold} times in a row "
                        f"(last: {_describe(failure, exc)}); the circuit breaker opened and "
                        f"calls fail fast for {self.breaker.cooldown_seconds:.0f} s.",
                        sqlstate=failure.sqlstate,
                    ) from exc
                if attempt == policy.max_attempts:
                    raise TransientDatabaseError(
                        f"The database at {self._where()} still failed after {attempt} attempts "
                        f"(last: {_describe(failure, exc)}); the failure looked transient, so "
                        "the caller may retry later.",
                        sqlstate=failure.sqlstate,
                    ) from exc
                delay = policy.delay_seconds(attempt, self._rng)
                if deadline.remaining() - delay < MIN_ATTEMPT_SECONDS:
                    raise DeadlineExceededError(
                        f"The database at {self._where()} failed ({_describe(failure, exc)}) and "
                        f"only {deadline.remaining():.2f} s of the invocation is left, too "
                        "little for another attempt.",
                        sqlstate=failure.sqlstate,
                    ) from exc
                log_event(
                    logger,
                    logging.INFO,
                    "db.retry",
                    f"Retrying in {delay * 1000:.0f} ms",
                    attempt=attempt + 1,
                    delay_ms=round(delay * 1000, 1),
                )
                self._sleep(delay)
                continue
            except BaseException:
                self.breaker.record_inconclusive()
                raise

            self.breaker.record_success()
            # The handler writes the invocation's one INFO line; this one is for debugging.
            log_event(
                logger,
                logging.DEBUG,
                event,
                "Done",
                attempt=attempt,
                latency_ms=_milliseconds_since(started),
            )
            return result
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def close(self) -> None:
        """Close the connection, if any (a new one is opened on the next transaction)."""
        self._discard()

    def _read_attempt(self, sql: str, params: dict[str, object], deadline: Deadline) -> list | None:
        connection = self._connect(deadline)
        budget_seconds = self._statement_budget(deadline)
        _set_socket_timeout(connection, budget_seconds)
        try:
            return connection.run(sql, **params)
        except BaseException as exc:
            # After a server error pg8000 has read up to ReadyForQuery, and the server has
            # ended the statement's own transaction: the session is idle and can be kept.
            # Anything else (a timeout, a broken socket) may have left half a message.
            if not (
                isinstance(exc, Pg8000Error | OSError) and not classify(exc).discard_connection
            ):
                self._discard()
            raise

    def _transaction_attempt(self, work: Work[T], deadline: Deadline) -> T:
        connection = self._connect(deadline)
        budget_seconds = self._statement_budget(deadline)
        # The server-side statement_timeout stops each query there; the client-side socket
        # timeout is set again before every statement to the time then left (BoundedConnection),
        # so a transaction of several statements cannot outlive the invocation either. SET
        # LOCAL ends with the transaction, so the session (and an RDS Proxy connection) stays
        # unpinned.
        bounded = BoundedConnection(connection, deadline, budget_seconds)
        statement_timeout_ms = max(1, int(budget_seconds * 1000))
        try:
            bounded.run(f"BEGIN; SET LOCAL statement_timeout = {statement_timeout_ms}")
            result = work(bounded)
            bounded.run("COMMIT")
        except BaseException as exc:
            self._abandon_transaction(connection, exc)
            raise
        return result

    def _statement_budget(self, deadline: Deadline) -> float:
        budget_seconds = deadline.budget(self.query_timeout_seconds)
        if budget_seconds < MIN_ATTEMPT_SECONDS:
            raise DeadlineExceededError(
                f"Only {budget_seconds:.2f} s of the invocation is left after connecting to "
                f"{self._where()}; raise the function's timeout."
            )
        return budget_seconds

    def _connect(self, deadline: Deadline) -> pg8000.native.Connection:
        if self._connection is not None:
            return self._connection
        settings = self.settings
        for credential_try in (1, 2):
            password = self._passwords.password(deadline)
            timeout_seconds = deadline.budget(self.connect_timeout_seconds)
            if timeout_seconds < MIN_ATTEMPT_SECONDS:
                raise DeadlineExceededError(
                    f"Only {timeout_seconds:.2f} s of the invocation is left, too little to "
                    f"connect to {self._where()}; raise the function's timeout."
                )
            started = time.monotonic()
            try:
                connection = pg8000.native.Connection(
                    user=settings.user,
                    host=settings.host,
                    port=settings.port,
                    database=settings.database,
                    password=password,
                    ssl_context=self._ssl_context,
                    timeout=timeout_seconds,
                    application_name=self._application_name,
                    tcp_keepalive=True,
                )
            except (Pg8000Error, OSError) as exc:
                failure = classify(exc)
                if failure.kind is FailureKind.TLS:
                    raise TlsError(self._tls_message(exc)) from exc
                if failure.kind is not FailureKind.AUTHENTICATION:
                    raise
                if credential_try == 1:
                    # The password may have been rotated since it was cached: fetch it again
                    # and try once more. A second refusal is final (no loop).
                    log_event(
                        logger,
                        logging.WARNING,
                        "db.auth_failed",
                        "Authentication failed; fetching the credentials again",
                        sqlstate=failure.sqlstate,
                        user=settings.user,
                        auth_mode=settings.auth_mode,
                    )
                    self._passwords.invalidate()
                    continue
                raise AuthenticationFailedError(
                    f"PostgreSQL at {self._where()} rejected user '{settings.user}' "
                    f"(SQLSTATE {failure.sqlstate}) twice, the second time with credentials "
                    f"fetched again ({self._credential_source()}). Check that the role exists, "
                    "may log in, and that its password or rds_iam grant matches; not retrying."
                ) from exc
            self._connection = connection
            log_event(
                logger,
                logging.INFO,
                "db.connected",
                f"Connected to {self._where()}",
                latency_ms=_milliseconds_since(started),
                user=settings.user,
                endpoint_kind=settings.endpoint_kind,
                auth_mode=settings.auth_mode,
            )
            return connection
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _abandon_transaction(
        self, connection: pg8000.native.Connection, exc: BaseException
    ) -> None:
        """Roll back after a failed unit of work, or drop the connection if it is unusable."""
        if isinstance(exc, Pg8000Error | OSError) and classify(exc).discard_connection:
            self._discard()
            return
        try:
            connection.run("ROLLBACK")
        except Exception:
            self._discard()

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            # A timed-out socket may hold half a message: close it without a goodbye.
            _set_socket_timeout(connection, MIN_ATTEMPT_SECONDS)
            connection.close()
        except Exception:
            log_event(
                logger,
                logging.DEBUG,
                "db.discarded",
                "Discarded a broken connection (closing it failed, as expected)",
            )

    def _permanent_error(self, failure: Failure, exc: BaseException) -> DatabaseRuntimeError:
        if failure.kind is FailureKind.TLS:
            return TlsError(self._tls_message(exc))
        return QueryError(
            f"PostgreSQL at {self._where()} rejected the statement: {_describe(failure, exc)}; "
            "retrying cannot fix this.",
            sqlstate=failure.sqlstate,
        )

    def _tls_message(self, exc: BaseException) -> str:
        where = self._where()
        bundle = self.settings.ca_bundle_path
        reason = getattr(exc, "verify_message", None) or str(exc)
        if "refuses SSL" in str(exc):
            return (
                f"The server at {where} refused TLS; this library never falls back to "
                "plaintext. Require TLS on the server (rds.force_ssl=1, RDS Proxy "
                "require_tls=true) and check DB_HOST."
            )
        return (
            f"The server certificate of {where} did not verify against {str(bundle)!r} "
            f"({reason}). Check that DB_HOST is the endpoint's own name and that "
            f"DB_ENDPOINT_KIND ('{self.settings.endpoint_kind}') matches it, or point "
            "DB_CA_BUNDLE at the CA that issued the server certificate."
        )

    def _credential_source(self) -> str:
        if self.settings.auth_mode == "iam":
            return "a newly signed IAM auth token"
        return f"secret '{self.settings.secret_arn}'"

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}/{self.settings.database}"


class BoundedConnection:
    """A connection whose every statement waits no longer than the invocation has left.

    pg8000 applies one socket timeout to every read; set once per transaction, it would let
    each of several statements take that long, and the transaction run past the deadline.
    """

    def __init__(
        self, connection: pg8000.native.Connection, deadline: Deadline, cap_seconds: float
    ) -> None:
        self._connection = connection
        self._deadline = deadline
        self._cap_seconds = cap_seconds

    def run(self, sql: str, **params: object) -> list | None:
        budget_seconds = self._deadline.budget(self._cap_seconds)
        if budget_seconds < MIN_STATEMENT_SECONDS:
            raise DeadlineExceededError(
                f"Only {budget_seconds:.2f} s of the invocation is left, too little for the "
                "next statement of the transaction; raise the function's timeout."
            )
        _set_socket_timeout(self._connection, budget_seconds)
        return self._connection.run(sql, **params)


_shared: Database | None = None


def shared_database() -> Database:
    """The execution environment's Database, built by its first invocation.

    Lambda keeps module state between warm invocations, so the connection opened by the
    first invocation is reused by the next ones. The environment variables cannot change
    within an execution environment, so they are read, checked and turned into logging
    settings once, here, rather than on every invocation. Settings that fail their checks
    build nothing, and the next invocation reads them again (and fails the same way).
    """
    global _shared
    if _shared is None:
        settings = DbSettings.from_environ()
        configure_logging(settings.log_level)
        _shared = Database(settings)
    return _shared


def _set_socket_timeout(connection: pg8000.native.Connection, seconds: float) -> None:
    # pg8000 applies its `timeout` only when connecting; later operations keep that value.
    # Its socket is the private `_usock` (TLS-wrapped); this is the only place it is touched.
    sock = getattr(connection, "_usock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _describe(failure: Failure, exc: BaseException) -> str:
    if failure.sqlstate is not None:
        server_message = exc.args[0].get("M", "") if exc.args else ""
        return f"SQLSTATE {failure.sqlstate}: {server_message}"
    return f"{type(exc).__name__}: {exc}"


def _milliseconds_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
