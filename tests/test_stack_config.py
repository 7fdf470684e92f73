"""The stack config: parsing, defaults, Pulumi.yaml declarations, and invalid configs run
through the real program, each stopping it with one line that names the key."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest
import yaml

from stack_config import (
    CONFIG_KEYS,
    PULUMI_CONFIG_TYPES,
    TIER_FIELDS,
    StackConfigError,
    parse_stack_config,
)
from tests.support.pulumi_mocks import RecordingMocks, run_program, stack_config_values

PROJECT = "lambda-private-db"


def changed(config: dict[str, str], **changes: object) -> dict[str, str]:
    """A copy of `config` with project keys set (JSON for lists and dicts) or removed (None)."""
    result = dict(config)
    for key, value in changes.items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            result.pop(full_key, None)
        elif isinstance(value, bool):
            result[full_key] = "true" if value else "false"
        elif isinstance(value, (list, dict)):
            result[full_key] = json.dumps(value)
        else:
            result[full_key] = str(value)
    return result


def parse(config: dict[str, str]):
    return parse_stack_config(config, project=PROJECT, stack="dev")


def dev_tiers(config: dict[str, str]) -> list[dict]:
    return json.loads(config[f"{PROJECT}:tiers"])


# --- parsing -------------------------------------------------------------------------------


def test_stack_config_dev_stack_parses_into_typed_values(dev_config):
    config = parse(dev_config)

    assert config.region == "us-east-1"
    assert config.network.nat_strategy == "single"
    assert config.network.az_count == 2
    assert config.network.availability_zones == ()  # discovered by the program
    assert config.database.instance_class == "db.t4g.micro"
    assert config.database.multi_az is False
    assert config.database.deletion_protection is False
    assert config.database.final_snapshot is False
    assert [t.name for t in config.tiers] == ["ingest", "api"]
    ingest, api = config.tiers
    assert (ingest.handler, ingest.trigger, ingest.access) == ("writer", "sqs", "read-write")
    assert (api.handler, api.trigger, api.access) == ("reader", "http", "read-only")
    assert ingest.db_user == "ingest_writer" and api.db_user == "api_reader"
    assert ingest.handler_path == "lambda_src.handlers.writer.handler"
    # db.t4g.micro: 1 GiB / 9531392 bytes = 112 connections, 90 % of them for the proxy.
    assert config.proxy.connection_budget == 100
    assert config.network.subnet_plan.app == ("10.20.0.0/24", "10.20.1.0/24")
    assert config.network.subnet_plan.data == ("10.20.2.0/26", "10.20.2.64/26")
    assert config.network.subnet_plan.public == ("10.20.2.128/28",)


def test_stack_config_missing_keys_take_pulumi_yaml_defaults():
    config = parse({"aws:region": "eu-west-1"})

    assert config.network.vpc_cidr == "10.20.0.0/16"
    assert config.database.multi_az is True
    assert config.database.deletion_protection is True
    assert config.database.max_allocated_storage_gib == 100
    assert [(t.name, t.handler) for t in config.tiers] == [("ingest", "writer"), ("api", "reader")]


def test_stack_config_reports_every_problem_at_once(dev_config):
    bad = changed(dev_config, natStrategy="dual", dbPort=80, logRetentionDays=10)

    with pytest.raises(StackConfigError) as caught:
        parse(bad)

    problems = caught.value.problems
    assert len(problems) == 3
    assert any("'lambda-private-db:natStrategy'" in p and "'dual'" in p for p in problems)
    assert any("'lambda-private-db:dbPort'" in p and "80" in p for p in problems)
    assert any("'lambda-private-db:logRetentionDays'" in p and "10" in p for p in problems)
    assert str(caught.value).splitlines() == list(problems)


def test_stack_config_tier_defaults_follow_the_handler(dev_config):
    tiers = [{"name": "reports", "handler": "reader"}, {"name": "load", "handler": "writer"}]

    config = parse(changed(dev_config, tiers=tiers))

    reports, load = config.tiers
    assert (reports.trigger, reports.access, reports.db_user) == (
        "http",
        "read-only",
        "reports_reader",
    )
    assert (load.trigger, load.access, load.db_user) == ("sqs", "read-write", "load_writer")
    assert load.reserved_concurrency == TIER_FIELDS["reservedConcurrency"]


def test_stack_config_listed_zones_set_the_zone_count(dev_config):
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]

    config = parse(changed(dev_config, availabilityZones=zones, natStrategy="per-az"))

    assert config.network.availability_zones == tuple(zones)
    assert config.network.az_count == 3
    assert len(config.network.subnet_plan.public) == 3


def test_stack_config_storage_ceiling_exactly_ten_percent_above_passes(dev_config):
    # 20 GiB * 1.1 is 22.000000000000004 in floating point; the ceiling 22 must still pass.
    config = parse(changed(dev_config, dbAllocatedStorageGib=20, dbMaxAllocatedStorageGib=22))

    assert config.database.max_allocated_storage_gib == 22


def test_stack_config_statement_timeout_must_stay_below_each_function_timeout(dev_config):
    with pytest.raises(StackConfigError) as caught:
        parse(changed(dev_config, dbStatementTimeoutMs=20000))

    assert len(caught.value.problems) == 2  # both tiers time out after 15 s
    assert all("'lambda-private-db:dbStatementTimeoutMs'" in p for p in caught.value.problems)


def test_stack_config_bad_tier_name_is_its_tiers_only_problem(dev_config):
    # GIVEN a tier name with capitals and an underscore, and no dbUser of its own
    bad = changed(
        dev_config, tiers=[dev_tiers(dev_config)[0], {"name": "Api_1", "handler": "reader"}]
    )

    with pytest.raises(StackConfigError) as caught:
        parse(bad)

    # THEN the name is blamed, not the dbUser the program would have derived from it
    (problem,) = caught.value.problems
    assert problem.startswith(f"'{PROJECT}:tiers[1].name' must be 1-20 lowercase letters")
    assert "dbUser" not in problem


def _prod_with_replica(project_dir: Path, **replica_changes: object) -> dict[str, str]:
    prod_config = stack_config_values(project_dir, "prod")
    replica = json.loads(prod_config[f"{PROJECT}:replica"])
    replica.update(replica_changes)
    return changed(prod_config, replica={k: v for k, v in replica.items() if v is not None})


def test_stack_config_replica_in_the_stacks_own_region_blames_no_zone(project_dir):
    # GIVEN prod's replica, zones in us-west-2, moved by mistake into the stack's us-east-1
    config = _prod_with_replica(project_dir, region="us-east-1")

    with pytest.raises(StackConfigError) as caught:
        parse(config)

    # THEN the region is the one problem: its zones are not called outside us-east-1, and no
    # us-east-1 zone is offered in their place
    assert caught.value.problems == (
        f"'{PROJECT}:replica.region' is us-east-1, the stack's own region ('aws:region'); a "
        "cross-region replica needs another region, e.g. us-west-2 beside us-east-1.",
    )


def test_stack_config_replica_in_the_stacks_own_region_without_zones_suggests_another(
    project_dir,
):
    # GIVEN a stack in us-west-2 whose replica names us-west-2 too and lists no zones
    config = changed(
        _prod_with_replica(project_dir, region="us-west-2", availabilityZones=None),
        **{"aws:region": "us-west-2"},
        availabilityZones=["us-west-2a", "us-west-2b", "us-west-2c"],
    )

    with pytest.raises(StackConfigError) as caught:
        parse(config)

    region_problem, zones_problem = caught.value.problems
    assert "e.g. us-east-1 beside us-west-2" in region_problem
    assert zones_problem.startswith(f"'{PROJECT}:replica.availabilityZones' is missing")
    assert "e.g. [us-east-1a, us-east-1b]" in zones_problem


# --- Pulumi.yaml -----------------------------------------------------------------------------


def test_pulumi_yaml_declares_every_key_with_the_programs_type_and_default(project_dir: Path):
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    declared = project["config"]

    assert project["name"] == PROJECT
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }
    assert list(declared) == [key.name for key in CONFIG_KEYS]
    for key in CONFIG_KEYS:
        entry = declared[key.name]
        assert entry["default"] == key.default, key.name
        assert entry["description"] == key.description, key.name
        if key.type in PULUMI_CONFIG_TYPES:
            assert entry["type"] == key.type, key.name
        else:
            assert "type" not in entry, key.name  # no project-schema type fits it
        if key.items:
            assert entry["items"] == {"type": key.items}


def test_pulumi_yaml_declares_only_types_the_clis_project_schema_accepts(project_dir: Path):
    # The CLI validates Pulumi.yaml against its project schema before it runs anything; a
    # `type: object` there fails `pulumi up` with "could not validate Pulumi.yaml".
    declared = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["config"]

    types = {name: entry["type"] for name, entry in declared.items() if "type" in entry}

    assert set(types.values()) <= set(PULUMI_CONFIG_TYPES), types
    assert "tiers" not in types and "replica" not in types


def test_pulumi_yaml_defaults_pass_the_programs_own_checks(project_dir: Path):
    declared = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["config"]
    config = {
        f"{PROJECT}:{name}": json.dumps(entry["default"])
        if isinstance(entry["default"], (list, dict))
        else str(entry["default"]).lower()
        if isinstance(entry["default"], bool)
        else str(entry["default"])
        for name, entry in declared.items()
    }
    config["aws:region"] = "us-east-1"

    assert parse(config).network.vpc_cidr == "10.20.0.0/16"


def test_readme_documents_every_key_and_tier_field_with_its_default(project_dir: Path):
    readme = (project_dir / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in section.splitlines()
        if line.startswith("| `")
    }

    for key in CONFIG_KEYS:
        assert key.name in rows, key.name
        if key.type in ("string", "integer"):
            assert f"`{key.default}`" in rows[key.name], key.name
        elif key.type == "boolean":
            assert f"`{str(key.default).lower()}`" in rows[key.name], key.name
    for field_name in TIER_FIELDS:
        assert field_name in rows, field_name


# --- invalid configs through the real program ------------------------------------------------


def _tiers_with(config: dict[str, str], index: int, **fields: object) -> list[dict]:
    tiers = dev_tiers(config)
    tiers[index].update(fields)
    return tiers


INVALID_CONFIGS = {
    "nat-strategy": (lambda c: changed(c, natStrategy="dual"), "natStrategy", "'dual'"),
    "az-count": (lambda c: changed(c, azCount=1), "azCount", "got 1"),
    "one-listed-zone": (
        lambda c: changed(c, availabilityZones=["us-east-1a"]),
        "availabilityZones",
        "us-east-1a",
    ),
    "zone-outside-region": (
        lambda c: changed(c, availabilityZones=["us-east-1a", "us-west-2b"]),
        "availabilityZones",
        "us-west-2b",
    ),
    "vpc-cidr-host-bits": (
        lambda c: changed(c, vpcCidr="10.20.0.1/16"),
        "vpcCidr",
        "did you mean 10.20.0.0/16",
    ),
    "vpc-cidr-does-not-fit": (
        lambda c: changed(c, vpcCidr="10.20.0.0/24"),
        "vpcCidr",
        "10.20.0.0/24",
    ),
    # Python's is_private holds for link-local space too, which cannot be a VPC.
    "vpc-cidr-link-local": (
        lambda c: changed(c, vpcCidr="169.254.0.0/16"),
        "vpcCidr",
        "outside the private ranges",
    ),
    "vpc-cidr-smaller-than-any-legal-plan": (
        lambda c: changed(c, vpcCidr="10.20.0.0/28"),
        "vpcCidr",
        "use a /25 or larger VPC block",
    ),
    "app-subnets-beyond-the-largest-vpc": (
        lambda c: changed(c, appSubnetPrefixLength=16),
        "vpcCidr",
        "use smaller subnets",
    ),
    "app-subnet-too-small": (
        lambda c: changed(c, appSubnetPrefixLength=28),
        "appSubnetPrefixLength",
        "/28",
    ),
    "listed-subnets-overlap": (
        lambda c: changed(
            c,
            appSubnetCidrs=["10.20.0.0/24", "10.20.1.0/24"],
            dataSubnetCidrs=["10.20.1.0/26", "10.20.2.0/26"],
        ),
        "appSubnetCidrs",
        "overlaps",
    ),
    "endpoints-without-secretsmanager": (
        lambda c: changed(c, vpcEndpointServices=["ssm"]),
        "vpcEndpointServices",
        "secretsmanager",
    ),
    # The network prefixes com.amazonaws.<region>. itself; a full name would be doubled.
    "endpoint-full-service-name": (
        lambda c: changed(c, vpcEndpointServices=["secretsmanager", "com.amazonaws.us-east-1.kms"]),
        "vpcEndpointServices",
        "write only 'kms'",
    ),
    "endpoint-gateway-service": (
        lambda c: changed(c, vpcEndpointServices=["secretsmanager", "s3"]),
        "vpcEndpointServices",
        "gateway endpoints",
    ),
    # RDS wants the autoscaling ceiling 10% above the allocated storage: 22 for 20 GiB.
    "max-storage-under-ten-percent-headroom": (
        lambda c: changed(c, dbAllocatedStorageGib=20, dbMaxAllocatedStorageGib=21),
        "dbMaxAllocatedStorageGib",
        "22 or more",
    ),
    "db-name-starting-with-underscore": (lambda c: changed(c, dbName="_app"), "dbName", "'_app'"),
    "master-username-starting-with-underscore": (
        lambda c: changed(c, dbMasterUsername="_admin"),
        "dbMasterUsername",
        "'_admin'",
    ),
    "local-zone": (
        lambda c: changed(c, availabilityZones=["us-east-1a", "us-east-1-bos-1a"]),
        "availabilityZones",
        "us-east-1-bos-1a",
    ),
    "log-retention": (lambda c: changed(c, logRetentionDays=10), "logRetentionDays", "got 10"),
    "kms-deletion-window": (
        lambda c: changed(c, kmsDeletionWindowDays=3),
        "kmsDeletionWindowDays",
        "got 3",
    ),
    "engine-version": (
        lambda c: changed(c, dbEngineVersion="12.7"),
        "dbEngineVersion",
        "12.7",
    ),
    "instance-class": (
        lambda c: changed(c, dbInstanceClass="db.x9.huge"),
        "dbInstanceClass",
        "db.x9.huge",
    ),
    "auth-mode": (lambda c: changed(c, dbAuthMode="password"), "dbAuthMode", "'password'"),
    "multi-az-not-boolean": (lambda c: changed(c, dbMultiAz="yes"), "dbMultiAz", "'yes'"),
    "db-port": (lambda c: changed(c, dbPort=80), "dbPort", "got 80"),
    "idle-above-max-connections": (
        lambda c: changed(c, proxyMaxIdleConnectionsPercent=95),
        "proxyMaxIdleConnectionsPercent",
        "95",
    ),
    "connection-budget": (
        lambda c: changed(c, tiers=[{**t, "reservedConcurrency": 60} for t in dev_tiers(c)]),
        "tiers",
        "reserve 120",
    ),
    "handler-trigger": (
        lambda c: changed(c, tiers=_tiers_with(c, 0, trigger="http")),
        "tiers[0].trigger",
        "'http'",
    ),
    "writer-read-only": (
        lambda c: changed(c, tiers=_tiers_with(c, 0, access="read-only")),
        "tiers[0].access",
        "read-write",
    ),
    "duplicate-tier-names": (
        lambda c: changed(c, tiers=_tiers_with(c, 1, name="ingest")),
        "tiers",
        "'ingest'",
    ),
    "egress-without-nat": (
        lambda c: changed(c, natStrategy="none", tiers=_tiers_with(c, 1, internetEgress=True)),
        "tiers[1].internetEgress",
        "natStrategy",
    ),
    "tier-field-typo": (
        lambda c: changed(c, tiers=_tiers_with(c, 1, reservedConcurency=3)),
        "tiers[1].reservedConcurency",
        "did you mean reservedConcurrency",
    ),
    "provisioned-above-reserved": (
        lambda c: changed(c, tiers=_tiers_with(c, 1, provisionedConcurrency=20)),
        "tiers[1].provisionedConcurrency",
        "20",
    ),
    "sqs-concurrency-above-reserved": (
        lambda c: changed(c, tiers=_tiers_with(c, 0, maxConcurrency=10)),
        "tiers[0].maxConcurrency",
        "10",
    ),
    "http-timeout": (
        lambda c: changed(c, tiers=_tiers_with(c, 1, timeoutSeconds=60)),
        "tiers[1].timeoutSeconds",
        "60",
    ),
    # 30 s is API Gateway's own limit; LambdaTier allows 29, and so must the config.
    "http-timeout-at-the-api-limit": (
        lambda c: changed(c, tiers=_tiers_with(c, 1, timeoutSeconds=30)),
        "tiers[1].timeoutSeconds",
        "use 29 or less",
    ),
    "key-typo": (
        lambda c: changed(c, natStratgy="none"),
        "natStratgy",
        "did you mean 'lambda-private-db:natStrategy'",
    ),
    "replica-without-zones": (
        lambda c: changed(c, replica={"region": "us-west-2"}),
        "replica.availabilityZones",
        "us-west-2a",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_CONFIGS))
def test_program_invalid_config_stops_with_one_line_naming_the_key(case, dev_config, project_dir):
    make_config, key, detail = INVALID_CONFIGS[case]
    bad_config = make_config(dev_config)

    run = run_program(project_dir / "__main__.py", config=bad_config)

    assert isinstance(run.error, StackConfigError), run.user_message
    assert isinstance(run.error, pulumi.RunError)  # printed by the language host, no traceback
    assert "Traceback" not in run.user_message
    assert len(run.user_message.splitlines()) == 1, run.user_message
    assert f"'{PROJECT}:{key}" in run.user_message
    assert detail in run.user_message
    assert run.resources == []  # nothing is created before the config is known to be good


def test_program_missing_region_stops_naming_aws_region(dev_config, project_dir):
    run = run_program(
        project_dir / "__main__.py", config=changed(dev_config, **{"aws:region": None})
    )

    assert isinstance(run.error, StackConfigError)
    assert run.user_message.splitlines() == [run.user_message]
    assert run.user_message.startswith("'aws:region' is not set")
    assert run.resources == []


def test_program_more_zones_than_the_region_offers_stops_naming_az_count(dev_config, project_dir):
    mocks = RecordingMocks(zone_count=2)

    run = run_program(
        project_dir / "__main__.py", config=changed(dev_config, azCount=3), mocks=mocks
    )

    assert isinstance(run.error, StackConfigError)
    assert run.user_message == (
        "'lambda-private-db:azCount' asks for 3 zones, but us-east-1 offers 2 (us-east-1a, "
        "us-east-1b); lower azCount or list the zones in availabilityZones."
    )
    assert run.resources == []
    assert [token for token, _ in run.invokes] == [
        "aws:index/getAvailabilityZones:getAvailabilityZones"
    ]


# --- names derived from the project and stack -----------------------------------------------

FUNCTION = "aws:lambda/function:Function"
# 64 (Lambda's limit) less "lambda-private-db-" and "-database-bootstrap".
LONGEST_STACK_NAME = 27


def _stopped_by_config(run) -> None:
    assert isinstance(run.error, StackConfigError), run.user_message
    assert "Traceback" not in run.user_message
    assert len(run.user_message.splitlines()) == 1, run.user_message
    assert run.resources == []


def test_program_long_stack_name_stops_naming_the_stack_before_any_resource(
    dev_config, project_dir
):
    # GIVEN the dev config under a stack name whose bootstrap function name would be 68 long
    stack = "production-eu-west-1-blue-green"

    run = run_program(project_dir / "__main__.py", config=dev_config, stack=stack)

    # THEN the config check stops it, not a component after the key and network exist
    _stopped_by_config(run)
    assert run.user_message.startswith(f"The stack name '{stack}' (31 characters)")
    assert f"'lambda-private-db-{stack}-database-bootstrap'" in run.user_message
    assert f"at most {LONGEST_STACK_NAME} characters" in run.user_message


@pytest.mark.parametrize(("stack", "suggestion"), [("dev.eu", "dev-eu"), ("dev_eu", "dev-eu")])
def test_program_stack_name_outside_aws_name_characters_stops_naming_the_stack(
    stack, suggestion, dev_config, project_dir
):
    run = run_program(project_dir / "__main__.py", config=dev_config, stack=stack)

    _stopped_by_config(run)
    assert run.user_message.startswith(f"The stack name '{stack}' becomes part of AWS names")
    assert "letters, digits and single hyphens" in run.user_message
    assert f"pulumi stack rename {suggestion}" in run.user_message


def test_program_longest_stack_name_the_config_allows_builds_every_component(
    dev_config, project_dir
):
    # The boundary the config check draws must be the one the components draw: a stack name
    # at the limit passes both, and the bootstrap has the name the check derives.
    stack = "s" * LONGEST_STACK_NAME

    run = run_program(project_dir / "__main__.py", config=dev_config, stack=stack)

    assert run.error is None, run.user_message
    function_names = {r.inputs.get("name") for r in run.resources if r.type == FUNCTION}
    assert f"lambda-private-db-{stack}-database-bootstrap" in function_names
    assert len(max(function_names, key=len)) == 64


def test_program_stack_name_one_past_the_limit_stops_at_the_config(dev_config, project_dir):
    stack = "s" * (LONGEST_STACK_NAME + 1)

    run = run_program(project_dir / "__main__.py", config=dev_config, stack=stack)

    _stopped_by_config(run)
    assert run.user_message.startswith(f"The stack name '{stack}'")


def test_program_tier_named_like_the_bootstrap_stops_naming_the_tier(dev_config, project_dir):
    # A tier "database-bootstrap" would get the bootstrap's function and log group names.
    config = changed(dev_config, tiers=_tiers_with(dev_config, 1, name="database-bootstrap"))

    run = run_program(project_dir / "__main__.py", config=config)

    _stopped_by_config(run)
    assert run.user_message.startswith(f"'{PROJECT}:tiers[1].name' 'database-bootstrap'")
    assert "/aws/lambda/lambda-private-db-dev-database-bootstrap" in run.user_message
    assert "pick another tier name" in run.user_message


def test_program_tier_name_too_long_for_the_stack_stops_naming_the_tier(dev_config, project_dir):
    stack = "s" * LONGEST_STACK_NAME
    config = changed(dev_config, tiers=_tiers_with(dev_config, 1, name="a" * 20))

    run = run_program(project_dir / "__main__.py", config=config, stack=stack)

    _stopped_by_config(run)
    assert run.user_message.startswith(f"'{PROJECT}:tiers[1].name' '{'a' * 20}'")
    assert "use a tier name of at most 18 characters" in run.user_message


def test_program_replica_tier_name_too_long_for_the_stack_stops_naming_it(project_dir):
    prod_config = stack_config_values(project_dir, "prod")
    replica = json.loads(prod_config[f"{PROJECT}:replica"])
    replica["tiers"][0]["name"] = "a" * 14  # lambda-private-db-<27>-replica-<14>: 68 characters
    config = changed(prod_config, replica=replica)

    run = run_program(project_dir / "__main__.py", config=config, stack="s" * LONGEST_STACK_NAME)

    _stopped_by_config(run)
    assert run.user_message.startswith(f"'{PROJECT}:replica.tiers[0].name' '{'a' * 14}'")
    assert "at most 10 characters" in run.user_message


def test_program_replica_local_zone_stops_naming_the_replica_zones(project_dir):
    prod_config = stack_config_values(project_dir, "prod")
    replica = json.loads(prod_config[f"{PROJECT}:replica"])
    replica["availabilityZones"] = ["us-west-2a", "us-west-2-lax-1a"]

    run = run_program(project_dir / "__main__.py", config=changed(prod_config, replica=replica))

    _stopped_by_config(run)
    assert run.user_message.startswith(
        f"'{PROJECT}:replica.availabilityZones' has us-west-2-lax-1a"
    )
