"""Fixtures: certificates, a real PostgreSQL over TLS, moto's Secrets Manager, a log guard."""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lambda_src import database as database_module
from lambda_src import invocation as invocation_module
from lambda_src.credentials import SecretsManagerReader
from lambda_src.database import Database
from lambda_src.handlers.bootstrap import parse_event, run_bootstrap
from lambda_src.invocation import Deadline
from lambda_src.logs import LOGGER_NAME, JsonFormatter

from .helpers import (
    REGION,
    SECRET_VALUES,
    create_login_role,
    db_environ,
    new_password,
    remember_secret,
    settings_for,
)
from .pg_server import PostgresServer, free_port
from .tls_material import (
    ServerCertificate,
    issue_server_certificate,
    make_authority,
    write_bundle,
)

FAKE_ACCESS_KEY_ID = "AKIAFAKEFORTESTS0001"
FAKE_SECRET_ACCESS_KEY = remember_secret("fake-secret-access-key-used-only-in-tests")


@dataclass(frozen=True)
class TlsFiles:
    trusted_bundle: Path
    server: ServerCertificate
    from_other_authority: ServerCertificate
    for_other_host: ServerCertificate


@dataclass(frozen=True)
class AppDatabase:
    """The database the handlers use, set up by the bootstrap handler itself."""

    name: str
    master_user: str
    master_secret_arn: str
    writer_user: str
    writer_secret_arn: str
    reader_user: str
    reader_secret_arn: str


@pytest.fixture(scope="package")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    trusted = make_authority("lambda_src tests trusted CA")
    other = make_authority("lambda_src tests unrelated CA")
    directory = tmp_path_factory.mktemp("tls")
    return TlsFiles(
        trusted_bundle=write_bundle(directory / "trusted-ca.pem", trusted),
        server=issue_server_certificate(trusted, ["localhost"], ["127.0.0.1"]),
        from_other_authority=issue_server_certificate(other, ["localhost"], ["127.0.0.1"]),
        for_other_host=issue_server_certificate(trusted, ["db.elsewhere.test"], []),
    )


@pytest.fixture(scope="package")
def postgres(tls: TlsFiles) -> Iterator[PostgresServer]:
    server = PostgresServer("tls", certificate=tls.server)
    try:
        server.initialize()
        server.start()
        yield server
        server.stop()
    finally:
        server.remove()


@pytest.fixture(scope="package")
def plaintext_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer("plaintext", certificate=None)
    try:
        server.initialize()
        server.start()
        yield server
        server.stop()
    finally:
        server.remove()


