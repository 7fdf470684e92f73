"""Bootstrap: idempotent schema, roles and grants on a fresh database; bad events change nothing."""

import ast
import json
import re
from pathlib import Path

import pytest

from lambda_src.database import Database
from lambda_src.errors import ConfigurationError, CredentialsError, QueryError
from lambda_src.handlers import bootstrap
from lambda_src.invocation import Deadline

from .helpers import (
    SECRET_VALUES,
    FakeLambdaContext,
    db_environ,
    events_of,
    remember_secret,
    settings_for,
    unique_name,
)

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"


@pytest.fixture
def fresh_database(postgres, app_database) -> str:
    name = unique_name("fresh")
    admin = postgres.admin()
    try:
        admin.run(f'CREATE DATABASE "{name}" OWNER "{app_database.master_user}"')
    finally:
        admin.close()
    return name


@pytest.fixture
def as_master(monkeypatch, postgres, tls, app_database, fresh_database) -> None:
    """The bootstrap's own environment: the instance endpoint, the RDS master secret."""
    environ = db_environ(
        host="localhost",
        port=postgres.port,
        database=fresh_database,
        user=app_database.master_user,
        ca_bundle=tls.trusted_bundle,
        secret_arn=app_database.master_secret_arn,
        endpoint_kind="instance",
    )
    for key, value in environ.items():
        monkeypatch.setenv(key, value)


def _catalog(postgres, database: str, schema: str, roles: list[str]) -> dict[str, object]:
    """What exists in the database, read independently of the bootstrap's own snapshot."""
    admin = postgres.admin(database)
    try:
        return {
            "tables": admin.run(
                "SELECT table_name, column_name, data_type, is_nullable, is_identity, "
                "column_default FROM information_schema.columns WHERE table_schema = :s "
                "ORDER BY 1, 2",
                s=schema,
            ),
            "constraints": admin.run(
                "SELECT conname, contype, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = :s ORDER BY 1",
                s=schema,
            ),
            "table_privileges": admin.run(
                "SELECT grantee, table_name, privilege_type FROM "
                "information_schema.role_table_grants WHERE table_schema = :s "
                "AND grantee = ANY(:roles) ORDER BY 1, 2, 3",
                s=schema,
                roles=roles,
            ),
            "schema_usage": admin.run(
                "SELECT r, has_schema_privilege(r, :s, 'USAGE'), "
                "has_schema_privilege(r, :s, 'CREATE') FROM unnest(CAST(:roles AS text[])) r "
                "ORDER BY 1",
                s=schema,
                roles=roles,
            ),
            "roles": admin.run(
                "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, "
                "rolpassword IS NOT NULL FROM pg_authid WHERE rolname = ANY(:roles) ORDER BY 1",
                roles=roles,
            ),
            "memberships": admin.run(
                "SELECT m.rolname, g.rolname FROM pg_auth_members a "
                "JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.roleid "
                "WHERE m.rolname = ANY(:roles) ORDER BY 1, 2",
                roles=roles,
            ),
        }
    finally:
        admin.close()


def _login(postgres, tls, database: str, user: str, secret_arn: str) -> Database:
    return Database(
        settings_for(
            host="localhost",
            port=postgres.port,
            database=database,
            user=user,
            ca_bundle=tls.trusted_bundle,
            secret_arn=secret_arn,
        )
    )


def _expect_denied(database: Database, sql: str, **params) -> None:
    with pytest.raises(QueryError) as raised:
        database.run_transaction(lambda c: c.run(sql, **params), Deadline.after(10))
    assert raised.value.sqlstate == "42501"  # insufficient_privilege


