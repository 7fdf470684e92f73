"""Realistic, deterministic values for the outputs a provider computes (ids, ARNs, endpoints)."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# The account every ARN names; AWS documents this one as its example account.
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# Pulumi's wire sentinel for a value not known until the resource exists.
UNKNOWN_WIRE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

# The property that carries a resource's physical name, where it is not `name`. Pulumi fills it
# with "<logical name>-<7 hex>" when the program leaves it unset (auto-naming).
AUTONAME_PROPERTY: dict[str, str] = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "aws:rds/instance:Instance": "identifier",
    "aws:rds/cluster:Cluster": "clusterIdentifier",
    "aws:rds/clusterInstance:ClusterInstance": "identifier",
    "aws:lambda/permission:Permission": "statementId",
}

# Resource types whose `name` the provider does not generate; leaving it out is a program error
# the SDK reports, or the service names the resource itself.
NO_AUTONAME = {
    "aws:apigatewayv2/stage:Stage",
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup",
}

# Id prefixes EC2 uses; the rest of such an id is 17 hex digits.
EC2_ID_PREFIX: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/defaultVpc:DefaultVpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "sgrule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/defaultRouteTable:DefaultRouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/networkAcl:NetworkAcl": "acl",
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": "acl",
    "aws:ec2/networkInterface:NetworkInterface": "eni",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/instance:Instance": "i",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "pcx",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway": "eigw",
    "aws:ec2/managedPrefixList:ManagedPrefixList": "pl",
}

# EC2 ARN resource kinds, by id prefix.
_EC2_ARN_KIND = {
    "vpc": "vpc",
    "subnet": "subnet",
    "sg": "security-group",
    "sgr": "security-group-rule",
    "nat": "natgateway",
    "igw": "internet-gateway",
    "eipalloc": "elastic-ip",
    "rtb": "route-table",
    "vpce": "vpc-endpoint",
    "acl": "network-acl",
    "eni": "network-interface",
    "fl": "vpc-flow-log",
    "lt": "launch-template",
    "i": "instance",
    "pcx": "vpc-peering-connection",
    "eigw": "egress-only-internet-gateway",
    "pl": "prefix-list",
}

# Region name words and the letters AWS zone ids abbreviate them to.
_DIRECTION_WORDS = re.compile(r"north|south|east|west|central|[a-z]+")
_DIRECTION_LETTERS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c"}

_ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ALNUM_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
_ALNUM_MIXED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

_DEFAULT_PORTS = {
    "postgres": 5432,
    "aurora-postgresql": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "aurora-mysql": 3306,
}


@dataclass(frozen=True)
class ResourceFacts:
    """What one registration tells about a resource: its identity and its inputs (wire form)."""

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    region: str = DEFAULT_REGION
    account: str = ACCOUNT_ID

    def text(self, salt: str, length: int, alphabet: str = "0123456789abcdef") -> str:
        """A string of `length` characters from alphabet, fixed by the URN and salt."""
        digest = hashlib.sha256(f"{self.urn}\0{salt}".encode()).digest()
        number = int.from_bytes(digest, "big")
        chars = []
        for _ in range(length):
            number, index = divmod(number, len(alphabet))
            chars.append(alphabet[index])
        return "".join(chars)

    def uuid(self, salt: str) -> str:
        digest = hashlib.sha256(f"{self.urn}\0{salt}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def get(self, key: str, default: Any = None) -> Any:
        """An input's plain value (secret unwrapped), or default when unset or unknown."""
        value = unwrap_secret(self.inputs.get(key))
        return default if value is None or value == UNKNOWN_WIRE else value

    @property
    def service(self) -> str:
        """The AWS service of the type: "aws:sqs/queue:Queue" -> "sqs"."""
        return self.type.split(":")[1].split("/")[0].lower()


def unwrap_secret(value: Any) -> Any:
    if isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG:
        return value.get("value")
    return value


def autoname_property(type_: str, declared_inputs: set[str]) -> str | None:
    """The input that gets an auto-generated physical name when unset, if the type has one."""
    if type_ in AUTONAME_PROPERTY:
        return AUTONAME_PROPERTY[type_]
    if type_ not in NO_AUTONAME and "name" in declared_inputs:
        return "name"
    return None


