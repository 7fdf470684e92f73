"""Helpers shared by the runtime tests: names, passwords, roles, settings, a Lambda context."""

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pg8000.native

from lambda_src.database import Database
from lambda_src.settings import DbSettings

REGION = "eu-west-1"

# Every password, token or secret value a test creates is added here; the autouse log guard
# fails the test if any of them shows up in a captured log line.
SECRET_VALUES: set[str] = set()


def remember_secret(value: str) -> str:
    SECRET_VALUES.add(value)
    return value


def new_password() -> str:
    return remember_secret(secrets.token_urlsafe(24))


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class FakeLambdaContext:
    """The two members of the Lambda context the library reads, with a real running clock."""

    def __init__(self, remaining_seconds: float = 10.0, request_id: str | None = None) -> None:
        self._ends_at = time.monotonic() + remaining_seconds
        self.aws_request_id = request_id or str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self._ends_at - time.monotonic()) * 1000)


def create_login_role(
    admin: pg8000.native.Connection, name: str, password: str, *attributes: str
) -> None:
    extra = " ".join(attributes)
    admin.run(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}' {extra}")


def login_role_with_secret(
    server, secrets_client, prefix: str, *, secret_password: str | None = None
) -> tuple[str, str, str]:
    """A new login role on `server` and a Secrets Manager secret naming it.

    The secret holds the role's password, or `secret_password` when given (a wrong one, say).
    Returns the role's name, its password and the secret's ARN.
    """
    user, password = unique_name(prefix), new_password()
    admin = server.admin()
    try:
        create_login_role(admin, user, password)
    finally:
        admin.close()
    arn = secrets_client.create_secret(
        Name=unique_name("secret"),
        SecretString=json.dumps({"username": user, "password": secret_password or password}),
    )["ARN"]
    return user, password, arn


def db_environ(
    *,
    host: str,
    port: int,
    database: str,
    user: str,
    ca_bundle: Path,
    auth_mode: str = "secret",
    secret_arn: str | None = None,
    endpoint_kind: str = "proxy",
    log_level: str = "DEBUG",
) -> dict[str, str]:
    """The environment the LambdaTier component sets, pointed at the test server."""
    environ = {
        "DB_HOST": host,
        "DB_PORT": str(port),
        "DB_NAME": database,
        "DB_USER": user,
        "DB_AUTH_MODE": auth_mode,
        "DB_ENDPOINT_KIND": endpoint_kind,
        "DB_REGION": REGION,
        "DB_CA_BUNDLE": str(ca_bundle),
        "LOG_LEVEL": log_level,
    }
    if secret_arn is not None:
        environ["DB_SECRET_ARN"] = secret_arn
    return environ


def settings_for(**kwargs: object) -> DbSettings:
    return DbSettings.from_environ(db_environ(**kwargs))  # type: ignore[arg-type]


@dataclass
class RecordedSleep:
    """Stands in for time.sleep: records each requested delay instead of waiting."""

    delays: list[float]

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def backend_pids(admin: pg8000.native.Connection, user: str) -> list[int]:
    rows = admin.run(
        "SELECT pid FROM pg_stat_activity "
        "WHERE usename = :user AND backend_type = 'client backend' ORDER BY pid",
        user=user,
    )
    return [row[0] for row in rows]


def terminate_backends(admin: pg8000.native.Connection, user: str) -> int:
    rows = admin.run(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = :user",
        user=user,
    )
    return len(rows)


def close_quietly(database: Database) -> None:
    database.close()


def http_event(
    path: str, query: dict[str, str] | None = None, method: str = "GET"
) -> dict[str, object]:
    """An API Gateway HTTP API event, payload format 2.0, for the $default route."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "queryStringParameters": query,
        "requestContext": {"http": {"method": method, "path": path}},
    }


def sqs_event(*bodies: str, ids: list[str] | None = None) -> dict[str, object]:
    """An SQS event with one record per body."""
    ids = ids or [str(uuid.uuid4()) for _ in bodies]
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"handle-{message_id}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for message_id, body in zip(ids, bodies, strict=True)
        ]
    }


def events_of(caplog, name: str) -> list:
    """The captured library records whose structured `event` is `name`."""
    return [r for r in caplog.records if getattr(r, "event", None) == name]