def test_bootstrap_twice_on_fresh_database_same_schema_and_intended_grants(
    postgres, tls, fresh_database, as_master, secrets_client, caplog
):
    writer_role, reader_role = unique_name("rw"), unique_name("ro")
    writer_arn = secrets_client.create_secret(Name=unique_name("secret"))["ARN"]
    reader_arn = secrets_client.create_secret(Name=unique_name("secret"))["ARN"]
    event = {
        "schema": "app",
        "roles": [
            {"name": writer_role, "access": "read-write", "secretArn": writer_arn},
            {"name": reader_role, "access": "read-only", "secretArn": reader_arn},
        ],
        "iamAuth": False,
    }

    first = bootstrap.handler(event, FakeLambdaContext(30))
    for arn in (writer_arn, reader_arn):
        remember_secret(
            json.loads(secrets_client.get_secret_value(SecretId=arn)["SecretString"])["password"]
        )
    catalog_after_first = _catalog(postgres, fresh_database, "app", [writer_role, reader_role])
    versions_after_first = [
        secrets_client.get_secret_value(SecretId=arn)["VersionId"]
        for arn in (writer_arn, reader_arn)
    ]

    second = bootstrap.handler(event, FakeLambdaContext(30))
    catalog_after_second = _catalog(postgres, fresh_database, "app", [writer_role, reader_role])
    versions_after_second = [
        secrets_client.get_secret_value(SecretId=arn)["VersionId"]
        for arn in (writer_arn, reader_arn)
    ]

    roles_out = [
        {"name": writer_role, "access": "read-write"},
        {"name": reader_role, "access": "read-only"},
    ]
    assert first == {"schema": "app", "roles": roles_out, "changed": True}
    assert second == {"schema": "app", "roles": roles_out, "changed": False}
    assert not any(value in json.dumps([first, second]) for value in SECRET_VALUES)
    assert catalog_after_second == catalog_after_first
    assert versions_after_second == versions_after_first  # no new password the second time
    assert len(events_of(caplog, "bootstrap.password_set")) == 2

    assert {row[1] for row in catalog_after_first["tables"]} == {
        "id",
        "idempotency_key",
        "payload",
        "created_at",
    }
    assert sorted(row[1] for row in catalog_after_first["constraints"]) == ["p", "u"]
    assert catalog_after_first["table_privileges"] == [
        [reader_role, "items", "SELECT"],
        [writer_role, "items", "INSERT"],
        [writer_role, "items", "SELECT"],
    ]
    assert catalog_after_first["schema_usage"] == sorted(
        [[writer_role, True, False], [reader_role, True, False]]
    )
    assert all(row[1:] == [True, False, False, False, True] for row in catalog_after_first["roles"])

    # The generated passwords stored in the secrets log in; the grants hold.
    writer_db = _login(postgres, tls, fresh_database, writer_role, writer_arn)
    reader_db = _login(postgres, tls, fresh_database, reader_role, reader_arn)
    try:
        writer_db.run_transaction(
            lambda c: c.run(
                "INSERT INTO app.items (idempotency_key, payload) VALUES ('k1', '{}') "
                "ON CONFLICT (idempotency_key) DO NOTHING"
            ),
            Deadline.after(10),
        )
        assert reader_db.run_transaction(
            lambda c: c.run("SELECT idempotency_key FROM app.items"), Deadline.after(10)
        ) == [["k1"]]
        _expect_denied(
            reader_db, "INSERT INTO app.items (idempotency_key, payload) VALUES ('k2', '{}')"
        )
        _expect_denied(reader_db, "UPDATE app.items SET payload = '{}'")
        _expect_denied(writer_db, "DELETE FROM app.items")
        _expect_denied(writer_db, "UPDATE app.items SET payload = '{}'")
        _expect_denied(writer_db, "CREATE TABLE app.other (id int)")
    finally:
        writer_db.close()
        reader_db.close()


def test_bootstrap_with_iam_auth_grants_rds_iam_and_sets_no_password(
    postgres, fresh_database, as_master
):
    role = unique_name("iam_rw")
    event = {"schema": "app", "roles": [{"name": role, "access": "read-write"}], "iamAuth": True}

    first = bootstrap.handler(event, FakeLambdaContext(30))
    second = bootstrap.handler(event, FakeLambdaContext(30))

    assert (first["changed"], second["changed"]) == (True, False)
    catalog = _catalog(postgres, fresh_database, "app", [role])
    assert catalog["memberships"] == [[role, "rds_iam"]]
    assert catalog["roles"] == [[role, True, False, False, False, False]]  # no password


def test_bootstrap_invalid_event_lists_every_problem_and_changes_nothing(
    postgres, fresh_database, as_master
):
    event = {
        "schema": "App-Schema",
        "roles": [
            {"name": "orders", "access": "admin"},
            {"name": "orders", "access": "read-only"},
            {"name": "pg_sneaky", "access": "read-only", "secretArn": "arn:aws:x"},
        ],
        "iamAuth": False,
    }

    with pytest.raises(ConfigurationError) as raised:
        bootstrap.handler(event, FakeLambdaContext(30))

    message = str(raised.value)
    assert "'schema' must be a lower-case SQL identifier" in message and "'App-Schema'" in message
    assert "'roles[0]'.access must be one of read-write, read-only, got 'admin'" in message
    assert "'roles[0]'.secretArn must be the ARN" in message
    assert "'roles[1]'.name 'orders' appears twice" in message
    assert "'roles[2]'.name 'pg_sneaky' starts with a prefix reserved" in message
    admin = postgres.admin(fresh_database)
    try:
        tables = admin.run(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'items'"
        )
        roles = admin.run("SELECT count(*) FROM pg_roles WHERE rolname = 'orders'")
    finally:
        admin.close()
    assert tables == [[0]] and roles == [[0]]