@pytest.fixture(scope="package")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="package", autouse=True)
def aws_environment(moto_endpoint: str) -> Iterator[None]:
    """Fake credentials and Secrets Manager at moto's server, through standard variables only."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY_ID)
        patch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_ACCESS_KEY)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        yield


@pytest.fixture
def secrets_client(aws_environment: None):
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture(scope="package")
def app_database(postgres: PostgresServer, tls: TlsFiles, aws_environment: None) -> AppDatabase:
    """A database bootstrapped exactly as in production: master secret, then the bootstrap."""
    client = boto3.client("secretsmanager", region_name=REGION)
    master_user, master_password = "app_master", new_password()
    admin = postgres.admin()
    try:
        create_login_role(admin, master_user, master_password, "CREATEROLE CREATEDB")
        # RDS has this role; vanilla PostgreSQL does not, so the tests create it.
        admin.run("CREATE ROLE rds_iam NOLOGIN")
        admin.run(f'CREATE DATABASE appdb OWNER "{master_user}"')
    finally:
        admin.close()

    master_secret_arn = client.create_secret(
        Name="rds-master-secret",
        SecretString=f'{{"username": "{master_user}", "password": "{master_password}"}}',
    )["ARN"]
    writer_secret_arn = client.create_secret(Name="items-writer-db-user")["ARN"]
    reader_secret_arn = client.create_secret(Name="items-reader-db-user")["ARN"]

    settings = settings_for(
        host="localhost",
        port=postgres.port,
        database="appdb",
        user=master_user,
        ca_bundle=tls.trusted_bundle,
        secret_arn=master_secret_arn,
        endpoint_kind="instance",
    )
    master = Database(settings)
    try:
        run_bootstrap(
            parse_event(
                {
                    "schema": "app",
                    "roles": [
                        {
                            "name": "items_writer",
                            "access": "read-write",
                            "secretArn": writer_secret_arn,
                        },
                        {
                            "name": "items_reader",
                            "access": "read-only",
                            "secretArn": reader_secret_arn,
                        },
                    ],
                    "iamAuth": False,
                }
            ),
            master,
            SecretsManagerReader(REGION),
            Deadline.after(30),
        )
    finally:
        master.close()
    for arn in (writer_secret_arn, reader_secret_arn):
        value = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
        remember_secret(value["password"])
    return AppDatabase(
        name="appdb",
        master_user=master_user,
        master_secret_arn=master_secret_arn,
        writer_user="items_writer",
        writer_secret_arn=writer_secret_arn,
        reader_user="items_reader",
        reader_secret_arn=reader_secret_arn,
    )


@pytest.fixture
def use_role(
    monkeypatch: pytest.MonkeyPatch, postgres: PostgresServer, tls: TlsFiles, app_database
):
    """Point the handlers' environment at `app_database` as one of its roles.

    Lambda never changes a function's variables within an execution environment, and the
    handlers read them once per environment; so, as a new configuration would, this starts a
    new execution environment.
    """

    def use(user: str, secret_arn: str) -> None:
        environ = db_environ(
            host="localhost",
            port=postgres.port,
            database=app_database.name,
            user=user,
            ca_bundle=tls.trusted_bundle,
            secret_arn=secret_arn,
        )
        for key, value in environ.items():
            monkeypatch.setenv(key, value)
        _start_new_execution_environment()

    return use


@pytest.fixture
def serving_certificate(postgres: PostgresServer, tls: TlsFiles):
    """Make the server present another certificate for the duration of a `with` block."""

    @contextmanager
    def serving(certificate: ServerCertificate) -> Iterator[None]:
        postgres.swap_certificate(certificate)
        try:
            yield
        finally:
            postgres.swap_certificate(tls.server)

    return serving


@pytest.fixture(autouse=True)
def fresh_execution_environment() -> Iterator[None]:
    """Each test starts like a new Lambda execution environment (no shared connection)."""
    invocation_module._cold_start = True
    yield
    _start_new_execution_environment()


def _start_new_execution_environment() -> None:
    """Forget the module state Lambda keeps between warm invocations: connection, settings."""
    shared = database_module._shared
    if shared is not None:
        shared.close()
    database_module._shared = None
    invocation_module._cold_start = True


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture every record of the library and fail the test if any holds a secret value."""
    library_logger = logging.getLogger(LOGGER_NAME)
    saved_propagate, saved_level = library_logger.propagate, library_logger.level
    library_logger.addHandler(caplog.handler)
    library_logger.propagate = False
    library_logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        library_logger.removeHandler(caplog.handler)
        library_logger.propagate = saved_propagate
        library_logger.setLevel(saved_level)
    # This runs in the teardown phase, whose caplog.records start empty: collect every phase.
    records = [
        *caplog.get_records("setup"),
        *caplog.get_records("call"),
        *caplog.get_records("teardown"),
    ]
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in records]
    # Report where a secret leaked, never the secret itself.
    leaking_events = sorted(
        {
            str(getattr(record, "event", None) or f"{record.name} line {record.lineno}")
            for record, line in zip(records, lines, strict=True)
            if any(value in line for value in SECRET_VALUES)
        }
    )
    assert not leaking_events, f"secret values appeared in log records of: {leaking_events}"