def plan_time_values(
    facts: ResourceFacts, declared_inputs: set[str], declared_outputs: set[str]
) -> dict[str, Any]:
    """Inputs the provider fills in while planning, so they are known even in a first preview.

    These are the auto-generated name and the region (pulumi-aws 7 resolves a resource's
    region from its provider when planning).
    """
    values: dict[str, Any] = {}
    prop = autoname_property(facts.type, declared_inputs)
    if prop is not None and prop not in facts.inputs:
        prefix_key = f"{prop}Prefix"
        prefix = facts.inputs.get(prefix_key)
        if prefix == UNKNOWN_WIRE:
            values[prop] = UNKNOWN_WIRE
        elif prefix is not None:
            # A prefix gets a 26-digit suffix, as the AWS provider's prefixed unique ids do.
            values[prop] = f"{unwrap_secret(prefix)}{facts.text('prefix', 26, '0123456789')}"
        else:
            values[prop] = auto_name(facts)
        if facts.type == "aws:sqs/queue:Queue" and facts.get("fifoQueue") is True:
            values[prop] += ".fifo"
    if (
        "region" in declared_inputs
        and "region" in declared_outputs
        and "region" not in facts.inputs
    ):
        values["region"] = facts.region
    return values


def auto_name(facts: ResourceFacts) -> str:
    """Pulumi's auto-name: the logical name, a dash and 7 hex digits (S3 wants lower case)."""
    return f"{facts.name}-{facts.text('autoname', 7)}".lower()


def computed_values(
    facts: ResourceFacts, declared_outputs: Mapping[str, Any], input_names: set[str]
) -> tuple[str, dict[str, Any]]:
    """The id and the computed outputs of an existing resource.

    facts.inputs already hold the plan-time values. declared_outputs maps each output the
    resource class declares to its Python type, input_names are the properties the program may
    set. The per-type table fills any output the program left unset; an output-only property
    the table does not cover gets a generic value of its type. Outputs of a nested object type
    that no table covers are left out, so the program reads them as unknown, and so are
    optional inputs the program left unset: the Python SDK reads a null output as unknown
    during any preview.
    """
    specific = _TYPE_VALUES.get(facts.type)
    values: dict[str, Any] = specific(facts) if specific else {}
    resource_id = values.pop("id", None) or _default_id(facts)
    values = {k: v for k, v in values.items() if k in declared_outputs and k not in facts.inputs}

    if "tagsAll" in declared_outputs and "tagsAll" not in values:
        values["tagsAll"] = dict(facts.get("tags", {}))
    for prop, prop_type in declared_outputs.items():
        if prop in values or prop in facts.inputs or prop in input_names:
            continue
        generic = generic_value(facts, prop, prop_type, resource_id)
        if generic is not None:
            values[prop] = generic
    return resource_id, values


def generic_value(facts: ResourceFacts, prop: str, prop_type: Any, resource_id: str) -> Any:
    """A plausible value for an output no table describes, from its name and Python type."""
    if prop_type is bool:
        return False
    if prop_type is int:
        return 1
    if prop_type is float:
        return 1.0
    origin = getattr(prop_type, "__origin__", None)
    if origin is not None:
        origin_name = getattr(origin, "__name__", "")
        if origin_name in ("Sequence", "list"):
            return []
        if origin_name in ("Mapping", "dict"):
            return {}
        return None
    if prop_type is not str:
        return None

    lowered = prop.lower()
    physical = physical_name(facts) or facts.name
    if prop == "arn":
        return generic_arn(facts, resource_id)
    if lowered.endswith("arn"):
        kind = _kebab(prop[:-3]) or "resource"
        return f"arn:aws:{facts.service}:{facts.region}:{facts.account}:{kind}/{physical}"
    if lowered in ("ownerid", "accountid"):
        return facts.account
    if lowered.endswith("id"):
        return f"{_kebab(prop[:-2]) or 'id'}-{facts.text(prop, 17)}"
    if lowered.endswith(("endpoint", "address", "dnsname", "domainname", "domain")):
        return f"{physical}-{facts.text(prop, 8)}.{facts.service}.{facts.region}.amazonaws.com"
    if lowered.endswith("url"):
        return (
            f"https://{physical}-{facts.text(prop, 8)}.{facts.service}.{facts.region}.amazonaws.com"
        )
    if lowered == "region":
        return facts.region
    if lowered.endswith(("date", "time", "modified")):
        return "2024-01-01T00:00:00Z"
    return f"{physical}-{_kebab(prop)}-{facts.text(prop, 6)}"