def test_bootstrap_failure_half_way_rolls_everything_back(
    postgres, fresh_database, as_master, secrets_client
):
    first_role, second_role = unique_name("rw"), unique_name("ro")
    good_arn = secrets_client.create_secret(Name=unique_name("secret"))["ARN"]
    missing_arn = good_arn.rsplit(":", 1)[0] + ":secret:does-not-exist-AbCdEf"
    event = {
        "schema": "app",
        "roles": [
            {"name": first_role, "access": "read-write", "secretArn": good_arn},
            {"name": second_role, "access": "read-only", "secretArn": missing_arn},
        ],
        "iamAuth": False,
    }

    with pytest.raises(CredentialsError) as raised:
        bootstrap.handler(event, FakeLambdaContext(30))

    assert "ResourceNotFoundException" in str(raised.value) and missing_arn in str(raised.value)
    admin = postgres.admin(fresh_database)
    try:
        schemas = admin.run("SELECT count(*) FROM pg_namespace WHERE nspname = 'app'")
        roles = admin.run(
            "SELECT count(*) FROM pg_roles WHERE rolname IN (:a, :b)", a=first_role, b=second_role
        )
    finally:
        admin.close()
    assert schemas == [[0]] and roles == [[0]]
    # The first role's password was written before the failure; a later successful run
    # creates the role again and overwrites it, so the two never disagree after success.


def test_scram_verifier_is_what_postgresql_accepts(postgres, tls, secrets_client):
    role, password = unique_name("scram"), remember_secret("correct horse battery staple")
    admin = postgres.admin()
    try:
        admin.run(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{bootstrap.scram_verifier(password)}'")
        stored = admin.run("SELECT rolpassword FROM pg_authid WHERE rolname = :r", r=role)[0][0]
    finally:
        admin.close()
    assert stored.startswith("SCRAM-SHA-256$4096:")
    arn = secrets_client.create_secret(
        Name=unique_name("secret"), SecretString=json.dumps({"password": password})
    )["ARN"]
    database = _login(postgres, tls, "postgres", role, arn)
    try:
        assert database.run_transaction(
            lambda c: c.run("SELECT current_user"), Deadline.after(10)
        ) == [[role]]
    finally:
        database.close()


def test_sql_in_lambda_src_uses_nothing_that_pins_a_proxy_session():
    """A static check of every string in the package, beside the statement-log check."""
    forbidden = re.compile(
        r"\b(PREPARE|DECLARE|LISTEN|TEMPORARY|TEMP|pg_advisory_\w+|set_config|SET SESSION)\b"
    )
    checked = 0
    for module in LAMBDA_SRC.rglob("*.py"):
        tree = ast.parse(module.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docstrings:
                    continue
                checked += 1
                assert not forbidden.search(node.value), f"{module.name}: {node.value!r}"
                if re.search(r"\bSET\b", node.value):
                    assert "SET LOCAL statement_timeout" in node.value, node.value
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("prepare", "prepare_statement"), module.name
    assert checked > 100


def test_bootstrap_refuses_master_user_and_privileged_roles_and_changes_nothing(
    postgres, tls, fresh_database, as_master, app_database, secrets_client
):
    # GIVEN an administrator and a role holding another role's privileges
    admin_role, member_role, group = unique_name("admin"), unique_name("member"), unique_name("g")
    admin = postgres.admin(fresh_database)
    try:
        admin.run(f'CREATE ROLE "{admin_role}" LOGIN CREATEROLE')
        admin.run(f'CREATE ROLE "{group}" NOLOGIN')
        admin.run(f'CREATE ROLE "{member_role}" LOGIN IN ROLE "{group}"')
    finally:
        admin.close()
    secret_arns = [secrets_client.create_secret(Name=unique_name("secret"))["ARN"] for _ in "abc"]
    names = [app_database.master_user, admin_role, member_role]
    event = {
        "schema": "app",
        "roles": [
            {"name": name, "access": "read-only", "secretArn": arn}
            for name, arn in zip(names, secret_arns, strict=True)
        ],
        "iamAuth": False,
    }
    roles_before = _roles_and_memberships(postgres, names)

    # WHEN the bootstrap is asked to manage them
    with pytest.raises(ConfigurationError) as raised:
        bootstrap.handler(event, FakeLambdaContext(30))

    # THEN it names each one and why, and touches neither the database nor the secrets
    message = str(raised.value)
    assert f"'roles[0]'.name '{app_database.master_user}' is the user the bootstrap" in message
    assert f"'roles[1]'.name '{admin_role}' already exists with more than" in message
    assert "(CREATEROLE)" in message
    assert f"'roles[2]'.name '{member_role}' already exists" in message
    assert f"(member of {group})" in message
    assert _roles_and_memberships(postgres, names) == roles_before
    admin = postgres.admin(fresh_database)
    try:
        assert admin.run("SELECT count(*) FROM pg_namespace WHERE nspname = 'app'") == [[0]]
    finally:
        admin.close()
    for arn in secret_arns:
        assert "SecretString" not in _describe_current_value(secrets_client, arn)
    # The master user still logs in with its own secret.
    master = _login(
        postgres, tls, fresh_database, app_database.master_user, app_database.master_secret_arn
    )
    try:
        assert master.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10)) == [[1]]
    finally:
        master.close()


