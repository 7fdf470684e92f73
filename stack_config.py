"""The stack's configuration: every key Pulumi.yaml declares, read into one checked StackConfig."""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from components.database import (
    INSTANCE_CLASS_MEMORY_GIB,
    SUPPORTED_MAJOR_VERSIONS,
    proxy_connection_budget,
)
from components.lambda_tier import (
    MAX_HTTP_FUNCTION_TIMEOUT_SECONDS,
    MAX_HTTP_INTEGRATION_TIMEOUT_SECONDS,
)
from components.network import (
    LOG_RETENTION_DAYS,
    MIN_AVAILABILITY_ZONES,
    NAT_STRATEGIES,
    NetworkPlanError,
    SubnetPlan,
    app_subnet_ip_need,
    endpoint_service_problem,
    plan_subnets,
    public_subnet_count,
)

HANDLERS = {
    "writer": "lambda_src.handlers.writer.handler",
    "reader": "lambda_src.handlers.reader.handler",
}
# The event each handler understands decides the trigger it can sit behind; "none" deploys the
# function without an event source.
TRIGGERS_BY_HANDLER = {"writer": ("sqs", "none"), "reader": ("http", "none")}
DEFAULT_TRIGGER = {"writer": "sqs", "reader": "http"}
ACCESS_LEVELS = ("read-write", "read-only")
DEFAULT_ACCESS = {"writer": "read-write", "reader": "read-only"}
AUTH_MODES = ("iam", "secret")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Lambda limits. https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MIN_MEMORY_MB, MAX_MEMORY_MB = 128, 10_240
MAX_TIMEOUT_SECONDS = 900
# An SQS event source mapping without a batching window takes at most 10 messages a batch and
# scales between 2 and 1000 concurrent invocations.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
MAX_SQS_BATCH_SIZE = 10
MIN_SQS_MAX_CONCURRENCY, MAX_SQS_MAX_CONCURRENCY = 2, 1000

# Functions are named <project>-<stack>-<tier>, and Lambda allows 64 characters.
MAX_FUNCTION_NAME_LENGTH = 64
# RDS instance identifiers: at most 63 characters.
MAX_INSTANCE_IDENTIFIER_LENGTH = 63

# The bootstrap function is the one function every stack has besides the tiers.
BOOTSTRAP_FUNCTION_COUNT = 1

# Physical names the program derives from "<project>-<stack>" (see __main__.py for the
# component names, components/ for the suffixes): the database component's bootstrap function
# and log group, its RDS instance, the replica's instance, the KMS aliases. They are checked here,
# before anything is created; tests run the program to keep these suffixes true.
DATABASE_COMPONENT_NAME = "database"
REPLICA_COMPONENT_NAME = "replica"
BOOTSTRAP_FUNCTION_SUFFIX = f"{DATABASE_COMPONENT_NAME}-bootstrap"
# Every one of those names takes letters, digits and hyphens; RDS identifiers also refuse a
# double or trailing hyphen. So "<project>-<stack>" must be letters, digits and single hyphens.
_NAME_PREFIX = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*$")

_TIER_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,19}$")
_DB_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ENGINE_VERSION = re.compile(r"^\d{2}(?:\.\d+)?$")
# Role names PostgreSQL treats specially; pg_* and rds* belong to PostgreSQL and RDS as well.
_RESERVED_DB_USERS = ("postgres", "public")


@dataclass(frozen=True)
class ConfigKey:
    """One project config key: what Pulumi.yaml declares for it and the README documents."""

    name: str
    type: str
    default: Any
    description: str
    items: str | None = None


# Every key the program reads, in the order Pulumi.yaml and the README list them. `tiers` (a
# list of objects) and `replica` (an object) have no type the CLI's project schema accepts, so
# Pulumi.yaml declares them without one and they are checked here field by field.
CONFIG_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("vpcCidr", "string", "10.20.0.0/16", "IPv4 block of the VPC, a private /16 to /28."),
    ConfigKey(
        "availabilityZones",
        "array",
        [],
        "Zones to spread subnets over, at least 2; empty = the first azCount zones of the region.",
        items="string",
    ),
    ConfigKey(
        "azCount",
        "integer",
        2,
        "How many zones to discover when availabilityZones is empty (at least 2).",
    ),
    ConfigKey(
        "natStrategy",
        "string",
        "single",
        "NAT gateways: none (no internet egress), single (one shared) or per-az (one per zone).",
    ),
    ConfigKey(
        "appSubnetPrefixLength",
        "integer",
        24,
        "Size of each private app subnet (Lambda ENIs, RDS Proxy, endpoints), /16 to /28.",
    ),
    ConfigKey(
        "dataSubnetPrefixLength",
        "integer",
        26,
        "Size of each isolated data subnet (the database), /16 to /28.",
    ),
    ConfigKey(
        "publicSubnetPrefixLength",
        "integer",
        28,
        "Size of each public subnet (NAT gateways only), /16 to /28.",
    ),
    ConfigKey(
        "appSubnetCidrs",
        "array",
        [],
        "Explicit app subnet blocks, one per zone; empty = planned inside vpcCidr.",
        items="string",
    ),
    ConfigKey(
        "dataSubnetCidrs",
        "array",
        [],
        "Explicit data subnet blocks, one per zone; empty = planned inside vpcCidr.",
        items="string",
    ),
    ConfigKey(
        "publicSubnetCidrs",
        "array",
        [],
        "Explicit public subnet blocks, one per NAT gateway; empty = planned inside vpcCidr.",
        items="string",
    ),
    ConfigKey(
        "vpcEndpointServices",
        "array",
        ["secretsmanager"],
        "AWS services reached through interface endpoints with private DNS, by short name "
        "(kms, ecr.api); secretsmanager at least; not s3 or dynamodb.",
        items="string",
    ),
    ConfigKey(
        "logRetentionDays",
        "integer",
        30,
        "Retention of every log group (flow logs, functions, API access logs), a CloudWatch value.",
    ),
    ConfigKey(
        "kmsDeletionWindowDays",
        "integer",
        30,
        "Days (7-30) a scheduled deletion of the stack's KMS key can still be cancelled.",
    ),
    ConfigKey(
        "dbEngineVersion",
        "string",
        "16",
        "RDS for PostgreSQL version, major (16) or major.minor (16.4).",
    ),
    ConfigKey(
        "dbInstanceClass",
        "string",
        "db.t4g.medium",
        "Instance class; it sets max_connections and so the proxy's connection budget.",
    ),
    ConfigKey("dbAllocatedStorageGib", "integer", 20, "Initial gp3 storage in GiB (20-65536)."),
    ConfigKey(
        "dbMaxAllocatedStorageGib",
        "integer",
        100,
        "Storage autoscaling ceiling in GiB, at least 10% above dbAllocatedStorageGib; 0 turns "
        "autoscaling off.",
    ),
    ConfigKey("dbMultiAz", "boolean", True, "Keep a synchronous standby in a second zone."),
    ConfigKey("dbBackupRetentionDays", "integer", 7, "Days of automated backups, 1-35."),
    ConfigKey(
        "dbDeletionProtection",
        "boolean",
        True,
        "Refuse to delete the instance (pulumi destroy fails until turned off).",
    ),
    ConfigKey(
        "dbFinalSnapshot",
        "boolean",
        True,
        "Take a final snapshot when the instance is deleted.",
    ),
    ConfigKey("dbName", "string", "app", "Name of the application database."),
    ConfigKey("dbPort", "integer", 5432, "PostgreSQL port, 1150-65535."),
    ConfigKey(
        "dbMasterUsername",
        "string",
        "app_admin",
        "Master user; RDS generates its password and keeps it in Secrets Manager.",
    ),
    ConfigKey(
        "dbStatementTimeoutMs",
        "integer",
        10000,
        "statement_timeout in ms; below every tier's timeout, since RDS Proxy ignores "
        "client cancel requests.",
    ),
    ConfigKey(
        "dbAuthMode",
        "string",
        "iam",
        "How RDS Proxy logs in to the database: iam (end-to-end IAM) or secret (per-tier "
        "Secrets Manager secrets); functions always use IAM to the proxy.",
    ),
    ConfigKey(
        "dbPerformanceInsightsRetentionDays",
        "integer",
        7,
        "Performance Insights retention: 7, or a multiple of 31 up to 731.",
    ),
    ConfigKey(
        "proxyMaxConnectionsPercent",
        "integer",
        90,
        "Share of max_connections the proxy may open (1-100); the tiers' reserved concurrency "
        "must fit in it.",
    ),
    ConfigKey(
        "proxyMaxIdleConnectionsPercent",
        "integer",
        50,
        "Share of max_connections the proxy keeps open while idle (0-proxyMaxConnectionsPercent).",
    ),
    ConfigKey(
        "proxyConnectionBorrowTimeoutSeconds",
        "integer",
        120,
        "How long a client waits for a pooled connection (0-3600).",
    ),
    ConfigKey(
        "proxyIdleClientTimeoutSeconds",
        "integer",
        1800,
        "When the proxy closes an idle client connection (1-28800).",
    ),
    ConfigKey(
        "tiers",
        "object-list",
        [{"name": "ingest", "handler": "writer"}, {"name": "api", "handler": "reader"}],
        "Lambda tiers, a list of objects (name, handler, trigger, access, dbUser, "
        "reservedConcurrency, ...); see the README.",
    ),
    ConfigKey(
        "replica",
        "object",
        {},
        "Cross-region read replica (region, availabilityZones, vpcCidr, tiers, ...); "
        "empty = none. See the README.",
    ),
)
_KEYS_BY_NAME = {key.name: key for key in CONFIG_KEYS}
# The config types of Pulumi's project schema (simpleConfigType in the pulumi/pulumi repository,
# sdk/go/common/workspace/project.json); a key of any other kind is declared without a type.
PULUMI_CONFIG_TYPES = ("string", "integer", "boolean", "array")

