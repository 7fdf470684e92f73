"""Credentials: secret rotation, a wrong secret, Secrets Manager unreachable, IAM token renewal."""

import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from lambda_src.credentials import IAM_TOKEN_LIFETIME_SECONDS, IamAuthTokenProvider
from lambda_src.database import Database
from lambda_src.errors import AuthenticationFailedError, CredentialsError
from lambda_src.handlers import reader
from lambda_src.invocation import Deadline
from lambda_src.resilience import BreakerState

from .helpers import (
    REGION,
    SECRET_VALUES,
    FakeLambdaContext,
    create_login_role,
    events_of,
    http_event,
    login_role_with_secret,
    new_password,
    remember_secret,
    settings_for,
    terminate_backends,
    unique_name,
)
from .net_faults import BlackHole


@pytest.fixture
def role_with_secret(postgres, secrets_client):
    """A login role on the server and a secret; the secret may hold another password."""

    def make(secret_password: str | None = None) -> tuple[str, str, str]:
        return login_role_with_secret(
            postgres, secrets_client, "cred_user", secret_password=secret_password
        )

    return make


def _database(postgres, tls, user, **options) -> Database:
    return Database(
        settings_for(
            host="localhost",
            port=postgres.port,
            database="postgres",
            user=user,
            ca_bundle=tls.trusted_bundle,
            **options,
        )
    )


def test_secret_rotated_on_server_and_in_secret_refetched_once_then_succeeds(
    postgres, tls, role_with_secret, secrets_client, caplog
):
    user, _, arn = role_with_secret()
    database = _database(postgres, tls, user, secret_arn=arn)
    assert database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10)) == [[1]]

    rotated = new_password()
    admin = postgres.admin()
    try:
        admin.run(f"ALTER ROLE \"{user}\" PASSWORD '{rotated}'")
        secrets_client.put_secret_value(
            SecretId=arn, SecretString=json.dumps({"username": user, "password": rotated})
        )
        # Rotation leaves open sessions alone; end this one so the next call must log in
        # again, still holding the old password in its cache.
        terminate_backends(admin, user)
    finally:
        admin.close()

    try:
        rows = database.run_transaction(lambda c: c.run("SELECT current_user"), Deadline.after(10))
    finally:
        database.close()

    assert rows == [[user]]
    assert [r.sqlstate for r in events_of(caplog, "db.auth_failed")] == ["28P01"]
    assert len(events_of(caplog, "secret.read")) == 2
    assert len(events_of(caplog, "db.connected")) == 2


def test_secret_wrong_twice_fails_with_clear_error_and_no_loop(
    postgres, tls, role_with_secret, caplog
):
    user, _, arn = role_with_secret(secret_password=new_password())
    database = _database(postgres, tls, user, secret_arn=arn)

    with pytest.raises(AuthenticationFailedError) as raised:
        database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))

    message = str(raised.value)
    assert f"rejected user '{user}'" in message
    assert "(SQLSTATE 28P01) twice" in message
    assert arn in message and "not retrying" in message
    assert not any(value in message for value in SECRET_VALUES)
    assert len(events_of(caplog, "db.auth_failed")) == 1
    assert len(events_of(caplog, "secret.read")) == 2
    assert events_of(caplog, "db.attempt_failed") == []  # not fed to the transient retry loop
    assert database.breaker.state is BreakerState.CLOSED


def test_secrets_manager_black_holed_fails_within_budget_with_clear_error(
    postgres, tls, role_with_secret, monkeypatch
):
    user, _, arn = role_with_secret()
    hole = BlackHole()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", hole.url)
    database = _database(postgres, tls, user, secret_arn=arn)
    lambda_remaining_seconds = 2.0
    try:
        started = time.monotonic()
        deadline = Deadline.from_context(FakeLambdaContext(lambda_remaining_seconds))
        with pytest.raises(CredentialsError) as raised:
            database.run_transaction(lambda c: c.run("SELECT 1"), deadline)
        elapsed_seconds = time.monotonic() - started
    finally:
        hole.close()

    # The invocation would still have had time to answer before Lambda's own timeout.
    assert elapsed_seconds < lambda_remaining_seconds
    message = str(raised.value)
    assert f"did not answer while trying to read secret '{arn}'" in message
    assert "ReadTimeoutError" in message
    assert "VPC endpoint" in message
    assert not database.is_connected


def test_iam_token_signed_by_boto3_is_an_rds_connect_token(tls):
    settings = settings_for(
        host="db.proxy-abc.eu-west-1.rds.amazonaws.com",
        port=5432,
        database="app",
        user="orders_writer",
        ca_bundle=tls.trusted_bundle,
        auth_mode="iam",
    )
    token = remember_secret(IamAuthTokenProvider(settings).password(Deadline.after(5)))

    url = urlsplit("https://" + token)
    query = parse_qs(url.query)
    assert url.netloc == "db.proxy-abc.eu-west-1.rds.amazonaws.com:5432"
    assert query["Action"] == ["connect"] and query["DBUser"] == ["orders_writer"]
    assert query["X-Amz-Expires"] == ["900"]
    assert f"/{REGION}/rds-db/aws4_request" in query["X-Amz-Credential"][0]
    assert len(query["X-Amz-Signature"][0]) == 64


