"""Deploy-time bootstrap: schema, table, per-tier roles and grants, idempotent, one transaction."""

import base64
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from scramp import ScramMechanism

from lambda_src.credentials import SecretsManagerReader
from lambda_src.database import Database, shared_database
from lambda_src.errors import ConfigurationError
from lambda_src.invocation import Deadline, LambdaContext, start_invocation
from lambda_src.logs import LOGGER_NAME, configure_logging, log_event

logger = logging.getLogger(f"{LOGGER_NAME}.bootstrap")

# What each tier may do on the tables of the schema. The writer only inserts (ON CONFLICT DO
# NOTHING needs no UPDATE) and reads; nothing may update, delete or truncate.
TABLE_PRIVILEGES = {"read-write": ("SELECT", "INSERT"), "read-only": ("SELECT",)}

# Lower-case identifiers only, so no quoting rules can surprise anyone reading the grants.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RESERVED_ROLE_PREFIXES = ("pg_", "rds")
# Names PostgreSQL reserves for pseudo-roles; CREATE ROLE refuses them.
_RESERVED_ROLE_NAMES = ("public", "none", "current_user", "current_role", "session_user")

GENERATED_PASSWORD_BYTES = 32
SCRAM_ITERATIONS = 4096

# RDS creates this role; granting it makes a user log in with IAM auth tokens only.
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html
IAM_ROLE = "rds_iam"


@dataclass(frozen=True)
class RoleRequest:
    name: str
    access: str
    secret_arn: str | None