# Fields of one entry of `tiers`, with their defaults (None: derived from other fields).
TIER_FIELDS: Mapping[str, Any] = {
    "name": None,
    "handler": None,
    "trigger": None,
    "access": None,
    "dbUser": None,
    "reservedConcurrency": 5,
    "provisionedConcurrency": 0,
    "memoryMb": 256,
    "timeoutSeconds": 15,
    "internetEgress": False,
    "batchSize": 10,
    "maxConcurrency": 2,
    "logLevel": "INFO",
}
_SQS_ONLY_FIELDS = ("batchSize", "maxConcurrency")

# Keys other parts of the program own; the unknown-key check leaves them alone.
OPTIONAL_SECTIONS: tuple[str, ...] = ()

# Fields of the `replica` section, with their defaults (None: required, or the primary's value).
REPLICA_FIELDS: Mapping[str, Any] = {
    "region": None,
    "availabilityZones": None,
    "vpcCidr": "10.30.0.0/16",
    "natStrategy": "single",
    "instanceClass": None,
    "multiAz": False,
    "deletionProtection": None,
    "finalSnapshot": None,
    "promoted": False,
    "tiers": [],
}
# Replica tiers are named <project>-<stack>-replica-<tier> in their region.
REPLICA_TIER_PREFIX = f"{REPLICA_COMPONENT_NAME}-"
_AWS_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")


