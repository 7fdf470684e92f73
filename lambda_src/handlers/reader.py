"""HTTP API (payload format 2.0) reader: GET /items/{id} and GET /items?limit=N, as JSON."""

import json
import logging
import math
import re
from datetime import datetime
from typing import Any

from lambda_src.database import Database, shared_database
from lambda_src.errors import (
    CircuitOpenError,
    DatabaseRuntimeError,
    TransientDatabaseError,
)
from lambda_src.invocation import Deadline, LambdaContext, start_invocation
from lambda_src.logs import LOGGER_NAME, configure_logging, current_invocation, log_event

logger = logging.getLogger(f"{LOGGER_NAME}.reader")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_ITEM_ID = 2**63 - 1  # bigint
_ITEM_PATH = re.compile(r"^/items/([^/]+)/?$")
_LIST_PATH = re.compile(r"^/items/?$")
# Echoed input is cut to this length so an error body never grows with the request.
_ECHO_MAX_CHARACTERS = 40

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
    database = shared_database()
    configure_logging(database.settings.log_level)
    return read_items(event, database, deadline)


def read_items(event: dict[str, Any], database: Database, deadline: Deadline) -> dict[str, Any]:
    """Route the request, query the database and build the HTTP response."""
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "GET")).upper()
    path = str(event.get("rawPath") or "")
    route = "unmatched"
    try:
        if method != "GET":
            return _response(405, {"message": f"Method {method} is not allowed; use GET."})
        item_match = _ITEM_PATH.match(path)
        if item_match:
            route = "GET /items/{id}"
            item_id = parse_item_id(_path_parameter(event, item_match.group(1)))
            rows = database.run_transaction(
                lambda conn: conn.run(SELECT_ITEM_SQL, item_id=item_id), deadline
            )
            if not rows:
                return _response(404, {"message": f"No item has id {item_id}."})
            return _response(200, _item(rows[0]))
        if _LIST_PATH.match(path):
            route = "GET /items"
            limit = parse_limit((event.get("queryStringParameters") or {}).get("limit"))
            rows = database.run_transaction(
                lambda conn: conn.run(SELECT_ITEMS_SQL, limit=limit), deadline
            )
            return _response(200, {"items": [_item(r) for r in rows], "limit": limit})
        return _response(404, {"message": "Unknown path; use /items or /items/{id}."})
    except BadRequest as exc:
        return _response(400, {"message": str(exc)})
    except CircuitOpenError as exc:
        retry_after_seconds = math.ceil(database.breaker.seconds_until_trial()) or 1
        _log_failure(route, exc)
        return _response(
            503,
            {"message": "The database is unavailable; retry later."},
            {"retry-after": str(retry_after_seconds)},
        )
    except TransientDatabaseError as exc:
        _log_failure(route, exc)
        return _response(503, {"message": "The database is unavailable; retry later."})
    except DatabaseRuntimeError as exc:
        _log_failure(route, exc)
        return _response(500, {"message": "The request failed on the server."})
    finally:
        log_event(logger, logging.INFO, "reader.request", f"{method} {path}", route=route)


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
        "body": json.dumps(body, separators=(",", ":")),
    }


def _log_failure(route: str, exc: DatabaseRuntimeError) -> None:
    log_event(
        logger,
        logging.ERROR,
        "reader.database_failed",
        str(exc),
        route=route,
        sqlstate=getattr(exc, "sqlstate", None),
        error_type=type(exc).__name__,
    )


def _echo(text: str) -> str:
    shown = text if len(text) <= _ECHO_MAX_CHARACTERS else text[:_ECHO_MAX_CHARACTERS] + "..."
    return json.dumps(shown)