@dataclass(frozen=True)
class BootstrapRequest:
    schema: str
    roles: tuple[RoleRequest, ...]
    iam_auth: bool


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Entry point invoked once per deployment by aws.lambda_.Invocation."""
    deadline = start_invocation(context)
    database = shared_database()
    configure_logging(database.settings.log_level)
    request = parse_event(event)
    return run_bootstrap(
        request, database, SecretsManagerReader(database.settings.region), deadline
    )


def parse_event(event: object) -> BootstrapRequest:
    """Validate the whole event; one error lists every problem."""
    problems: list[str] = []
    if not isinstance(event, dict):
        raise ConfigurationError(
            "The bootstrap event must be a JSON object with 'schema', 'roles' and 'iamAuth'."
        )

    schema = event.get("schema")
    if not isinstance(schema, str) or not _IDENTIFIER.match(schema):
        problems.append(
            f"'schema' must be a lower-case SQL identifier (letters, digits, _; at most 63), "
            f'got {schema!r}; for example "app".'
        )

    iam_auth = event.get("iamAuth")
    if not isinstance(iam_auth, bool):
        problems.append(f"'iamAuth' must be true or false, got {iam_auth!r}.")

    raw_roles = event.get("roles")
    roles: list[RoleRequest] = []
    if not isinstance(raw_roles, list) or not raw_roles:
        problems.append(
            "'roles' must be a non-empty list of "
            '{"name": ..., "access": "read-write"|"read-only"}, got ' + repr(raw_roles) + "."
        )
        raw_roles = []
    seen: set[str] = set()
    secret_owners: dict[str, str] = {}
    for index, raw in enumerate(raw_roles):
        where = f"'roles[{index}]'"
        if not isinstance(raw, dict):
            problems.append(f"{where} must be an object, got {raw!r}.")
            continue
        name, access, secret_arn = raw.get("name"), raw.get("access"), raw.get("secretArn")
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            problems.append(
                f"{where}.name must be a lower-case SQL identifier, got {name!r}; use the "
                'database user name of the tier, e.g. "orders_writer".'
            )
        elif name.startswith(_RESERVED_ROLE_PREFIXES):
            problems.append(
                f"{where}.name {name!r} starts with a prefix reserved by PostgreSQL or RDS "
                f"({', '.join(_RESERVED_ROLE_PREFIXES)}); choose another name."
            )
        elif name in _RESERVED_ROLE_NAMES:
            problems.append(
                f"{where}.name {name!r} is reserved by PostgreSQL for a pseudo-role; choose "
                "another name."
            )
        elif name in seen:
            problems.append(f"{where}.name {name!r} appears twice; list each role once.")
        else:
            seen.add(name)
        if access not in TABLE_PRIVILEGES:
            problems.append(
                f"{where}.access must be one of {', '.join(TABLE_PRIVILEGES)}, got {access!r}."
            )
        if iam_auth is False and not (
            isinstance(secret_arn, str) and secret_arn.startswith("arn:")
        ):
            problems.append(
                f"{where}.secretArn must be the ARN of the role's Secrets Manager secret when "
                f"'iamAuth' is false, got {secret_arn!r}; the bootstrap writes the generated "
                "password there."
            )
        elif iam_auth is False and secret_arn in secret_owners:
            # Two roles sharing a secret would each overwrite the other's password in it.
            problems.append(
                f"{where}.secretArn is also the secret of '{secret_owners[secret_arn]}'; each "
                "role needs its own secret."
            )
        elif iam_auth is False:
            secret_owners[secret_arn] = f"roles[{index}]"
        roles.append(
            RoleRequest(
                name=str(name),
                access=str(access),
                secret_arn=secret_arn if isinstance(secret_arn, str) else None,
            )
        )

    if problems:
        raise ConfigurationError(
            "The bootstrap event is invalid; nothing was changed:\n- " + "\n- ".join(problems)
        )
    return BootstrapRequest(schema=str(schema), roles=tuple(roles), iam_auth=bool(iam_auth))


def run_bootstrap(
    request: BootstrapRequest,
    database: Database,
    secrets_reader: SecretsManagerReader,
    deadline: Deadline,
) -> dict[str, Any]:
    """Apply the schema, roles and grants in one transaction; report whether anything changed.

    The role's secret is the source of truth for its password. When the secret holds one, the
    role is set to it on every run; only when it holds none is a password generated, set and
    written to the secret (before COMMIT). So a run that fails after writing a secret leaves a
    password that the next successful run applies to the role, and after any successful run
    the secret and the role agree.
    """

    def work(connection: Any) -> bool:
        before = _snapshot(connection, request)
        passwords_set = _apply(connection, request, secrets_reader, deadline)
        after = _snapshot(connection, request)
        return passwords_set > 0 or before != after

    changed = database.run_transaction(work, deadline)
    log_event(
        logger,
        logging.INFO,
        "bootstrap.done",
        f"Bootstrap of schema '{request.schema}' finished",
        changed=changed,
    )
    return {
        "schema": request.schema,
        "roles": [{"name": r.name, "access": r.access} for r in request.roles],
        "changed": changed,
    }


def scram_verifier(password: str) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password`.

    Sending the verifier instead of the password keeps the password out of the server's
    statement log and of pg_stat_statements; PostgreSQL accepts it as-is in ALTER ROLE.
    """
    salt, stored_key, server_key, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(
        password, iteration_count=SCRAM_ITERATIONS
    )

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _apply(
    connection: Any,
    request: BootstrapRequest,
    secrets_reader: SecretsManagerReader,
    deadline: Deadline,
) -> int:
    _refuse_roles_not_ours(connection, request)

    schema = _quote(request.schema)
    connection.run(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    connection.run(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
    connection.run(
        f"CREATE TABLE IF NOT EXISTS {schema}.items ("
        "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "idempotency_key text NOT NULL UNIQUE, "
        "payload jsonb NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())"
    )
    connection.run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM PUBLIC")

    if request.iam_auth and not connection.run(
        "SELECT 1 FROM pg_roles WHERE rolname = :name", name=IAM_ROLE
    ):
        raise ConfigurationError(
            f"'iamAuth' is true but the role '{IAM_ROLE}' does not exist; IAM database "
            "authentication needs an RDS instance with it enabled, or send 'iamAuth': false."
        )

    passwords_set = 0
    for role in request.roles:
        name = _quote(role.name)
        created = not connection.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=role.name)
        if created:
            connection.run(f"CREATE ROLE {name} LOGIN")
        connection.run(f"GRANT USAGE ON SCHEMA {schema} TO {name}")
        # Revoke then grant: a role whose access changed ends with exactly the new set, and an
        # unchanged role ends where it started (the snapshot sees no difference).
        connection.run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {name}")
        privileges = ", ".join(TABLE_PRIVILEGES[role.access])
        connection.run(f"GRANT {privileges} ON ALL TABLES IN SCHEMA {schema} TO {name}")

        if request.iam_auth:
            connection.run(f"GRANT {IAM_ROLE} TO {name}")
            continue
        assert role.secret_arn is not None  # parse_event enforces it
        current = secrets_reader.read_json(role.secret_arn, deadline)
        stored = current.get("password") if current else None
        if isinstance(stored, str) and stored:
            # Applied again on every run (a new salt, the same password): a password written to
            # the secret by a run that then rolled back, or changed by hand in the database,
            # is brought back in line with the secret, which the tier reads. The limit: a run
            # in the middle of a Secrets Manager rotation, after its setSecret step and before
            # finishSecret, puts the current password back instead of the pending one.
            connection.run(f"ALTER ROLE {name} PASSWORD '{scram_verifier(stored)}'")
            continue
        password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        connection.run(f"ALTER ROLE {name} PASSWORD '{scram_verifier(password)}'")
        secrets_reader.put_json(
            role.secret_arn, {"username": role.name, "password": password}, deadline
        )
        passwords_set += 1
        log_event(
            logger,
            logging.INFO,
            "bootstrap.password_set",
            f"Generated a password for role '{role.name}' and stored it in its secret",
            role=role.name,
        )
    return passwords_set


def _refuse_roles_not_ours(connection: Any, request: BootstrapRequest) -> None:
    """Raise before any change if a requested role is one the bootstrap must not manage.

    The bootstrap revokes a role's table privileges, resets its password or grants it rds_iam
    (which ends password logins on RDS). Done to the master user, that locks the bootstrap
    itself out; done to an administrator, it strips privileges someone relies on. So a role
    it manages is either new, or a plain login role: not the user it connects as, without
    SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS, and a member of no role but
    rds_iam.
    """
    rows = connection.run(
        "SELECT r.rolname, r.rolname = current_user, "
        "array_remove(ARRAY["
        "CASE WHEN r.rolsuper THEN 'SUPERUSER' END, "
        "CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END, "
        "CASE WHEN r.rolcreatedb THEN 'CREATEDB' END, "
        "CASE WHEN r.rolreplication THEN 'REPLICATION' END, "
        "CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END], NULL), "
        "ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "WHERE m.member = r.oid AND g.rolname <> :iam_role ORDER BY 1) "
        "FROM pg_roles r WHERE r.rolname = ANY(:names)",
        names=[r.name for r in request.roles],
        iam_role=IAM_ROLE,
    )
    found = {row[0]: row[1:] for row in rows}
    problems: list[str] = []
    for index, role in enumerate(request.roles):
        if role.name not in found:
            continue
        is_session_user, attributes, memberships = found[role.name]
        where = f"'roles[{index}]'.name {role.name!r}"
        if is_session_user:
            problems.append(
                f"{where} is the user the bootstrap connects as (the master user); a tier "
                "needs its own user. Choose another name."
            )
        elif attributes or memberships:
            held = [*attributes, *(f"member of {m}" for m in memberships)]
            problems.append(
                f"{where} already exists with more than a tier may hold ({', '.join(held)}); "
                "the bootstrap would revoke its table privileges and reset its login. Choose a "
                "dedicated user name for the tier."
            )
    if problems:
        raise ConfigurationError(
            "The bootstrap event names roles it must not manage; nothing was changed:\n- "
            + "\n- ".join(problems)
        )