class StackConfigError(pulumi.RunError):
    """The stack's config cannot build a working stack. One problem per line, each naming the
    key as written in Pulumi.<stack>.yaml, the rule, the value and the fix.

    A pulumi.RunError, so the Python language host prints the message alone, without a
    traceback."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class NetworkConfig:
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    az_count: int
    nat_strategy: str
    endpoint_services: tuple[str, ...]
    subnet_plan: SubnetPlan


@dataclass(frozen=True)
class DatabaseConfig:
    engine_version: str
    instance_class: str
    allocated_storage_gib: int
    max_allocated_storage_gib: int | None
    multi_az: bool
    backup_retention_days: int
    deletion_protection: bool
    final_snapshot: bool
    name: str
    port: int
    master_username: str
    statement_timeout_ms: int
    auth_mode: str
    performance_insights_retention_days: int


@dataclass(frozen=True)
class ProxyConfig:
    max_connections_percent: int
    max_idle_connections_percent: int
    connection_borrow_timeout_seconds: int
    idle_client_timeout_seconds: int
    connection_budget: int


@dataclass(frozen=True)
class TierConfig:
    """One Lambda tier; SQS fields (batch_size, max_concurrency) apply to trigger "sqs" only."""

    name: str
    handler: str
    trigger: str
    access: str
    db_user: str
    reserved_concurrency: int
    provisioned_concurrency: int
    memory_mb: int
    timeout_seconds: int
    internet_egress: bool
    batch_size: int
    max_concurrency: int
    log_level: str

    @property
    def handler_path(self) -> str:
        return HANDLERS[self.handler]


@dataclass(frozen=True)
class StackConfig:
    """Everything the program needs from config, typed and checked.

    `network.availability_zones` is empty when the zones are to be discovered; the program
    resolves them with the region's zone list before it builds the network.
    """

    project: str
    stack: str
    region: str
    network: NetworkConfig
    log_retention_days: int
    kms_deletion_window_days: int
    database: DatabaseConfig
    proxy: ProxyConfig
    tiers: tuple[TierConfig, ...]
    replica: ReplicaConfig | None = None


@dataclass(frozen=True)
class ReplicaConfig:
    """The cross-region read replica: its region and network, the instance, its read tiers.

    `promoted` is set once the replica was promoted to a standalone instance (see the README's
    disaster-recovery runbook); only then may its tiers write."""

    region: str
    network: NetworkConfig
    instance_class: str
    multi_az: bool
    deletion_protection: bool
    final_snapshot: bool
    promoted: bool
    tiers: tuple[TierConfig, ...]


def config_key(project: str, name: str) -> str:
    """A key or field as messages quote it: 'lambda-private-db:dbPort',
    'lambda-private-db:replica.natStrategy'."""
    return f"'{project}:{name}'"


def load_stack_config() -> StackConfig:
    """Read the running stack's config through pulumi.Config and check it.

    Raises StackConfigError, before any resource exists, with every problem found.
    """
    project = pulumi.get_project()
    config = _current_config(project)
    return parse_stack_config(config, project=project, stack=pulumi.get_stack())


def resolve_availability_zones(config: StackConfig) -> StackConfig:
    """The config with its zones filled in: the listed ones, or the region's first `azCount`
    standard zones (Local and Wavelength Zones need an opt-in and host no RDS Proxy).

    Discovery goes by name order. Names map to different physical zones in each account, and
    whether a zone offers the instance class is not checked; listing the zones is the way to
    choose them."""
    if config.network.availability_zones:
        return config
    wanted = config.network.az_count
    found = aws.get_availability_zones(
        state="available",
        filters=[
            aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])
        ],
    ).names
    zones = tuple(sorted(found))[:wanted]
    if len(zones) < wanted:
        raise StackConfigError(
            [
                f"'{config.project}:azCount' asks for {wanted} zones, but {config.region} offers "
                f"{len(zones)} ({', '.join(zones) or 'none'}); lower azCount or list the zones "
                "in availabilityZones."
            ]
        )
    return replace(config, network=replace(config.network, availability_zones=zones))


def parse_stack_config(config: Mapping[str, str], *, project: str, stack: str) -> StackConfig:
    """Check `config` (namespaced keys to the text values the CLI passes; objects and arrays as
    JSON) and build the StackConfig. Keys that are missing take Pulumi.yaml's defaults."""
    reader = _Reader(config, project, stack)
    reader.check_unknown_keys()
    reader.stack_names_fit = _check_stack_names(reader, has_replica=_has_replica(reader))

    region = config.get("aws:region", "")
    if not region:
        reader.problem(
            "'aws:region' is not set; the stack needs a region, e.g. "
            "`pulumi config set aws:region us-east-1`."
        )

    network_values = _read_network_values(reader, region)
    log_retention_days = reader.integer("logRetentionDays", choices=LOG_RETENTION_DAYS)
    kms_deletion_window_days = reader.integer("kmsDeletionWindowDays", low=7, high=30)
    database = _read_database(reader)
    proxy_values = _read_proxy_values(reader)
    tiers = _read_tiers(reader, network_values["nat_strategy"])
    replica = _read_replica(reader, region, network_values, database, proxy_values, tiers)

    connection_budget = _check_connection_budget(reader, database, proxy_values, tiers)
    _check_statement_timeout(reader, database, tiers)
    subnet_plan = _plan(reader, network_values, database, len(tiers))

    if reader.problems:
        raise StackConfigError(reader.problems)
    assert subnet_plan is not None  # every path that leaves it None records a problem

    return StackConfig(
        project=project,
        stack=stack,
        region=region,
        network=NetworkConfig(
            vpc_cidr=network_values["vpc_cidr"],
            availability_zones=network_values["availability_zones"],
            az_count=network_values["az_count"],
            nat_strategy=network_values["nat_strategy"],
            endpoint_services=network_values["endpoint_services"],
            subnet_plan=subnet_plan,
        ),
        log_retention_days=log_retention_days,
        kms_deletion_window_days=kms_deletion_window_days,
        database=database,
        proxy=ProxyConfig(**proxy_values, connection_budget=connection_budget),
        tiers=tiers,
        replica=replica,
    )


class _Reader:
    """Reads typed values out of the raw config, recording a problem instead of raising."""

    def __init__(self, config: Mapping[str, str], project: str, stack: str) -> None:
        self.config = config
        self.project = project
        self.stack = stack
        self.problems: list[str] = []
        # False once the stack name alone makes a derived name fail; tier names are then not
        # blamed for names the stack name already spoils.
        self.stack_names_fit = True

    def key(self, name: str) -> str:
        return config_key(self.project, name)

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def raw(self, name: str) -> str | None:
        return self.config.get(f"{self.project}:{name}")

    def check_unknown_keys(self) -> None:
        known = set(_KEYS_BY_NAME) | set(OPTIONAL_SECTIONS)
        prefix = f"{self.project}:"
        for full_key in sorted(self.config):
            if not full_key.startswith(prefix):
                continue
            name = full_key[len(prefix) :]
            if name in known:
                continue
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else "remove it"
            self.problem(
                f"'{full_key}' is not a key this program reads; {hint} "
                "(the keys are listed in Pulumi.yaml)."
            )

    def _value(self, name: str) -> tuple[Any, bool]:
        """The raw text, or the declared default; the flag says whether it is text."""
        text = self.raw(name)
        if text is None:
            return _KEYS_BY_NAME[name].default, False
        return text, True

    def string(self, name: str, *, choices: Sequence[str] = ()) -> str:
        value, _ = self._value(name)
        value = str(value)
        if choices and value not in choices:
            self.problem(
                f"{self.key(name)} must be one of {', '.join(choices)}, got {value!r}; "
                f"set it to one of those."
            )
        return value

    def integer(
        self,
        name: str,
        *,
        low: int | None = None,
        high: int | None = None,
        choices: Sequence[int] = (),
    ) -> int:
        value, is_text = self._value(name)
        default = _KEYS_BY_NAME[name].default
        if is_text:
            try:
                value = int(str(value).strip())
            except ValueError:
                self.problem(
                    f"{self.key(name)} must be a whole number, got {value!r}; "
                    f"write it like {default}."
                )
                return default
        return self.check_range(self.key(name), value, low=low, high=high, choices=choices)

    def check_range(
        self,
        label: str,
        value: int,
        *,
        low: int | None = None,
        high: int | None = None,
        choices: Sequence[int] = (),
    ) -> int:
        if choices and value not in choices:
            self.problem(
                f"{label} must be one of {', '.join(map(str, choices))}, got {value}; "
                "pick the nearest of those."
            )
        elif (low is not None and value < low) or (high is not None and value > high):
            bounds = (
                f"from {low} to {high}"
                if low is not None and high is not None
                else (f"at least {low}" if low is not None else f"at most {high}")
            )
            self.problem(f"{label} must be {bounds}, got {value}.")
        return value

    def boolean(self, name: str) -> bool:
        value, is_text = self._value(name)
        if not is_text:
            return bool(value)
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            self.problem(f"{self.key(name)} must be true or false, got {value!r}.")
            return bool(_KEYS_BY_NAME[name].default)
        return text == "true"

    def string_list(self, name: str) -> tuple[str, ...]:
        value, is_text = self._value(name)
        if is_text:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problem(
                f"{self.key(name)} must be a list of strings, got {self.raw(name)!r}; write it "
                "as a YAML list."
            )
            return tuple(_KEYS_BY_NAME[name].default)
        return tuple(value)

    def object_list(self, name: str) -> list[Any]:
        value, is_text = self._value(name)
        if is_text:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = None
        if not isinstance(value, list):
            self.problem(
                f"{self.key(name)} must be a list of objects, got {self.raw(name)!r}; write it "
                "as a YAML list of mappings."
            )
            return []
        return value


