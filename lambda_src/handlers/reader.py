"""HTTP API (payload format 2.0) reader: GET /items/{id} and GET /items?limit=N, as JSON."""

import json
import logging
import math
import re
import time
from datetime import datetime
from typing import Any

from lambda_src.database import Database, shared_database
from lambda_src.errors import (
    CircuitOpenError,
    DatabaseRuntimeError,
    TransientDatabaseError,
)
from lambda_src.invocation import Deadline, LambdaContext, start_invocation
from lambda_src.logs import LOGGER_NAME, current_invocation, log_event

logger = logging.getLogger(f"{LOGGER_NAME}.reader")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_ITEM_ID = 2**63 - 1  # bigint
_ITEM_PATH = re.compile(r"^/items/([^/]+)/?$")
_LIST_PATH = re.compile(r"^/items/?$")
# Echoed input is cut to this length so an error body never grows with the request.
_ECHO_MAX_CHARACTERS = 40
# One encoder for every response body: json.dumps with options builds a new one per call.
_BODY_ENCODER = json.JSONEncoder(separators=(",", ":"))

SELECT_ITEM_SQL = (
    "SELECT id, idempotency_key, payload, created_at FROM app.items WHERE id = :item_id"
)
SELECT_ITEMS_SQL = (
    "SELECT id, idempotency_key, payload, created_at FROM app.items ORDER BY id DESC LIMIT :limit"
)


class BadRequest(ValueError):
    """The request cannot be answered as sent; the message tells the client what to change."""


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Entry point for an API Gateway HTTP API route (payload format version 2.0)."""
    deadline = start_invocation(context)
    return read_items(event, shared_database(), deadline)


def read_items(event: dict[str, Any], database: Database, deadline: Deadline) -> dict[str, Any]:
    """Route the request, query the database and build the HTTP response.

    Each query is a single statement in autocommit (`Database.run_read`): a read needs no
    transaction, and leaving out BEGIN and COMMIT saves two round trips per request. One log
    line per request, written at the end, says how it went.
    """
    started = time.perf_counter()
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "GET")).upper()
    path = str(event.get("rawPath") or "")
    route = "unmatched"
    queried = False
    response: dict[str, Any] | None = None
    failure: DatabaseRuntimeError | None = None
    try:
        if method != "GET":
            response = _response(405, {"message": f"Method {method} is not allowed; use GET."})
        elif item_match := _ITEM_PATH.match(path):
            route = "GET /items/{id}"
            item_id = parse_item_id(_path_parameter(event, item_match.group(1)))
            queried = True
            rows = database.run_read(SELECT_ITEM_SQL, deadline, item_id=item_id)
            if rows:
                response = _response(200, _item(rows[0]))
            else:
                response = _response(404, {"message": f"No item has id {item_id}."})
        elif _LIST_PATH.match(path):
            route = "GET /items"
            limit = parse_limit((event.get("queryStringParameters") or {}).get("limit"))
            queried = True
            rows = database.run_read(SELECT_ITEMS_SQL, deadline, limit=limit) or []
            response = _response(200, {"items": [_item(r) for r in rows], "limit": limit})
        else:
            response = _response(404, {"message": "Unknown path; use /items or /items/{id}."})
    except BadRequest as exc:
        response = _response(400, {"message": str(exc)})
    except CircuitOpenError as exc:
        failure = exc
        retry_after_seconds = math.ceil(database.breaker.seconds_until_trial()) or 1
        response = _response(
            503,
            {"message": "The database is unavailable; retry later."},
            {"retry-after": str(retry_after_seconds)},
        )
    except TransientDatabaseError as exc:
        failure = exc
        response = _response(503, {"message": "The database is unavailable; retry later."})
    except DatabaseRuntimeError as exc:
        failure = exc
        response = _response(500, {"message": "The request failed on the server."})
    finally:
        _log_request(
            f"{method} {path}",
            route=route,
            response=response,
            failure=failure,
            attempt=(database.last_attempt or None) if queried else None,
            started=started,
        )
    return response


def parse_item_id(raw: object) -> int:
    text = str(raw)
    value = _bounded_int(text, MAX_ITEM_ID)
    if value is not None and value >= 1:
        return value
    raise BadRequest(
        f"'id' must be a positive integer from 1 to {MAX_ITEM_ID}, got {_echo(text)}; "
        "use the id returned when the item was listed."
    )


def parse_limit(raw: object) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    text = str(raw)
    value = _bounded_int(text, MAX_LIMIT)
    if value is not None and value >= 1:
        return value
    raise BadRequest(
        f"'limit' must be an integer from 1 to {MAX_LIMIT}, got {_echo(text)}; "
        f"omit it for {DEFAULT_LIMIT}."
    )


def _bounded_int(text: str, maximum: int) -> int | None:
    """`text` as a non-negative integer if it is plain ASCII digits no larger than `maximum`.

    The length is checked before int(): Python refuses to convert strings of more than 4,300
    digits (a ValueError, which would turn a bad request into a 500), and a long number is
    out of range anyway.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(maximum)):
        return None
    value = int(significant)
    return value if value <= maximum else None


def _path_parameter(event: dict[str, Any], from_raw_path: str) -> str:
    parameters = event.get("pathParameters") or {}
    return str(parameters.get("id", from_raw_path))


def _item(row: list[Any]) -> dict[str, Any]:
    item_id, idempotency_key, payload, created_at = row
    return {
        "id": item_id,
        "idempotencyKey": idempotency_key,
        "payload": payload,
        "createdAt": created_at.isoformat() if isinstance(created_at, datetime) else created_at,
    }


def _response(
    status_code: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    request_id = current_invocation().get("request_id")
    if status_code >= 500 and request_id:
        body = {**body, "requestId": request_id}
    return {
        "statusCode": status_code,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": _BODY_ENCODER.encode(body),
    }


def _log_request(
    request: str,
    *,
    route: str,
    response: dict[str, Any] | None,
    failure: DatabaseRuntimeError | None,
    attempt: int | None,
    started: float,
) -> None:
    """The request's one line: INFO when answered, ERROR when the database failed it."""
    fields: dict[str, object] = {
        "route": route,
        "status_code": response["statusCode"] if response is not None else None,
        "attempt": attempt,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if failure is not None:
        fields["sqlstate"] = getattr(failure, "sqlstate", None)
        fields["error_type"] = type(failure).__name__
        log_event(logger, logging.ERROR, "reader.request", f"{request}: {failure}", **fields)
    elif response is None:
        # An exception this module does not handle is on its way to the Lambda runtime,
        # which logs it with its traceback.
        log_event(logger, logging.ERROR, "reader.request", f"{request}: unhandled error", **fields)
    else:
        log_event(logger, logging.INFO, "reader.request", request, **fields)


def _echo(text: str) -> str:
    shown = text if len(text) <= _ECHO_MAX_CHARACTERS else text[:_ECHO_MAX_CHARACTERS] + "..."
    return json.dumps(shown)
