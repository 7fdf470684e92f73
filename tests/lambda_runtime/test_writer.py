"""SQS writer: partial failures, nothing half-written, replays, a lost COMMIT acknowledgement."""

import json
import threading
import time

import pytest

from lambda_src.database import Database
from lambda_src.handlers import writer
from lambda_src.invocation import Deadline

from .helpers import (
    FakeLambdaContext,
    create_login_role,
    events_of,
    new_password,
    settings_for,
    sqs_event,
    unique_name,
)

SYNC_REP_WAIT_TIMEOUT_SECONDS = 10


def _body(key: str | None, payload: object = None) -> str:
    message: dict[str, object] = {"payload": {"n": 1} if payload is None else payload}
    if key is not None:
        message["idempotencyKey"] = key
    return json.dumps(message)


def _count_rows(postgres, database: str, key_prefix: str) -> int:
    admin = postgres.admin(database)
    try:
        return admin.run(
            "SELECT count(*) FROM app.items WHERE idempotency_key LIKE :prefix",
            prefix=key_prefix + "%",
        )[0][0]
    finally:
        admin.close()


def test_writer_batch_of_three_with_second_bad_reports_only_that_id(
    postgres, app_database, use_role
):
    use_role(app_database.writer_user, app_database.writer_secret_arn)
    prefix = unique_name("batch")
    event = sqs_event(
        _body(f"{prefix}-1"), _body(None), _body(f"{prefix}-3"), ids=["m-1", "m-2", "m-3"]
    )

    result = writer.handler(event, FakeLambdaContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert _count_rows(postgres, app_database.name, prefix) == 2


def test_writer_all_bad_reported_and_nothing_half_written(postgres, app_database, use_role, caplog):
    use_role(app_database.writer_user, app_database.writer_secret_arn)
    prefix = unique_name("allbad")
    event = sqs_event(
        "this is not JSON",
        _body(None),
        # Valid JSON that PostgreSQL's jsonb cannot store (a NUL character): fails in the
        # database, inside the transaction, after the checks in the handler passed.
        _body(f"{prefix}-nul", {"text": "a\u0000b"}),
        ids=["m-1", "m-2", "m-3"],
    )

    result = writer.handler(event, FakeLambdaContext())

    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "m-1"},
            {"itemIdentifier": "m-2"},
            {"itemIdentifier": "m-3"},
        ]
    }
    assert _count_rows(postgres, app_database.name, prefix) == 0
    rejected = {r.message_id: r.getMessage() for r in events_of(caplog, "writer.message_rejected")}
    assert "not JSON" in rejected["m-1"]
    assert "'idempotencyKey' is missing" in rejected["m-2"]
    assert [r.sqlstate for r in events_of(caplog, "writer.write_failed")] == ["22P05"]


def test_writer_too_deeply_nested_body_fails_only_that_message(
    postgres, app_database, use_role, caplog
):
    # An SQS body of 256 KiB can nest far deeper than Python's JSON parser can recurse.
    use_role(app_database.writer_user, app_database.writer_secret_arn)
    prefix = unique_name("deep")
    levels = 100_000
    nested = "[" * levels + "]" * levels
    deep = f'{{"idempotencyKey": "{prefix}-2", "payload": {{"a": {nested}}}}}'
    event = sqs_event(_body(f"{prefix}-1"), deep, _body(f"{prefix}-3"), ids=["m-1", "m-2", "m-3"])

    result = writer.handler(event, FakeLambdaContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert _count_rows(postgres, app_database.name, prefix) == 2
    rejected = {r.message_id: r.getMessage() for r in events_of(caplog, "writer.message_rejected")}
    assert "nests arrays or objects too deeply" in rejected["m-2"]


def test_writer_wrong_secret_fails_the_batch_after_one_message_without_more_logins(
    app_database, use_role, secrets_client, caplog
):
    wrong_arn = secrets_client.create_secret(
        Name=unique_name("secret"), SecretString=json.dumps({"password": new_password()})
    )["ARN"]
    use_role(app_database.writer_user, wrong_arn)
    ids = [f"m-{n}" for n in range(1, 6)]
    event = sqs_event(*(_body(unique_name("wrong")) for _ in ids), ids=ids)

    result = writer.handler(event, FakeLambdaContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
    # One refused login, one fetch again, one more refusal, for the whole batch.
    assert len(events_of(caplog, "db.auth_failed")) == 1
    assert len(events_of(caplog, "secret.read")) == 2
    unavailable = events_of(caplog, "writer.database_unavailable")
    assert [(r.message_id, r.error_type) for r in unavailable] == [
        ("m-1", "AuthenticationFailedError")
    ]


def test_writer_replayed_batch_writes_each_key_once(postgres, app_database, use_role):
    use_role(app_database.writer_user, app_database.writer_secret_arn)
    prefix = unique_name("replay")
    event = sqs_event(_body(f"{prefix}-a"), _body(f"{prefix}-b"), _body(f"{prefix}-a"))

    assert writer.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    assert writer.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}

    assert _count_rows(postgres, app_database.name, prefix) == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('["not", "an", "object"]', "must be a JSON object"),
        (json.dumps({"idempotencyKey": "   ", "payload": {}}), "'idempotencyKey' is missing"),
        (json.dumps({"idempotencyKey": "k" * 201, "payload": {}}), "at most 200 characters"),
        (json.dumps({"idempotencyKey": "k", "payload": [1]}), "got an array"),
        (json.dumps({"idempotencyKey": "k"}), "got null or nothing"),
        ('{"idempotencyKey": "k", "payload": {"x": NaN}}', "holds NaN or Infinity"),
        ('{"idempotencyKey": "k", "payload": {"x": -Infinity}}', "holds NaN or Infinity"),
    ],
)
def test_writer_parse_message_rejects_with_reason(body, reason):
    with pytest.raises(writer.MessageRejected, match=reason):
        writer.parse_message({"messageId": "m-1", "body": body})