def _read_network_values(reader: _Reader, region: str) -> dict[str, Any]:
    zones = reader.string_list("availabilityZones")
    az_count = reader.integer("azCount")
    if zones:
        if len(zones) < MIN_AVAILABILITY_ZONES:
            reader.problem(
                f"{reader.key('availabilityZones')} needs at least {MIN_AVAILABILITY_ZONES} "
                f"zones for multi-AZ spread, got {len(zones)} ({', '.join(zones)}); add a zone."
            )
        duplicates = sorted({zone for zone in zones if zones.count(zone) > 1})
        if duplicates:
            reader.problem(
                f"{reader.key('availabilityZones')} lists {', '.join(duplicates)} more than "
                "once; list each zone once."
            )
        foreign = [zone for zone in zones if region and not _is_standard_zone(zone, region)]
        if foreign:
            reader.problem(
                f"{reader.key('availabilityZones')} has {', '.join(foreign)}, which "
                f"{'is' if len(foreign) == 1 else 'are'} not a standard zone of the stack's "
                f"region {region} (Local and Wavelength Zones host no RDS Proxy); use zones "
                f"such as {region}a."
            )
        az_count = len(zones)
    elif az_count < MIN_AVAILABILITY_ZONES:
        reader.problem(
            f"{reader.key('azCount')} must be at least {MIN_AVAILABILITY_ZONES} for multi-AZ "
            f"spread, got {az_count}; set it to {MIN_AVAILABILITY_ZONES} or more."
        )

    endpoint_services = reader.string_list("vpcEndpointServices")
    if "secretsmanager" not in endpoint_services:
        reader.problem(
            f"{reader.key('vpcEndpointServices')} must include secretsmanager (the bootstrap "
            f"reads the master secret through it), got {list(endpoint_services)}; add it."
        )
    repeated = sorted({s for s in endpoint_services if endpoint_services.count(s) > 1})
    if repeated:
        reader.problem(
            f"{reader.key('vpcEndpointServices')} lists {', '.join(repeated)} more than once; "
            "list each service once."
        )
    for service in endpoint_services:
        service_problem = endpoint_service_problem(service)
        if service_problem:
            reader.problem(f"{reader.key('vpcEndpointServices')} has {service_problem}")

    return {
        "vpc_cidr": reader.string("vpcCidr"),
        "availability_zones": zones,
        "az_count": az_count,
        "nat_strategy": reader.string("natStrategy", choices=NAT_STRATEGIES),
        "endpoint_services": endpoint_services,
        "app_prefix_length": reader.integer("appSubnetPrefixLength"),
        "data_prefix_length": reader.integer("dataSubnetPrefixLength"),
        "public_prefix_length": reader.integer("publicSubnetPrefixLength"),
        "app_cidrs": reader.string_list("appSubnetCidrs"),
        "data_cidrs": reader.string_list("dataSubnetCidrs"),
        "public_cidrs": reader.string_list("publicSubnetCidrs"),
    }