def _snapshot(connection: Any, request: BootstrapRequest) -> tuple[Any, ...]:
    """Everything the bootstrap manages, as comparable data (not passwords)."""
    names = [r.name for r in request.roles]
    schema_acl = connection.run(
        "SELECT nspacl::text FROM pg_namespace WHERE nspname = :schema", schema=request.schema
    )
    columns = connection.run(
        "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity "
        "FROM information_schema.columns WHERE table_schema = :schema "
        "ORDER BY table_name, ordinal_position",
        schema=request.schema,
    )
    constraints = connection.run(
        "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = :schema "
        "ORDER BY c.conname",
        schema=request.schema,
    )
    table_grants = connection.run(
        "SELECT c.relname, a.grantee::regrole::text, a.privilege_type "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "CROSS JOIN LATERAL aclexplode(c.relacl) a "
        "WHERE n.nspname = :schema ORDER BY 1, 2, 3",
        schema=request.schema,
    )
    roles = connection.run(
        "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY(:names) ORDER BY 1",
        names=names,
    )
    memberships = connection.run(
        "SELECT member.rolname, granted.rolname FROM pg_auth_members m "
        "JOIN pg_roles member ON member.oid = m.member "
        "JOIN pg_roles granted ON granted.oid = m.roleid "
        "WHERE member.rolname = ANY(:names) ORDER BY 1, 2",
        names=names,
    )
    return tuple(
        tuple(tuple(row) for row in rows)
        for rows in (schema_acl, columns, constraints, table_grants, roles, memberships)
    )


def _quote(identifier: str) -> str:
    # parse_event allows only [a-z0-9_] identifiers; quoting is a second line of defence.
    return '"' + identifier.replace('"', '""') + '"'
