"""Exceptions the connection library raises; messages name the setting, the rule and the fix."""


class DatabaseRuntimeError(Exception):
    """Base of every error this library raises on purpose."""


class ConfigurationError(DatabaseRuntimeError):
    """The function's environment variables are missing or invalid."""


class CredentialsError(DatabaseRuntimeError):
    """A password or IAM token could not be obtained (Secrets Manager, IAM signing)."""


class AuthenticationFailedError(DatabaseRuntimeError):
    """The server rejected the credentials even after they were fetched again."""


class TlsError(DatabaseRuntimeError):
    """The server's certificate did not verify, or the server would not speak TLS."""


class TransientDatabaseError(DatabaseRuntimeError):
    """A network or server condition that may pass; raised once retries are used up.

    `sqlstate` holds the last PostgreSQL error code seen, or None for a network error.
    """

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class CircuitOpenError(TransientDatabaseError):
    """Recent attempts failed; calls fail fast until the cool-down ends."""


class DeadlineExceededError(TransientDatabaseError):
    """Not enough of the invocation's time is left for another attempt."""


class QueryError(DatabaseRuntimeError):
    """PostgreSQL refused a statement for a reason retrying cannot fix (constraint, privilege)."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