def _read_database(reader: _Reader) -> DatabaseConfig:
    engine_version = reader.string("dbEngineVersion")
    if not _ENGINE_VERSION.match(engine_version):
        reader.problem(
            f"{reader.key('dbEngineVersion')} must be a PostgreSQL version such as 16 or 16.4, "
            f"got {engine_version!r}."
        )
    elif int(engine_version.split(".")[0]) not in SUPPORTED_MAJOR_VERSIONS:
        reader.problem(
            f"{reader.key('dbEngineVersion')} {engine_version} is not a major version RDS Proxy "
            f"and RDS both offer ({SUPPORTED_MAJOR_VERSIONS.start}-"
            f"{SUPPORTED_MAJOR_VERSIONS.stop - 1}); pick one of those."
        )
    instance_class = reader.string("dbInstanceClass")
    if instance_class not in INSTANCE_CLASS_MEMORY_GIB:
        families = sorted({name.rsplit(".", 1)[0] for name in INSTANCE_CLASS_MEMORY_GIB})
        reader.problem(
            f"{reader.key('dbInstanceClass')} {instance_class!r} is not a class whose "
            f"connection limit this program knows; use a {', '.join(families)} class such as "
            "db.t4g.micro or db.r6g.large."
        )
    allocated = reader.integer("dbAllocatedStorageGib", low=20, high=65536)
    max_allocated = reader.integer("dbMaxAllocatedStorageGib", low=0, high=65536)
    # RDS wants the autoscaling ceiling at least 10% above the allocated storage. Integer
    # arithmetic, since 20 * 1.1 in floating point rounds up to 23.
    # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html
    lowest_ceiling = -(-allocated * 11 // 10)
    if 0 < max_allocated < lowest_ceiling:
        reader.problem(
            f"{reader.key('dbMaxAllocatedStorageGib')} must be at least 10% above "
            f"{reader.key('dbAllocatedStorageGib')} ({allocated}) for storage autoscaling, that "
            f"is {lowest_ceiling} or more, got {max_allocated}; raise it or set 0 to turn "
            "autoscaling off."
        )
    name = reader.string("dbName")
    master_username = reader.string("dbMasterUsername")
    for key_name, value in (("dbName", name), ("dbMasterUsername", master_username)):
        # RDS itself creates these two, and it wants a letter first.
        if not _is_own_role_name(value) or not value[:1].isalpha():
            reader.problem(
                f"{reader.key(key_name)} must be a lowercase PostgreSQL name (a letter, then "
                f"letters, digits, underscores; not starting with pg_ or rds, not "
                f"{', '.join(_RESERVED_DB_USERS)}), got {value!r}."
            )
    insights_days = reader.integer("dbPerformanceInsightsRetentionDays")
    if insights_days != 7 and not (insights_days % 31 == 0 and 31 <= insights_days <= 731):
        reader.problem(
            f"{reader.key('dbPerformanceInsightsRetentionDays')} must be 7 or a multiple of 31 "
            f"up to 731, got {insights_days}."
        )
    return DatabaseConfig(
        engine_version=engine_version,
        instance_class=instance_class,
        allocated_storage_gib=allocated,
        max_allocated_storage_gib=max_allocated or None,
        multi_az=reader.boolean("dbMultiAz"),
        backup_retention_days=reader.integer("dbBackupRetentionDays", low=1, high=35),
        deletion_protection=reader.boolean("dbDeletionProtection"),
        final_snapshot=reader.boolean("dbFinalSnapshot"),
        name=name,
        port=reader.integer("dbPort", low=1150, high=65535),
        master_username=master_username,
        statement_timeout_ms=reader.integer("dbStatementTimeoutMs", low=1000),
        auth_mode=reader.string("dbAuthMode", choices=AUTH_MODES),
        performance_insights_retention_days=insights_days,
    )


def _read_proxy_values(reader: _Reader) -> dict[str, int]:
    max_percent = reader.integer("proxyMaxConnectionsPercent", low=1, high=100)
    idle_percent = reader.integer("proxyMaxIdleConnectionsPercent", low=0, high=100)
    if idle_percent > max_percent:
        reader.problem(
            f"{reader.key('proxyMaxIdleConnectionsPercent')} ({idle_percent}) cannot exceed "
            f"{reader.key('proxyMaxConnectionsPercent')} ({max_percent}); lower it."
        )
    return {
        "max_connections_percent": max_percent,
        "max_idle_connections_percent": idle_percent,
        "connection_borrow_timeout_seconds": reader.integer(
            "proxyConnectionBorrowTimeoutSeconds", low=0, high=3600
        ),
        "idle_client_timeout_seconds": reader.integer(
            "proxyIdleClientTimeoutSeconds", low=1, high=28800
        ),
    }


def _read_tiers(reader: _Reader, nat_strategy: str) -> tuple[TierConfig, ...]:
    entries = reader.object_list("tiers")
    if reader.raw("tiers") is not None and entries == []:
        reader.problem(
            f"{reader.key('tiers')} is empty; list at least one tier, e.g. "
            "[{name: api, handler: reader}], or remove the key for the default ingest and api."
        )
    tiers: list[TierConfig] = []
    for index, entry in enumerate(entries):
        label = f"'{reader.project}:tiers[{index}]"
        if not isinstance(entry, dict):
            reader.problem(
                f"{label}' must be a mapping with at least name and handler, got {entry!r}."
            )
            continue
        tier = _read_tier(reader, label, entry, nat_strategy)
        if tier is not None:
            tiers.append(tier)

    for attribute, field_name in (("name", "name"), ("db_user", "dbUser")):
        values = [getattr(tier, attribute) for tier in tiers]
        for value in sorted({v for v in values if values.count(v) > 1}):
            reader.problem(
                f"{reader.key('tiers')} has two tiers with {field_name} {value!r}; each tier "
                f"needs its own {field_name}."
            )
    return tuple(tiers)


def _read_tier(
    reader: _Reader,
    label: str,
    entry: Mapping[str, Any],
    nat_strategy: str,
    *,
    replica: bool = False,
) -> TierConfig | None:
    def field_key(field_name: str) -> str:
        return f"{label}.{field_name}'"

    problems_before = len(reader.problems)
    for field_name in sorted(set(entry) - set(TIER_FIELDS)):
        close = difflib.get_close_matches(field_name, list(TIER_FIELDS), n=1)
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(TIER_FIELDS)}."
        reader.problem(f"{field_key(field_name)} is not a tier field; {hint}")

    def text(field_name: str, choices: Sequence[str] = ()) -> str | None:
        value = entry.get(field_name, TIER_FIELDS[field_name])
        if value is None:
            return None
        if not isinstance(value, str) or (choices and value not in choices):
            expected = f"one of {', '.join(choices)}" if choices else "a string"
            reader.problem(f"{field_key(field_name)} must be {expected}, got {value!r}.")
            return None
        return value

    def number(field_name: str, low: int | None = None, high: int | None = None) -> int:
        value = entry.get(field_name, TIER_FIELDS[field_name])
        if isinstance(value, bool) or not isinstance(value, int):
            reader.problem(
                f"{field_key(field_name)} must be a whole number, got {value!r}; write it like "
                f"{TIER_FIELDS[field_name]}."
            )
            return int(TIER_FIELDS[field_name])
        return reader.check_range(field_key(field_name), value, low=low, high=high)

    def flag(field_name: str) -> bool:
        value = entry.get(field_name, TIER_FIELDS[field_name])
        if not isinstance(value, bool):
            reader.problem(
                f"{field_key(field_name)} must be true or false, got {value!r}; write true or "
                "false, without quotes."
            )
            return bool(TIER_FIELDS[field_name])
        return value

    name = text("name")
    if name is None:
        if "name" not in entry:
            reader.problem(f"{field_key('name')} is missing; give the tier a name such as api.")
    elif not _TIER_NAME.match(name):
        reader.problem(
            f"{field_key('name')} must be 1-20 lowercase letters, digits and single hyphens, "
            f"starting with a letter, got {name!r}."
        )
        # Nothing is derived from a name already refused: a dbUser made from it would be
        # blamed for a field the user never wrote.
        name = None
    else:
        component = f"{REPLICA_TIER_PREFIX}{name}" if replica else name
        _check_tier_function_name(reader, field_key("name"), name, component, replica=replica)
    handler = text("handler", choices=tuple(HANDLERS))
    if handler is None and "handler" not in entry:
        reader.problem(
            f"{field_key('handler')} is missing; set it to one of {', '.join(HANDLERS)}."
        )

    trigger = text("trigger", choices=("sqs", "http", "none"))
    if trigger is None and "trigger" not in entry and handler:
        trigger = DEFAULT_TRIGGER[handler]
    trigger_fits = not (handler and trigger and trigger not in TRIGGERS_BY_HANDLER[handler])
    if not trigger_fits:
        reader.problem(
            f"{field_key('trigger')} is {trigger!r}, but the {handler} handler only takes "
            f"{' or '.join(TRIGGERS_BY_HANDLER[handler])} events; use "
            f"trigger {DEFAULT_TRIGGER[handler]} or handler "
            f"{'reader' if handler == 'writer' else 'writer'}."
        )

    access = text("access", choices=ACCESS_LEVELS)
    if access is None and "access" not in entry and handler:
        access = DEFAULT_ACCESS[handler]
    if handler == "writer" and access == "read-only":
        reader.problem(
            f"{field_key('access')} is read-only, but the writer handler inserts rows; "
            "use read-write."
        )

    db_user = text("dbUser")
    if db_user is None and "dbUser" not in entry and name and access:
        db_user = f"{name.replace('-', '_')}_{'writer' if access == 'read-write' else 'reader'}"
    if db_user is not None and not _is_own_role_name(db_user):
        reader.problem(
            f"{field_key('dbUser')} must be a lowercase PostgreSQL role name (letters, digits, "
            f"underscores; not starting with pg_ or rds, not {', '.join(_RESERVED_DB_USERS)}), "
            f"got {db_user!r}."
        )

    master_username = reader.string("dbMasterUsername")
    if db_user is not None and db_user == master_username:
        reader.problem(
            f"{field_key('dbUser')} is the master user {db_user!r}; a tier needs its own "
            "least-privilege role."
        )

    reserved = number("reservedConcurrency", low=1)
    provisioned = number("provisionedConcurrency", low=0)
    if provisioned > reserved:
        reader.problem(
            f"{field_key('provisionedConcurrency')} ({provisioned}) cannot exceed "
            f"{field_key('reservedConcurrency')} ({reserved}); lower it or raise the reserve."
        )
    memory_mb = number("memoryMb", low=MIN_MEMORY_MB, high=MAX_MEMORY_MB)
    timeout_seconds = number("timeoutSeconds", low=1, high=MAX_TIMEOUT_SECONDS)
    if trigger == "http" and timeout_seconds > MAX_HTTP_FUNCTION_TIMEOUT_SECONDS:
        # The limit LambdaTier enforces: API Gateway's 30 s less the second the integration
        # waits beyond the function.
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
        reader.problem(
            f"{field_key('timeoutSeconds')} is {timeout_seconds}, but an HTTP API gives up "
            f"after {MAX_HTTP_INTEGRATION_TIMEOUT_SECONDS} s and the function must end a second "
            f"before; use {MAX_HTTP_FUNCTION_TIMEOUT_SECONDS} or less."
        )

    internet_egress = flag("internetEgress")
    if internet_egress and nat_strategy == "none":
        reader.problem(
            f"{field_key('internetEgress')} is true, but "
            f"{reader.key('natStrategy')} is none, so there is no route out; set natStrategy "
            "to single or per-az, or turn internetEgress off."
        )

    batch_size = number("batchSize", low=1, high=MAX_SQS_BATCH_SIZE)
    max_concurrency = number(
        "maxConcurrency", low=MIN_SQS_MAX_CONCURRENCY, high=MAX_SQS_MAX_CONCURRENCY
    )
    if trigger != "sqs" and trigger_fits:
        # With a trigger that does not fit the handler, that mismatch is the one to report.
        for field_name in _SQS_ONLY_FIELDS:
            if field_name in entry:
                reader.problem(
                    f"{field_key(field_name)} applies to the sqs trigger only, and this tier's "
                    f"trigger is {trigger!r}; remove it."
                )
    elif trigger == "sqs" and max_concurrency > reserved:
        reader.problem(
            f"{field_key('maxConcurrency')} ({max_concurrency}) exceeds "
            f"{field_key('reservedConcurrency')} ({reserved}), so the queue would be throttled; "
            "lower it or raise the reserve."
        )
    log_level = text("logLevel", choices=LOG_LEVELS) or "INFO"

    if len(reader.problems) > problems_before:
        return None
    assert name and handler and trigger and access and db_user
    return TierConfig(
        name=name,
        handler=handler,
        trigger=trigger,
        access=access,
        db_user=db_user,
        reserved_concurrency=reserved,
        provisioned_concurrency=provisioned,
        memory_mb=memory_mb,
        timeout_seconds=timeout_seconds,
        internet_egress=internet_egress,
        batch_size=batch_size,
        max_concurrency=max_concurrency,
        log_level=log_level,
    )


