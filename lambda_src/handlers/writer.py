"""SQS batch writer: one idempotent insert per message, failed message ids reported back to SQS."""

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from lambda_src.database import Database, shared_database
from lambda_src.errors import (
    AuthenticationFailedError,
    CircuitOpenError,
    CredentialsError,
    DatabaseRuntimeError,
    DeadlineExceededError,
    TlsError,
)
from lambda_src.invocation import Deadline, LambdaContext, start_invocation
from lambda_src.logs import LOGGER_NAME, log_event

logger = logging.getLogger(f"{LOGGER_NAME}.writer")

IDEMPOTENCY_KEY_MAX_LENGTH = 200

# Failures that say nothing about the message and would repeat for every message of the batch:
# after one, the rest is reported at once. Going on would, with a wrong password, cost a
# Secrets Manager call and two refused logins per message.
BATCH_ENDING_ERRORS = (
    CircuitOpenError,
    DeadlineExceededError,
    AuthenticationFailedError,
    CredentialsError,
    TlsError,
)

# The key and the row go in together: a replayed message hits the unique constraint and
# inserts nothing, so SQS's at-least-once delivery never produces a duplicate.
INSERT_ITEM_SQL = (
    "INSERT INTO app.items (idempotency_key, payload) "
    "VALUES (:idempotency_key, CAST(:payload AS jsonb)) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)


@dataclass(frozen=True)
class WriteRequest:
    message_id: str
    idempotency_key: str
    payload_json: str


class MessageRejected(ValueError):
    """A message that can never be written as it is; it goes back to SQS and on to the DLQ."""


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Entry point for an SQS event source mapping with ReportBatchItemFailures."""
    deadline = start_invocation(context)
    return write_batch(event, shared_database(), deadline)


def write_batch(event: dict[str, Any], database: Database, deadline: Deadline) -> dict[str, Any]:
    """Write each message in its own transaction; return the ids of those that failed.

    A message that fails gets a line of its own; the batch gets one line at the end.
    """
    started = time.perf_counter()
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError(
            "The writer expects an SQS event with a 'Records' list; got an event without one. "
            "Invoke it only through its SQS event source mapping."
        )

    failed_ids: list[str] = []
    database_down: DatabaseRuntimeError | None = None
    most_attempts = 0
    for record in records:
        message_id = str(record.get("messageId", ""))
        if database_down is not None:
            # The breaker is open, the time is up or the login cannot succeed: the rest of the
            # batch would fail the same way, so report it at once and let SQS deliver it again.
            failed_ids.append(message_id)
            continue
        reached_database = False
        try:
            request = parse_message(record)
            reached_database = True
            database.run_transaction(lambda conn, r=request: _insert(conn, r), deadline)
        except MessageRejected as exc:
            failed_ids.append(message_id)
            log_event(
                logger,
                logging.WARNING,
                "writer.message_rejected",
                f"Message rejected: {exc}",
                message_id=message_id,
            )
        except BATCH_ENDING_ERRORS as exc:
            failed_ids.append(message_id)
            database_down = exc
            log_event(
                logger,
                logging.ERROR,
                "writer.database_unavailable",
                str(exc),
                message_id=message_id,
                sqlstate=getattr(exc, "sqlstate", None),
                error_type=type(exc).__name__,
            )
        except DatabaseRuntimeError as exc:
            failed_ids.append(message_id)
            log_event(
                logger,
                logging.ERROR,
                "writer.write_failed",
                str(exc),
                message_id=message_id,
                sqlstate=getattr(exc, "sqlstate", None),
                error_type=type(exc).__name__,
            )
        if reached_database:
            most_attempts = max(most_attempts, database.last_attempt)

    log_event(
        logger,
        logging.INFO,
        "writer.batch_done",
        f"Wrote {len(records) - len(failed_ids)} of {len(records)} messages",
        batch_size=len(records),
        failed_count=len(failed_ids),
        # The most attempts one message needed (1 when nothing was retried).
        attempt=most_attempts or None,
        sqlstate=getattr(database_down, "sqlstate", None),
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed_ids]}


def parse_message(record: dict[str, Any]) -> WriteRequest:
    """Validate one SQS record; the body must be {"idempotencyKey": str, "payload": object}."""
    message_id = record.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise MessageRejected("the record has no 'messageId'")
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        raise MessageRejected(
            'the body is not JSON; send {"idempotencyKey": "...", "payload": {...}}'
        ) from None
    except RecursionError:
        # Python's JSON parser recurses once per nesting level; an SQS body can hold far more
        # levels than the interpreter's stack, and that message alone must fail, not the batch.
        raise MessageRejected(
            "the body nests arrays or objects too deeply to parse; flatten the payload"
        ) from None
    if not isinstance(body, dict):
        raise MessageRejected(
            'the body must be a JSON object {"idempotencyKey": "...", "payload": {...}}'
        )
    key = body.get("idempotencyKey")
    if not isinstance(key, str) or not key.strip():
        raise MessageRejected(
            "'idempotencyKey' is missing or empty; every message needs a unique key so a "
            "redelivery cannot write twice"
        )
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise MessageRejected(
            f"'idempotencyKey' must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters, got "
            f"{len(key)}"
        )
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise MessageRejected(f"'payload' must be a JSON object, got {_json_kind(payload)}")
    try:
        payload_json = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    except RecursionError:
        raise MessageRejected(
            "'payload' nests arrays or objects too deeply to store; flatten it"
        ) from None
    except ValueError:
        # json.loads accepts NaN and Infinity, which are not JSON and which jsonb refuses.
        raise MessageRejected(
            "'payload' holds NaN or Infinity, which JSON cannot represent; send a number or null"
        ) from None
    return WriteRequest(message_id, key, payload_json)


def _insert(connection: Any, request: WriteRequest) -> None:
    connection.run(
        INSERT_ITEM_SQL,
        idempotency_key=request.idempotency_key,
        payload=request.payload_json,
    )


def _json_kind(value: object) -> str:
    if value is None:
        return "null or nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
