"""Which failures are worth retrying, how long to wait between tries, and a circuit breaker."""

import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from pg8000.exceptions import DatabaseError, InterfaceError

# SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html
# 08xxx connection exceptions and 53xxx insufficient resources (53300 too many connections).
TRANSIENT_SQLSTATE_CLASSES = ("08", "53")
TRANSIENT_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown: the backend was terminated or the server is stopping
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: the server is starting up or in recovery
        "57P05",  # idle_session_timeout: the server closed a session left idle too long
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "25006",  # read_only_sql_transaction: still connected to a demoted primary after failover
    }
)
AUTHENTICATION_SQLSTATES = frozenset({"28P01", "28000"})

# After these the session is gone or points at the wrong server, so it is never reused.
CONNECTION_ENDING_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "25006"})
# An error of these severities ends the session, whatever its SQLSTATE.
SESSION_ENDING_SEVERITIES = frozenset({"FATAL", "PANIC"})

# pg8000 raises InterfaceError both for network failures and for misuse of its API; only
# these messages mean the network or the server went away.
_NETWORK_INTERFACE_MESSAGES = ("network error", "communication error", "connection is closed")
_CONNECT_FAILURE_PREFIX = "Can't create a connection"
_SERVER_REFUSES_TLS_MESSAGE = "Server refuses SSL"


class FailureKind(Enum):
    TRANSIENT = "transient"
    AUTHENTICATION = "authentication"
    TLS = "tls"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Failure:
    """What a caught exception means for the retry loop."""

    kind: FailureKind
    sqlstate: str | None
    discard_connection: bool


def sqlstate_of(exc: BaseException) -> str | None:
    """The PostgreSQL error code carried by a pg8000 DatabaseError, if any."""
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        code = exc.args[0].get("C")
        return code if isinstance(code, str) else None
    return None


def _severity_of(exc: BaseException) -> str | None:
    """The error's severity (FATAL, ERROR...): 'V' is never translated, 'S' may be."""
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    severity = fields.get("V") or fields.get("S")
    return severity if isinstance(severity, str) else None


def classify(exc: BaseException) -> Failure:
    """Sort an exception from pg8000, the socket or the TLS layer into a FailureKind."""
    sqlstate = sqlstate_of(exc)
    if sqlstate is not None:
        if sqlstate in AUTHENTICATION_SQLSTATES:
            return Failure(FailureKind.AUTHENTICATION, sqlstate, discard_connection=True)
        transient = sqlstate in TRANSIENT_SQLSTATES or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
        ending = (
            sqlstate in CONNECTION_ENDING_SQLSTATES
            or sqlstate.startswith("08")
            or _severity_of(exc) in SESSION_ENDING_SEVERITIES
        )
        kind = FailureKind.TRANSIENT if transient else FailureKind.PERMANENT
        return Failure(kind, sqlstate, discard_connection=ending)

    if isinstance(exc, ssl.SSLCertVerificationError):
        return Failure(FailureKind.TLS, None, discard_connection=True)
    if isinstance(exc, InterfaceError):
        message = str(exc.args[0]) if exc.args else ""
        if message == _SERVER_REFUSES_TLS_MESSAGE:
            return Failure(FailureKind.TLS, None, discard_connection=True)
        if message in _NETWORK_INTERFACE_MESSAGES or message.startswith(_CONNECT_FAILURE_PREFIX):
            cause = exc.__cause__
            if isinstance(cause, ssl.SSLCertVerificationError):
                return Failure(FailureKind.TLS, None, discard_connection=True)
            return Failure(FailureKind.TRANSIENT, None, discard_connection=True)
        return Failure(FailureKind.PERMANENT, None, discard_connection=False)
    if isinstance(exc, ssl.SSLError) and not isinstance(
        exc, ssl.SSLEOFError | ssl.SSLZeroReturnError
    ):
        # A handshake the server aborted (unknown CA, protocol mismatch) will fail the same way
        # next time; an EOF in the middle of a record is just a dropped connection.
        return Failure(FailureKind.TLS, None, discard_connection=True)
    if isinstance(exc, OSError):
        # Timeouts, resets, refused connections, broken pipes.
        return Failure(FailureKind.TRANSIENT, None, discard_connection=True)
    return Failure(FailureKind.PERMANENT, None, discard_connection=False)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**(n-1)))."""

    max_attempts: int = 3
    base_delay_seconds: float = 0.05
    max_delay_seconds: float = 1.0

    def delay_seconds(self, failed_attempts: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (failed_attempts - 1))
        return rng.uniform(0.0, ceiling)


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Fails fast after `failure_threshold` failures in a row; one trial after `cooldown_seconds`.

    Only transient failures (the database unreachable or overloaded) count: a wrong password
    or a constraint violation says nothing about the database's health.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def seconds_until_trial(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_seconds - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """Whether a call may go ahead now; in half-open state only one trial at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        """The database answered (even if only to refuse the statement or the login)."""
        self._consecutive_failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._consecutive_failures += 1
        if self._trial_in_flight or self._consecutive_failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._trial_in_flight = False

    def record_inconclusive(self) -> None:
        """The call ended before reaching the database (no credentials, no time left)."""
        self._trial_in_flight = False