def _read_replica(
    reader: _Reader,
    region: str,
    network_values: Mapping[str, Any],
    database: DatabaseConfig,
    proxy_values: Mapping[str, int],
    primary_tiers: Sequence[TierConfig],
) -> ReplicaConfig | None:
    """The `replica` section: a cross-region read replica with its network and tiers. An empty
    section (the default) means no replica. Problems name 'replica.<field>'."""
    raw = reader.raw("replica")
    if raw is None:
        return None
    try:
        section = json.loads(raw)
    except json.JSONDecodeError:
        section = None
    if not isinstance(section, dict):
        reader.problem(
            f"{reader.key('replica')} must be a mapping (region, availabilityZones, ...), got "
            f"{raw!r}; write it as a YAML mapping, or remove the key for a stack without replica."
        )
        return None
    if not section:
        return None
    problems_before = len(reader.problems)

    def key(field_name: str) -> str:
        return f"'{reader.project}:replica.{field_name}'"

    def value(field_name: str, default: Any = None) -> Any:
        fallback = REPLICA_FIELDS[field_name] if default is None else default
        return section.get(field_name, fallback)

    def flag(field_name: str, default: bool | None = None) -> bool:
        found = value(field_name, default)
        if not isinstance(found, bool):
            reader.problem(f"{key(field_name)} must be true or false, got {found!r}.")
            return False
        return found

    for field_name in sorted(set(section) - set(REPLICA_FIELDS)):
        close = difflib.get_close_matches(field_name, list(REPLICA_FIELDS), n=1)
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(REPLICA_FIELDS)}."
        reader.problem(f"{key(field_name)} is not a replica field; {hint}")

    replica_region = value("region")
    if not isinstance(replica_region, str) or not _AWS_REGION.match(replica_region):
        reader.problem(
            f"{key('region')} must be an AWS region such as us-west-2, got {replica_region!r}; "
            "set it, or remove the replica key for a stack without replica."
        )
        replica_region = ""
    elif replica_region == region:
        reader.problem(
            f"{key('region')} is {replica_region}, the stack's own region ('aws:region'); a "
            f"cross-region replica needs another region, e.g. {_other_region(region)} beside "
            f"{region}."
        )
        # The zones are then checked against no region: suggesting zones of the refused one
        # would point the wrong way.
        replica_region = ""

    # The replica's zones are listed, never discovered: a lookup would have to go through the
    # replica region's provider before the program has made it.
    zones = value("availabilityZones")
    example = replica_region or _other_region(region)
    if zones is None:
        reader.problem(
            f"{key('availabilityZones')} is missing; list at least {MIN_AVAILABILITY_ZONES} "
            f"zones of {example}, e.g. [{example}a, {example}b], or remove the replica key for a "
            "stack without replica."
        )
        zones = []
    elif not isinstance(zones, list) or not all(isinstance(zone, str) for zone in zones):
        reader.problem(f"{key('availabilityZones')} must be a list of zone names, got {zones!r}.")
        zones = []
    elif len(zones) < MIN_AVAILABILITY_ZONES or len(set(zones)) != len(zones):
        reader.problem(
            f"{key('availabilityZones')} needs at least {MIN_AVAILABILITY_ZONES} different "
            f"zones, got {zones}; list each zone once."
        )
    foreign = [
        zone for zone in zones if replica_region and not _is_standard_zone(zone, replica_region)
    ]
    if foreign:
        reader.problem(
            f"{key('availabilityZones')} has {', '.join(foreign)}, outside the replica region "
            f"{replica_region} or not one of its standard zones (a Local or Wavelength Zone); "
            f"use zones such as {replica_region}a."
        )

    vpc_cidr = value("vpcCidr")
    try:
        overlapping = ipaddress.ip_network(vpc_cidr).overlaps(
            ipaddress.ip_network(network_values["vpc_cidr"])
        )
    except (TypeError, ValueError):
        overlapping = False  # a malformed block is reported by the subnet plan below
    if overlapping:
        reader.problem(
            f"{key('vpcCidr')} {vpc_cidr} overlaps {reader.key('vpcCidr')} "
            f"{network_values['vpc_cidr']}; give the replica's VPC a block of its own, e.g. "
            "10.30.0.0/16, so the two VPCs can be connected later."
        )

    nat_strategy = value("natStrategy")
    if nat_strategy not in NAT_STRATEGIES:
        reader.problem(
            f"{key('natStrategy')} must be one of {', '.join(NAT_STRATEGIES)}, got "
            f"{nat_strategy!r}."
        )
    instance_class = value("instanceClass", database.instance_class)
    if instance_class not in INSTANCE_CLASS_MEMORY_GIB:
        reader.problem(
            f"{key('instanceClass')} {instance_class!r} is not a class whose connection limit "
            "this program knows; use one such as db.t4g.medium or db.r6g.large."
        )
    multi_az = flag("multiAz")
    deletion_protection = flag("deletionProtection", database.deletion_protection)
    final_snapshot = flag("finalSnapshot", database.final_snapshot)
    promoted = flag("promoted")

    if database.backup_retention_days < 1:
        reader.problem(
            f"{reader.key('dbBackupRetentionDays')} is {database.backup_retention_days}, but "
            f"{reader.key('replica')} needs automated backups on the primary (RDS makes read "
            "replicas only of an instance that keeps them); set it to 1 or more."
        )
    if database.auth_mode != "iam":
        reader.problem(
            f"{reader.key('dbAuthMode')} is {database.auth_mode!r}, but the replica's tiers log "
            f"in to it with IAM tokens and the per-tier secrets exist only in the primary's "
            f"region; set dbAuthMode to iam, or remove {reader.key('replica')}."
        )

    tiers = _read_replica_tiers(reader, value("tiers"), nat_strategy, promoted, primary_tiers)
    if (
        instance_class in INSTANCE_CLASS_MEMORY_GIB
        and 1 <= proxy_values["max_connections_percent"] <= 100
    ):
        # No proxy pools the replica's connections (RDS Proxy fronts only a writer), so each
        # running function holds one connection to the instance itself.
        budget = proxy_connection_budget(instance_class, proxy_values["max_connections_percent"])
        total = sum(tier.reserved_concurrency for tier in tiers)
        if total > budget:
            reader.problem(
                f"{key('tiers')} reserve {total} concurrent functions, but {instance_class} x "
                f"{proxy_values['max_connections_percent']}% from "
                f"{reader.key('proxyMaxConnectionsPercent')} allows {budget} connections; "
                "lower reservedConcurrency or use a larger replica.instanceClass."
            )

    subnet_plan = None
    if nat_strategy in NAT_STRATEGIES and instance_class in INSTANCE_CLASS_MEMORY_GIB and zones:
        try:
            subnet_plan = plan_subnets(
                str(vpc_cidr),
                len(zones),
                app_subnet_ip_need(
                    len(tiers),
                    instance_class=instance_class,
                    endpoint_service_count=len(network_values["endpoint_services"]),
                    extra_function_count=0,
                ),
                public_count=public_subnet_count(nat_strategy, len(zones)),
                app_prefix_length=network_values["app_prefix_length"],
                data_prefix_length=network_values["data_prefix_length"],
                public_prefix_length=network_values["public_prefix_length"],
                key_prefix=f"{reader.project}:replica.",
            )
        except NetworkPlanError as exc:
            for problem in exc.problems:
                reader.problem(problem)

    if len(reader.problems) > problems_before or subnet_plan is None:
        return None
    return ReplicaConfig(
        region=replica_region,
        network=NetworkConfig(
            vpc_cidr=str(vpc_cidr),
            availability_zones=tuple(zones),
            az_count=len(zones),
            nat_strategy=nat_strategy,
            endpoint_services=network_values["endpoint_services"],
            subnet_plan=subnet_plan,
        ),
        instance_class=instance_class,
        multi_az=multi_az,
        deletion_protection=deletion_protection,
        final_snapshot=final_snapshot,
        promoted=promoted,
        tiers=tiers,
    )