def test_bootstrap_secret_written_by_a_rolled_back_run_is_applied_by_the_next_run(
    postgres, tls, fresh_database, as_master, secrets_client
):
    # GIVEN a role that exists without a password and an empty secret for it
    role = unique_name("rw")
    admin = postgres.admin(fresh_database)
    try:
        admin.run(f'CREATE ROLE "{role}" LOGIN')
    finally:
        admin.close()
    role_arn = secrets_client.create_secret(Name=unique_name("secret"))["ARN"]
    missing_arn = role_arn.rsplit(":", 1)[0] + ":secret:does-not-exist-AbCdEf"
    failing = {
        "schema": "app",
        "roles": [
            {"name": role, "access": "read-write", "secretArn": role_arn},
            {"name": unique_name("ro"), "access": "read-only", "secretArn": missing_arn},
        ],
        "iamAuth": False,
    }

    # WHEN a run writes the role's new password to its secret, then fails and rolls back
    with pytest.raises(CredentialsError):
        bootstrap.handler(failing, FakeLambdaContext(30))
    written = json.loads(secrets_client.get_secret_value(SecretId=role_arn)["SecretString"])
    remember_secret(written["password"])
    # ... and the next run succeeds
    bootstrap.handler({**failing, "roles": failing["roles"][:1]}, FakeLambdaContext(30))

    # THEN the password in the secret logs in, and it is still the one written first
    database = _login(postgres, tls, fresh_database, role, role_arn)
    try:
        assert database.run_transaction(
            lambda c: c.run("SELECT current_user"), Deadline.after(10)
        ) == [[role]]
    finally:
        database.close()
    after = json.loads(secrets_client.get_secret_value(SecretId=role_arn)["SecretString"])
    assert after["password"] == written["password"]


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (
            [{"name": "public", "access": "read-only", "secretArn": "arn:aws:x:1"}],
            "'roles[0]'.name 'public' is reserved by PostgreSQL",
        ),
        (
            [
                {"name": "orders_rw", "access": "read-write", "secretArn": "arn:aws:x:1"},
                {"name": "orders_ro", "access": "read-only", "secretArn": "arn:aws:x:1"},
            ],
            "'roles[1]'.secretArn is also the secret of 'roles[0]'",
        ),
    ],
)
def test_bootstrap_parse_event_refuses_reserved_names_and_shared_secrets(roles, expected):
    with pytest.raises(ConfigurationError) as raised:
        bootstrap.parse_event({"schema": "app", "roles": roles, "iamAuth": False})
    assert expected in str(raised.value)


def _roles_and_memberships(postgres, names: list[str]) -> list:
    """Each role's attributes, password verifier and memberships, read as the superuser."""
    admin = postgres.admin()
    try:
        return admin.run(
            "SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, "
            "r.rolpassword, ARRAY(SELECT g.rolname::text FROM pg_auth_members m "
            "JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) "
            "FROM pg_authid r WHERE r.rolname = ANY(:names) ORDER BY 1",
            names=names,
        )
    finally:
        admin.close()


def _describe_current_value(secrets_client, arn: str) -> dict:
    """The secret's current value, or {} when it has none (never printed by the tests)."""
    try:
        return secrets_client.get_secret_value(SecretId=arn)
    except secrets_client.exceptions.ResourceNotFoundException:
        return {}