def generic_arn(facts: ResourceFacts, resource_id: str) -> str:
    prefix = EC2_ID_PREFIX.get(facts.type)
    if prefix is not None:
        return f"arn:aws:ec2:{facts.region}:{facts.account}:{_EC2_ARN_KIND[prefix]}/{resource_id}"
    kind = _kebab(facts.type.rsplit(":", 1)[-1])
    name = physical_name(facts) or resource_id
    return f"arn:aws:{facts.service}:{facts.region}:{facts.account}:{kind}/{name}"


def physical_name(facts: ResourceFacts) -> str | None:
    prop = AUTONAME_PROPERTY.get(facts.type, "name")
    value = facts.get(prop)
    return value if isinstance(value, str) else None


def _default_id(facts: ResourceFacts) -> str:
    prefix = EC2_ID_PREFIX.get(facts.type)
    if prefix is not None:
        return f"{prefix}-{facts.text('id', 17)}"
    return physical_name(facts) or f"{facts.name}-{facts.text('id', 7)}"


def _kebab(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", camel).lower()


def _arn(facts: ResourceFacts, service: str, resource: str, region: str | None = None) -> str:
    region = facts.region if region is None else region
    return f"arn:aws:{service}:{region}:{facts.account}:{resource}"


# The per-type table. Each entry returns the outputs that have a known format, plus "id".


def _s3_bucket(f: ResourceFacts) -> dict[str, Any]:
    bucket = f.get("bucket")
    return {
        "id": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{f.region}.amazonaws.com",
        "bucketRegion": f.region,
        # The hosted zone S3 website endpoints use in us-east-1.
        "hostedZoneId": "Z3AQBSTGFYJSTF",
    }


def _iam_role(f: ResourceFacts) -> dict[str, Any]:
    name = f.get("name")
    path = f.get("path", "/")
    return {
        "id": name,
        "arn": f"arn:aws:iam::{f.account}:role{path}{name}",
        "uniqueId": "AROA" + f.text("unique", 17, _ALNUM_UPPER),
        "createDate": "2024-01-01T00:00:00Z",
    }


def _iam_policy(f: ResourceFacts) -> dict[str, Any]:
    arn = f"arn:aws:iam::{f.account}:policy{f.get('path', '/')}{f.get('name')}"
    return {
        "id": arn,
        "arn": arn,
        "policyId": "ANPA" + f.text("policy", 17, _ALNUM_UPPER),
        "attachmentCount": 0,
    }


def _iam_role_policy(f: ResourceFacts) -> dict[str, Any]:
    return {"id": f"{f.get('role')}:{f.get('name')}"}


def _iam_role_policy_attachment(f: ResourceFacts) -> dict[str, Any]:
    return {"id": f"{f.get('role')}-{f.text('id', 26, '0123456789')}"}


def _kms_key(f: ResourceFacts) -> dict[str, Any]:
    key_id = f.uuid("key")
    return {"id": key_id, "keyId": key_id, "arn": _arn(f, "kms", f"key/{key_id}")}


def _kms_alias(f: ResourceFacts) -> dict[str, Any]:
    name = f.get("name")
    target = f.get("targetKeyId", "")
    target_arn = target if target.startswith("arn:") else _arn(f, "kms", f"key/{target}")
    return {"id": name, "arn": _arn(f, "kms", name), "targetKeyArn": target_arn}


def _rds_instance(f: ResourceFacts) -> dict[str, Any]:
    identifier = f.get("identifier")
    engine = f.get("engine", "postgres")
    port = f.get("port", _DEFAULT_PORTS.get(engine, 5432))
    address = f"{identifier}.c{f.text('cluster', 11, _ALNUM_LOWER)}.{f.region}.rds.amazonaws.com"
    resource_id = "db-" + f.text("resource", 26, _ALNUM_UPPER)
    values: dict[str, Any] = {
        "id": resource_id,
        "resourceId": resource_id,
        "arn": _arn(f, "rds", f"db:{identifier}"),
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        # The hosted zone of RDS endpoints in us-east-1.
        "hostedZoneId": "Z2R2ITUGPM61AM",
        "status": "available",
        "engineVersionActual": f.get("engineVersion", "16.4"),
        "availabilityZone": f.get("availabilityZone", f"{f.region}a"),
        "listenerEndpoints": [],
        "replicas": [],
    }
    if f.get("storageEncrypted") is True and f.get("kmsKeyId") is None:
        values["kmsKeyId"] = _arn(f, "kms", f"key/{f.uuid('aws-rds')}")
    if f.get("manageMasterUserPassword") is True:
        kms = f.get("masterUserSecretKmsKeyId") or _arn(f, "kms", f"key/{f.uuid('aws-sm')}")
        secret = f"rds!db-{f.uuid('master')}"
        values["masterUserSecrets"] = [
            {
                "kmsKeyId": kms,
                "secretArn": _arn(
                    f, "secretsmanager", f"secret:{secret}-{f.text('s', 6, _ALNUM_MIXED)}"
                ),
                "secretStatus": "active",
            }
        ]
    return values


def _rds_proxy(f: ResourceFacts) -> dict[str, Any]:
    name = f.get("name")
    return {
        "id": name,
        "arn": _arn(f, "rds", f"db-proxy:prx-{f.text('proxy', 17)}"),
        "endpoint": (
            f"{name}.proxy-{f.text('endpoint', 12, _ALNUM_LOWER)}.{f.region}.rds.amazonaws.com"
        ),
    }


def _rds_proxy_endpoint(f: ResourceFacts) -> dict[str, Any]:
    name = f.get("dbProxyEndpointName", f.name)
    return {
        "id": f"{f.get('dbProxyName')}/{name}",
        "arn": _arn(f, "rds", f"db-proxy-endpoint:prx-endpoint-{f.text('proxy', 17)}"),
        "endpoint": f"{name}.endpoint.proxy-{f.text('endpoint', 12, _ALNUM_LOWER)}."
        f"{f.region}.rds.amazonaws.com",
        "isDefault": False,
    }


def _rds_proxy_default_target_group(f: ResourceFacts) -> dict[str, Any]:
    return {
        "id": f.get("dbProxyName"),
        "name": "default",
        "arn": _arn(f, "rds", f"target-group:prx-tg-{f.text('tg', 17)}"),
    }


def _rds_proxy_target(f: ResourceFacts) -> dict[str, Any]:
    instance = f.get("dbInstanceIdentifier")
    target_type = "RDS_INSTANCE" if instance else "TRACKED_CLUSTER"
    member = instance or f.get("dbClusterIdentifier")
    return {
        "id": f"{f.get('dbProxyName')},{f.get('targetGroupName')},{target_type},{member}",
        "type": target_type,
        "endpoint": f"{member}.c{f.text('cluster', 11, _ALNUM_LOWER)}.{f.region}.rds.amazonaws.com",
        "port": 5432,
        "rdsResourceId": member,
        "targetArn": _arn(f, "rds", f"db:{member}"),
        "trackedClusterId": "",
    }


def _rds_named(kind: str) -> Callable[[ResourceFacts], dict[str, Any]]:
    def values(f: ResourceFacts) -> dict[str, Any]:
        name = f.get("name")
        return {"id": name, "arn": _arn(f, "rds", f"{kind}:{name}")}

    return values


def _secret(f: ResourceFacts) -> dict[str, Any]:
    # Secrets Manager appends a dash and six random letters to a secret's name in its ARN.
    arn = _arn(f, "secretsmanager", f"secret:{f.get('name')}-{f.text('suffix', 6, _ALNUM_MIXED)}")
    return {"id": arn, "arn": arn}


def _secret_version(f: ResourceFacts) -> dict[str, Any]:
    version = f.uuid("version")
    secret = f.get("secretId")
    return {
        "id": f"{secret}|{version}",
        "arn": secret,
        "versionId": version,
        "versionStages": ["AWSCURRENT"],
    }


def _sqs_queue(f: ResourceFacts) -> dict[str, Any]:
    name = f.get("name")
    url = f"https://sqs.{f.region}.amazonaws.com/{f.account}/{name}"
    return {"id": url, "url": url, "arn": _arn(f, "sqs", name)}


def _log_group(f: ResourceFacts) -> dict[str, Any]:
    name = f.get("name")
    return {"id": name, "arn": _arn(f, "logs", f"log-group:{name}")}


def _lambda_function(f: ResourceFacts) -> dict[str, Any]:
    name = f.get("name")
    arn = _arn(f, "lambda", f"function:{name}")
    version = "1" if f.get("publish") is True else "$LATEST"
    qualified = f"{arn}:{version}"
    return {
        "id": name,
        "arn": arn,
        "invokeArn": _invoke_arn(f, arn),
        "qualifiedArn": qualified,
        "qualifiedInvokeArn": _invoke_arn(f, qualified),
        "responseStreamingInvokeArn": _invoke_arn(f, arn, streaming=True),
        "version": version,
        "lastModified": "2024-01-01T00:00:00.000+0000",
        "sourceCodeSize": 1024,
        "signingJobArn": "",
        "signingProfileVersionArn": "",
    }


def _lambda_alias(f: ResourceFacts) -> dict[str, Any]:
    function = f.get("functionName", "")
    function_arn = (
        function if function.startswith("arn:") else _arn(f, "lambda", f"function:{function}")
    )
    arn = f"{function_arn}:{f.get('name')}"
    return {"id": arn, "arn": arn, "invokeArn": _invoke_arn(f, arn)}


def _invoke_arn(f: ResourceFacts, function_arn: str, streaming: bool = False) -> str:
    api = "2021-11-15" if streaming else "2015-03-31"
    suffix = "response-streaming-invocations" if streaming else "invocations"
    return f"arn:aws:apigateway:{f.region}:lambda:path/{api}/functions/{function_arn}/{suffix}"


def _event_source_mapping(f: ResourceFacts) -> dict[str, Any]:
    mapping = f.uuid("mapping")
    function = f.get("functionName", "")
    function_arn = (
        function if function.startswith("arn:") else _arn(f, "lambda", f"function:{function}")
    )
    return {
        "id": mapping,
        "uuid": mapping,
        "functionArn": function_arn,
        "state": "Enabled",
        "arn": _arn(f, "lambda", f"event-source-mapping:{mapping}"),
    }


def _lambda_invocation(f: ResourceFacts) -> dict[str, Any]:
    # The function's answer is not knowable offline; an empty JSON object stands in for it.
    return {"id": f"{f.get('functionName')}_{f.get('qualifier', '$LATEST')}", "result": "{}"}


def _http_api(f: ResourceFacts) -> dict[str, Any]:
    api_id = f.text("api", 10, _ALNUM_LOWER)
    return {
        "id": api_id,
        "apiEndpoint": f"https://{api_id}.execute-api.{f.region}.amazonaws.com",
        "executionArn": _arn(f, "execute-api", api_id),
        "arn": f"arn:aws:apigateway:{f.region}::/apis/{api_id}",
    }


def _api_stage(f: ResourceFacts) -> dict[str, Any]:
    api_id, name = f.get("apiId"), f.get("name", "$default")
    path = "" if name == "$default" else f"/{name}"
    return {
        "id": name,
        "invokeUrl": f"https://{api_id}.execute-api.{f.region}.amazonaws.com{path}",
        "executionArn": _arn(f, "execute-api", f"{api_id}/{name}"),
        "arn": f"arn:aws:apigateway:{f.region}::/apis/{api_id}/stages/{name}",
    }


def _vpc(f: ResourceFacts) -> dict[str, Any]:
    vpc_id = f"vpc-{f.text('id', 17)}"
    return {
        "id": vpc_id,
        "arn": _arn(f, "ec2", f"vpc/{vpc_id}"),
        "defaultSecurityGroupId": f"sg-{f.text('default-sg', 17)}",
        "defaultNetworkAclId": f"acl-{f.text('default-acl', 17)}",
        "defaultRouteTableId": f"rtb-{f.text('main-rtb', 17)}",
        "mainRouteTableId": f"rtb-{f.text('main-rtb', 17)}",
        "dhcpOptionsId": f"dopt-{f.text('dopt', 17)}",
        "ownerId": f.account,
        "ipv6AssociationId": "",
    }


def _subnet(f: ResourceFacts) -> dict[str, Any]:
    zone = f.get("availabilityZone", f"{f.region}a")
    return {
        "availabilityZone": zone,
        "availabilityZoneId": zone_id(f.region, _zone_number(zone)),
        "ownerId": f.account,
    }


def _nat_gateway(f: ResourceFacts) -> dict[str, Any]:
    return {
        "networkInterfaceId": f"eni-{f.text('eni', 17)}",
        "privateIp": f"10.0.{int(f.text('ip', 2, '0123456789')) + 1}.10",
        "publicIp": _public_ip(f),
    }


def _eip(f: ResourceFacts) -> dict[str, Any]:
    allocation = f"eipalloc-{f.text('id', 17)}"
    ip = _public_ip(f)
    return {
        "id": allocation,
        "allocationId": allocation,
        "publicIp": ip,
        "publicDns": f"ec2-{ip.replace('.', '-')}.compute-1.amazonaws.com",
    }


def _vpc_endpoint(f: ResourceFacts) -> dict[str, Any]:
    endpoint_id = f"vpce-{f.text('id', 17)}"
    service = f.get("serviceName", f"com.amazonaws.{f.region}.service")
    short = service.rsplit(".", 1)[-1]
    dns = f"{endpoint_id}-{f.text('dns', 8, _ALNUM_LOWER)}.{short}.{f.region}.vpce.amazonaws.com"
    return {
        "id": endpoint_id,
        "arn": _arn(f, "ec2", f"vpc-endpoint/{endpoint_id}"),
        "dnsEntries": [{"dnsName": dns, "hostedZoneId": "Z7HUB22UULQXV"}],
        "networkInterfaceIds": [f"eni-{f.text('eni', 17)}"],
        "ownerId": f.account,
        "state": "available",
    }


def zone_id(region: str, number: int) -> str:
    """The id of a region's zone number: us-east-1, 2 -> use1-az2, ap-southeast-2, 1 -> apse2-az1.

    AWS maps zone names to ids per account; this is one such mapping, letter a to az1.
    """
    area, *directions, index = region.split("-")
    short = "".join(
        "".join(_DIRECTION_LETTERS.get(word, word[0]) for word in _DIRECTION_WORDS.findall(part))
        for part in directions
    )
    return f"{area}{short}{index}-az{number}"


def _zone_number(zone: str) -> int:
    return ord(zone[-1]) - ord("a") + 1 if zone and zone[-1].isalpha() else 1


def _public_ip(f: ResourceFacts) -> str:
    # 203.0.113.0/24 is reserved for documentation (RFC 5737), so it never names a real host.
    return f"203.0.113.{int(f.text('public-ip', 3, '0123456789')) % 254 + 1}"


_TYPE_VALUES: dict[str, Callable[[ResourceFacts], dict[str, Any]]] = {
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketV2:BucketV2": _s3_bucket,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:iam/rolePolicy:RolePolicy": _iam_role_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _iam_role_policy_attachment,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/proxy:Proxy": _rds_proxy,
    "aws:rds/proxyEndpoint:ProxyEndpoint": _rds_proxy_endpoint,
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": _rds_proxy_default_target_group,
    "aws:rds/proxyTarget:ProxyTarget": _rds_proxy_target,
    "aws:rds/subnetGroup:SubnetGroup": _rds_named("subgrp"),
    "aws:rds/parameterGroup:ParameterGroup": _rds_named("pg"),
    "aws:rds/optionGroup:OptionGroup": _rds_named("og"),
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:lambda/function:Function": _lambda_function,
    "aws:lambda/alias:Alias": _lambda_alias,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:lambda/invocation:Invocation": _lambda_invocation,
    "aws:apigatewayv2/api:Api": _http_api,
    "aws:apigatewayv2/stage:Stage": _api_stage,
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _subnet,
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
}