def _read_replica_tiers(
    reader: _Reader,
    entries: Any,
    nat_strategy: str,
    promoted: bool,
    primary_tiers: Sequence[TierConfig],
) -> tuple[TierConfig, ...]:
    """The replica region's tiers: the fields of `tiers`, read-only until the replica is
    promoted. Their database roles are created on the primary, which the replica copies."""
    if not isinstance(entries, list):
        reader.problem(
            f"'{reader.project}:replica.tiers' must be a list of tiers, got {entries!r}."
        )
        return ()
    primary_users = {tier.db_user: tier.access for tier in primary_tiers}
    tiers: list[TierConfig] = []
    for index, entry in enumerate(entries):
        label = f"'{reader.project}:replica.tiers[{index}]"
        if not isinstance(entry, dict):
            reader.problem(f"{label}' must be a mapping with at least name and handler.")
            continue
        tier = _read_tier(reader, label, entry, nat_strategy, replica=True)
        if tier is None:
            continue
        if tier.access == "read-write" and not promoted:
            reader.problem(
                f"{label}.access' is read-write, but a read replica refuses writes; use a "
                "reader tier, or add the writer after promoting the replica and setting "
                "replica.promoted to true (see Disaster recovery in the README)."
            )
        elif tier.access == "read-write" and primary_users.get(tier.db_user) != "read-write":
            reader.problem(
                f"{label}.dbUser' {tier.db_user!r} is not a read-write role of a primary tier, "
                "so the promoted copy has no such role; use one of "
                f"{sorted(u for u, a in primary_users.items() if a == 'read-write')}."
            )
        elif tier.db_user in primary_users and primary_users[tier.db_user] != tier.access:
            reader.problem(
                f"{label}.dbUser' {tier.db_user!r} is a {primary_users[tier.db_user]} role of a "
                f"primary tier, but this tier asks for {tier.access}; give it its own dbUser."
            )
        tiers.append(tier)
    for attribute, field_name in (("name", "name"), ("db_user", "dbUser")):
        values = [getattr(tier, attribute) for tier in tiers]
        for repeated in sorted({v for v in values if values.count(v) > 1}):
            reader.problem(
                f"'{reader.project}:replica.tiers' has two tiers with {field_name} "
                f"{repeated!r}; each tier needs its own {field_name}."
            )
    return tuple(tiers)


def _has_replica(reader: _Reader) -> bool:
    """Whether the stack asks for a replica (a malformed section is reported elsewhere)."""
    try:
        return bool(json.loads(reader.raw("replica") or "{}"))
    except json.JSONDecodeError:
        return False