def test_writer_commit_acknowledgement_lost_then_replayed_exactly_one_row(
    postgres, tls, app_database, secrets_client, caplog
):
    """The backend dies after its COMMIT is durable but before the client hears of it."""
    user, password = unique_name("sync_writer"), new_password()
    admin = postgres.admin(app_database.name)
    try:
        create_login_role(admin, user, password)
        admin.run(f'GRANT USAGE ON SCHEMA app TO "{user}"')
        admin.run(f'GRANT SELECT, INSERT ON app.items TO "{user}"')
        # The server names a synchronous standby that never connects, so this role's
        # COMMITs are written and flushed locally, then wait for it forever.
        admin.run(f"ALTER ROLE \"{user}\" SET synchronous_commit = 'on'")
    finally:
        admin.close()
    arn = secrets_client.create_secret(
        Name=unique_name("secret"),
        SecretString=json.dumps({"username": user, "password": password}),
    )["ARN"]
    database = Database(
        settings_for(
            host="localhost",
            port=postgres.port,
            database=app_database.name,
            user=user,
            ca_bundle=tls.trusted_bundle,
            secret_arn=arn,
        )
    )
    key = unique_name("lost-ack")
    event = sqs_event(_body(key), ids=["m-1"])
    outcome: dict[str, object] = {}

    def invoke() -> None:
        try:
            outcome["result"] = writer.write_batch(event, database, Deadline.after(30))
        except BaseException as exc:  # reported to the main thread, which asserts on it
            outcome["error"] = exc

    invocation = threading.Thread(target=invoke)
    invocation.start()
    admin = postgres.admin(app_database.name)
    try:
        waiting = _wait_for_sync_rep_wait(admin, user)
        assert waiting is not None, "the COMMIT never started waiting for the standby"
        pid, xid = waiting
        # The replacement session must not wait too; then end the waiting one.
        admin.run(f"ALTER ROLE \"{user}\" SET synchronous_commit = 'local'")
        admin.run("SELECT pg_terminate_backend(:pid, 5000)", pid=pid)
        invocation.join(timeout=30)
        assert not invocation.is_alive()

        assert outcome.get("error") is None, outcome.get("error")
        assert outcome["result"] == {"batchItemFailures": []}
        # SQS delivers the message again (for instance after a visibility timeout).
        assert writer.write_batch(event, database, Deadline.after(30)) == {"batchItemFailures": []}

        rows = admin.run("SELECT xmin::text FROM app.items WHERE idempotency_key = :key", key=key)
    finally:
        admin.close()
        database.close()

    assert len(rows) == 1
    # The surviving row is the one the killed session committed; the retries inserted nothing.
    assert rows[0][0] == str(xid)
    failed = events_of(caplog, "db.attempt_failed")
    assert [r.attempt for r in failed] == [1]
    assert failed[0].sqlstate in ("57P01", None)


def _wait_for_sync_rep_wait(admin, user: str) -> tuple[int, int] | None:
    """The pid and transaction id of `user`'s session once its COMMIT waits (bounded poll)."""
    deadline = time.monotonic() + SYNC_REP_WAIT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        rows = admin.run(
            "SELECT pid, backend_xid::text::bigint FROM pg_stat_activity "
            "WHERE usename = :user AND wait_event = 'SyncRep'",
            user=user,
        )
        if rows:
            return rows[0][0], rows[0][1]
        time.sleep(0.01)
    return None
