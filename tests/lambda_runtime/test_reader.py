"""HTTP reader: JSON responses, 400s saying what to fix, 404, 405, 503 when the database is down."""

import json
import logging

import pytest

from lambda_src.errors import ConfigurationError
from lambda_src.handlers import reader
from lambda_src.settings import DbSettings

from .helpers import FakeLambdaContext, events_of, http_event, unique_name
from .pg_server import free_port


@pytest.fixture
def inserted_ids(postgres, app_database) -> list[int]:
    admin = postgres.admin(app_database.name)
    try:
        return [
            admin.run(
                "INSERT INTO app.items (idempotency_key, payload) "
                "VALUES (:key, CAST(:payload AS jsonb)) RETURNING id",
                key=unique_name("read"),
                payload=json.dumps({"position": position, "tags": ["a", "b"]}),
            )[0][0]
            for position in range(3)
        ]
    finally:
        admin.close()


@pytest.fixture
def as_reader(app_database, use_role) -> None:
    use_role(app_database.reader_user, app_database.reader_secret_arn)


def _call(event) -> tuple[int, dict, dict]:
    response = reader.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def test_reader_get_item_returns_it_as_json(as_reader, inserted_ids):
    status, body, headers = _call(http_event(f"/items/{inserted_ids[1]}"))

    assert status == 200
    assert headers["content-type"] == "application/json"
    assert body["id"] == inserted_ids[1]
    assert body["payload"] == {"position": 1, "tags": ["a", "b"]}
    assert body["idempotencyKey"].startswith("read_")
    assert body["createdAt"].endswith("+00:00")


def test_reader_list_items_newest_first_within_limit(as_reader, inserted_ids):
    status, body, _ = _call(http_event("/items", {"limit": "2"}))

    assert status == 200
    assert body["limit"] == 2
    assert [item["id"] for item in body["items"]] == [inserted_ids[2], inserted_ids[1]]


def test_reader_list_items_without_limit_uses_default(as_reader, inserted_ids):
    status, body, _ = _call(http_event("/items"))
    assert status == 200
    assert body["limit"] == reader.DEFAULT_LIMIT


@pytest.mark.parametrize("raw_id", ["abc", "0", "-4", "1.5", "9223372036854775808", "٣", "1e3"])
def test_reader_bad_item_id_returns_400_without_touching_the_database(as_reader, raw_id, caplog):
    status, body, _ = _call(http_event(f"/items/{raw_id}"))

    assert status == 400
    assert body["message"].startswith("'id' must be a positive integer from 1 to ")
    assert json.dumps(raw_id) in body["message"]
    assert events_of(caplog, "db.connected") == []


@pytest.mark.parametrize("raw_limit", ["0", "101", "ten", "-1", "9" * 5000, "0" * 5000])
def test_reader_bad_limit_returns_400(as_reader, raw_limit):
    status, body, _ = _call(http_event("/items", {"limit": raw_limit}))
    assert status == 400
    assert "'limit' must be an integer from 1 to 100" in body["message"]


@pytest.mark.parametrize("raw_id", ["9" * 5000, "0" * 5000])
def test_reader_id_past_python_int_digit_limit_returns_400(as_reader, raw_id, caplog):
    # int() refuses more than 4,300 digits with a ValueError; that must not become a 500.
    status, body, _ = _call(http_event(f"/items/{raw_id}"))

    assert status == 400
    assert body["message"].startswith("'id' must be a positive integer from 1 to ")
    assert events_of(caplog, "db.connected") == []


def test_reader_leading_zeros_are_the_same_number(as_reader, inserted_ids):
    # Longer than Python's 4,300-digit int() limit, yet a valid id and limit.
    padded_id = "0" * 5000 + str(inserted_ids[0])
    status, body, _ = _call(http_event(f"/items/{padded_id}"))
    assert (status, body["id"]) == (200, inserted_ids[0])
    status, body, _ = _call(http_event("/items", {"limit": "0" * 5000 + "2"}))
    assert (status, body["limit"], len(body["items"])) == (200, 2, 2)


def test_reader_long_input_is_cut_in_the_error_message(as_reader):
    status, body, _ = _call(http_event("/items/" + "9" * 500))
    assert status == 400
    assert len(body["message"]) < 200


def test_reader_missing_item_returns_404(as_reader):
    status, body, _ = _call(http_event("/items/9223372036854775807"))
    assert status == 404
    assert body == {"message": "No item has id 9223372036854775807."}


def test_reader_unknown_path_returns_404_and_other_methods_405(as_reader):
    assert _call(http_event("/orders"))[0] == 404
    status, body, _ = _call(http_event("/items", method="POST"))
    assert status == 405
    assert "use GET" in body["message"]


def test_reader_database_unreachable_returns_503_without_internals(
    app_database, use_role, monkeypatch, caplog
):
    use_role(app_database.reader_user, app_database.reader_secret_arn)
    monkeypatch.setenv("DB_PORT", str(free_port()))  # nothing listens there
    context = FakeLambdaContext(request_id="req-503")

    response = reader.handler(http_event("/items/1"), context)

    assert response["statusCode"] == 503
    body = json.loads(response["body"])
    assert body == {"message": "The database is unavailable; retry later.", "requestId": "req-503"}
    assert len(events_of(caplog, "db.attempt_failed")) == 3
    [line] = events_of(caplog, "reader.request")
    assert line.levelno == logging.ERROR
    assert (line.request_id, line.status_code, line.attempt) == ("req-503", 503, 3)
    assert line.error_type == "TransientDatabaseError"
    assert "still failed after 3 attempts" in line.getMessage()


def test_reader_settings_are_read_once_per_execution_environment(
    as_reader, inserted_ids, monkeypatch
):
    # GIVEN an execution environment that served one invocation
    assert _call(http_event(f"/items/{inserted_ids[0]}"))[0] == 200

    # WHEN its variables turn invalid (Lambda never does this within one environment)
    monkeypatch.setenv("DB_PORT", "not-a-port")
    with pytest.raises(ConfigurationError):
        DbSettings.from_environ()

    # THEN warm invocations go on with the settings read at the start, without reading again
    assert _call(http_event(f"/items/{inserted_ids[1]}"))[0] == 200