def test_iam_token_renewed_before_its_fifteen_minutes_with_controllable_clock(tls):
    now = [0.0]
    signed_at: list[float] = []

    def sign() -> str:
        signed_at.append(now[0])
        return f"token-{len(signed_at)}"

    provider = IamAuthTokenProvider(
        settings_for(
            host="db.example.internal",
            port=5432,
            database="app",
            user="app_user",
            ca_bundle=tls.trusted_bundle,
            auth_mode="iam",
        ),
        clock=lambda: now[0],
        generate_token=sign,
    )
    deadline = Deadline.after(5)
    for now[0] in range(0, 3 * IAM_TOKEN_LIFETIME_SECONDS, 7):
        token = provider.password(deadline)
        issued = signed_at[int(token.removeprefix("token-")) - 1]
        # Whatever the moment, the token handed out has at least 30 s of life left.
        assert issued + IAM_TOKEN_LIFETIME_SECONDS - now[0] >= 30

    assert signed_at == [0, 840, 1680, 2520]  # renewed 60 s before each expiry, not earlier


def test_iam_token_signed_again_when_the_clock_goes_backwards(tls):
    now = [5000.0]
    tokens = iter(["token-1", "token-2", "token-3"])
    provider = IamAuthTokenProvider(
        settings_for(
            host="db.example.internal",
            port=5432,
            database="app",
            user="app_user",
            ca_bundle=tls.trusted_bundle,
            auth_mode="iam",
        ),
        clock=lambda: now[0],
        generate_token=lambda: next(tokens),
    )
    deadline = Deadline.after(5)

    assert provider.password(deadline) == "token-1"
    now[0] = 4200.0  # stepped back: the first token's real age is unknown
    assert provider.password(deadline) == "token-2"
    now[0] = 4200.0 + 839
    assert provider.password(deadline) == "token-2"
    now[0] = 4200.0 + 840
    assert provider.password(deadline) == "token-3"


def test_iam_token_age_is_measured_on_a_monotonic_clock(tls):
    provider = IamAuthTokenProvider(
        settings_for(
            host="db.example.internal",
            port=5432,
            database="app",
            user="app_user",
            ca_bundle=tls.trusted_bundle,
            auth_mode="iam",
        ),
        generate_token=lambda: "token",
    )
    # A wall clock (time.time) can be stepped back by NTP; the default must not be one.
    assert provider._clock is time.monotonic


def test_iam_token_is_the_password_of_each_new_connection(postgres, tls, caplog):
    """The server accepts only the newest token, as if it were the only valid one."""
    user = unique_name("iam_user")
    admin = postgres.admin()
    create_login_role(admin, user, new_password())
    rds = boto3.client("rds", region_name=REGION)
    settings = settings_for(
        host="localhost",
        port=postgres.port,
        database="postgres",
        user=user,
        ca_bundle=tls.trusted_bundle,
        auth_mode="iam",
    )
    now = [0.0]
    signed: list[str] = []

    def sign_and_install() -> str:
        token = remember_secret(
            rds.generate_db_auth_token(DBHostname="localhost", Port=postgres.port, DBUsername=user)
            + f"&n={len(signed)}"  # two tokens signed in the same second would be equal
        )
        admin.run(f"ALTER ROLE \"{user}\" PASSWORD '{token}'")
        signed.append(token)
        return token

    provider = IamAuthTokenProvider(settings, clock=lambda: now[0], generate_token=sign_and_install)
    database = Database(settings, password_provider=provider)
    try:
        assert database.run_transaction(
            lambda c: c.run("SELECT current_user"), Deadline.after(10)
        ) == [[user]]

        now[0] = 600.0  # still well inside the token's life: a reconnect reuses it
        terminate_backends(admin, user)
        assert database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10)) == [[1]]
        assert len(signed) == 1

        now[0] = 850.0  # within 60 s of expiry: the reconnect signs and uses a new token
        terminate_backends(admin, user)
        assert database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10)) == [[1]]
        assert len(signed) == 2
    finally:
        database.close()
        admin.close()

    assert events_of(caplog, "db.auth_failed") == []
    assert len(events_of(caplog, "db.connected")) == 3


def test_sdk_debug_logs_never_carry_the_secret_or_the_iam_token(
    app_database, use_role, tls, caplog
):
    # GIVEN the root logger at DEBUG, as Lambda sets it for an application log level of DEBUG,
    # and botocore's logger as a fresh process has it (an earlier test may have raised it)
    caplog.set_level(logging.DEBUG)
    botocore_logger = logging.getLogger("botocore")
    saved_level = botocore_logger.level
    botocore_logger.setLevel(logging.NOTSET)
    use_role(app_database.reader_user, app_database.reader_secret_arn)
    try:
        # WHEN a handler reads its secret through boto3, and a token is signed by boto3
        response = reader.handler(http_event("/items", {"limit": "1"}), FakeLambdaContext())
        token = remember_secret(
            IamAuthTokenProvider(
                settings_for(
                    host="db.example.internal",
                    port=5432,
                    database="app",
                    user="app_user",
                    ca_bundle=tls.trusted_bundle,
                    auth_mode="iam",
                )
            ).password(Deadline.after(5))
        )
    finally:
        botocore_logger.setLevel(saved_level)

    # THEN neither the secret, nor the token, nor its signature is in any captured record
    assert response["statusCode"] == 200
    assert len(events_of(caplog, "secret.read")) == 1
    signature = parse_qs(urlsplit("https://" + token).query)["X-Amz-Signature"][0]
    assert signature not in caplog.text
    assert not any(value in caplog.text for value in SECRET_VALUES)