def _check_stack_names(reader: _Reader, *, has_replica: bool) -> bool:
    """Check the names the program derives from the project and stack names alone; True when
    they all fit. One problem at most, naming the stack, since renaming it is the fix."""
    project, stack = reader.project, reader.stack
    prefix = f"{project}-{stack}"
    if not _NAME_PREFIX.match(prefix):
        suggestion = re.sub(r"[^A-Za-z0-9]+", "-", stack).strip("-") or "dev"
        reader.problem(
            f"The stack name {stack!r} becomes part of AWS names ({prefix}-<tier> functions, "
            f"KMS alias alias/{prefix}, RDS instance {prefix.lower()}-"
            f"{DATABASE_COMPONENT_NAME}), which take only letters, digits and single hyphens; "
            f"use a stack named like {suggestion!r} (`pulumi stack rename {suggestion}`)."
        )
        return False
    names = [
        ("bootstrap function", f"{prefix}-{BOOTSTRAP_FUNCTION_SUFFIX}", MAX_FUNCTION_NAME_LENGTH),
        (
            "RDS instance identifier",
            f"{prefix}-{DATABASE_COMPONENT_NAME}".lower(),
            MAX_INSTANCE_IDENTIFIER_LENGTH,
        ),
    ]
    if has_replica:
        names.append(
            (
                "replica's RDS instance identifier",
                f"{prefix}-{REPLICA_COMPONENT_NAME}".lower(),
                MAX_INSTANCE_IDENTIFIER_LENGTH,
            )
        )
    # The name with the least room left decides how long the stack name may be.
    what, name, limit = min(names, key=lambda item: item[2] - len(item[1]))
    if len(name) <= limit:
        return True
    longest_stack = len(stack) - (len(name) - limit)
    reader.problem(
        f"The stack name {stack!r} ({len(stack)} characters) makes the {what} {name!r} "
        f"{len(name)} characters long, over the {limit} AWS allows; use a stack name of at "
        f"most {longest_stack} characters (`pulumi stack rename`)."
    )
    return False


def _check_tier_function_name(
    reader: _Reader, key: str, tier_name: str, component: str, *, replica: bool = False
) -> None:
    """A tier's function and log group are named after it: they must fit Lambda's limit and
    differ from the functions the program makes itself in the same region."""
    if not reader.stack_names_fit:
        return
    prefix = f"{reader.project}-{reader.stack}-"
    function_name = f"{prefix}{component}"
    if len(function_name) > MAX_FUNCTION_NAME_LENGTH:
        longest = len(tier_name) - (len(function_name) - MAX_FUNCTION_NAME_LENGTH)
        reader.problem(
            f"{key} {tier_name!r} makes the function name {function_name!r} "
            f"{len(function_name)} characters long, over Lambda's {MAX_FUNCTION_NAME_LENGTH}; "
            f"use a tier name of at most {longest} characters, or a shorter stack name."
        )
    # The replica region holds only the replica's tiers; the bootstrap runs in the primary's.
    own_functions = () if replica else (f"{prefix}{BOOTSTRAP_FUNCTION_SUFFIX}",)
    if function_name in own_functions:
        reader.problem(
            f"{key} {tier_name!r} would name the tier's function {function_name!r} and its log "
            f"group /aws/lambda/{function_name}, which the program already creates for the "
            "database bootstrap; pick another tier name."
        )


def _check_connection_budget(
    reader: _Reader,
    database: DatabaseConfig,
    proxy_values: Mapping[str, int],
    tiers: Sequence[TierConfig],
) -> int:
    """Each running function holds one proxy connection, so reserved concurrency is the most
    connections a tier can ask for; together they must fit in the proxy's share."""
    percent = proxy_values["max_connections_percent"]
    if database.instance_class not in INSTANCE_CLASS_MEMORY_GIB or not 1 <= percent <= 100:
        return 0
    budget = proxy_connection_budget(database.instance_class, percent)
    total = sum(tier.reserved_concurrency for tier in tiers)
    if total > budget:
        shares = ", ".join(f"{tier.name} {tier.reserved_concurrency}" for tier in tiers)
        reader.problem(
            f"{reader.key('tiers')} reserve {total} concurrent functions ({shares}), but the "
            f"proxy may open only {budget} connections ({database.instance_class} x "
            f"{percent}% from {reader.key('proxyMaxConnectionsPercent')}); lower "
            "reservedConcurrency or use a larger dbInstanceClass."
        )
    return budget


def _check_statement_timeout(
    reader: _Reader, database: DatabaseConfig, tiers: Sequence[TierConfig]
) -> None:
    """RDS Proxy ignores a client's cancel request, so a statement whose function has timed
    out keeps running unless the server's statement_timeout stops it first."""
    for tier in tiers:
        if database.statement_timeout_ms >= tier.timeout_seconds * 1000:
            reader.problem(
                f"{reader.key('dbStatementTimeoutMs')} ({database.statement_timeout_ms} ms) "
                f"must be below tier {tier.name}'s timeoutSeconds ({tier.timeout_seconds} s), "
                "or its statements outlive the function; lower it or raise the timeout."
            )


def _plan(
    reader: _Reader, values: Mapping[str, Any], database: DatabaseConfig, tier_count: int
) -> SubnetPlan | None:
    if values["nat_strategy"] not in NAT_STRATEGIES or values["az_count"] < 1:
        return None
    try:
        ip_need = app_subnet_ip_need(
            tier_count,
            instance_class=database.instance_class,
            endpoint_service_count=len(values["endpoint_services"]),
            extra_function_count=BOOTSTRAP_FUNCTION_COUNT,
        )
    except ValueError:
        # The instance class is reported by _read_database already.
        return None
    try:
        return plan_subnets(
            values["vpc_cidr"],
            values["az_count"],
            ip_need,
            public_count=public_subnet_count(values["nat_strategy"], values["az_count"]),
            app_prefix_length=values["app_prefix_length"],
            data_prefix_length=values["data_prefix_length"],
            public_prefix_length=values["public_prefix_length"],
            app_cidrs=values["app_cidrs"],
            data_cidrs=values["data_cidrs"],
            public_cidrs=values["public_cidrs"],
            key_prefix=f"{reader.project}:",
        )
    except NetworkPlanError as exc:
        for problem in exc.problems:
            reader.problem(problem)
        return None


def _other_region(region: str) -> str:
    """A region to give as an example of one that is not `region`."""
    return "us-east-1" if region == "us-west-2" else "us-west-2"


def _is_standard_zone(zone: str, region: str) -> bool:
    """A standard availability zone of `region`: the region's name and one letter (us-east-1a),
    not a Local or Wavelength Zone (us-east-1-bos-1a)."""
    return re.fullmatch(rf"{re.escape(region)}[a-z]", zone) is not None


def _is_own_role_name(name: str) -> bool:
    """A name we may create: a plain lowercase identifier that PostgreSQL and RDS do not own."""
    return (
        bool(_DB_IDENTIFIER.match(name))
        and name not in _RESERVED_DB_USERS
        and not name.startswith(("pg_", "rds"))
    )


def _current_config(project: str) -> dict[str, str]:
    """All config the engine handed the program, as namespaced text values.

    The SDK offers no public way to list every key, and a typo'd key must not pass unnoticed,
    so this reads the runtime's config map; the declared keys are read through pulumi.Config
    as well, in case a future SDK keeps them elsewhere.
    """
    from pulumi.runtime import config as runtime_config

    values: dict[str, str] = {}
    values.update(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    project_config = pulumi.Config(project)
    for key in CONFIG_KEYS:
        text = project_config.get(key.name)
        if text is not None:
            values[f"{project}:{key.name}"] = text
    for section in OPTIONAL_SECTIONS:
        text = project_config.get(section)
        if text is not None:
            values[f"{project}:{section}"] = text
    region = pulumi.Config("aws").get("region")
    if region:
        values["aws:region"] = region
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()
    }
