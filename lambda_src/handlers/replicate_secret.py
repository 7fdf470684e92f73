"""Deploy-time replication of the RDS-managed master secret into the replica's region.

aws.lambda_.Invocation calls this with lifecycle scope CRUD. On create and update it asks
Secrets Manager to replicate the primary's master secret into the replica region under that
region's key; on delete it removes that region again. From then on Secrets Manager keeps the
replica's value in step with the primary, rotations included. The function never reads a
secret value: it only describes the secret and changes its replication.
"""

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from lambda_src.errors import ConfigurationError
from lambda_src.invocation import LambdaContext, start_invocation
from lambda_src.logs import LOGGER_NAME, configure_logging, log_event

logger = logging.getLogger(f"{LOGGER_NAME}.replicate_secret")

# The key aws.lambda_.Invocation adds to the event with lifecycle scope CRUD, holding "action"
# (create, update, delete) and "prev_input" (the previous event, without this key).
LIFECYCLE_KEY = "tf"

_SECRET_ARN = re.compile(r"^arn:[a-z-]+:secretsmanager:([a-z0-9-]+):\d{12}:secret:.+$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")

SecretsClientFactory = Callable[[str], Any]


class ReplicationError(Exception):
    """Secrets Manager accepted the request but reports the replica as failed."""


@dataclass(frozen=True)
class ReplicationRequest:
    """The master secret to replicate, where to, and the key that encrypts the copy there."""

    secret_arn: str
    replica_region: str
    replica_kms_key_id: str

    @property
    def source_region(self) -> str:
        match = _SECRET_ARN.match(self.secret_arn)
        assert match is not None  # parse_request accepted only matching ARNs
        return match.group(1)

    @property
    def replica_secret_arn(self) -> str:
        """A replica keeps the primary's ARN except for the region."""
        return replica_secret_arn(self.secret_arn, self.replica_region)


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """Entry point invoked by aws.lambda_.Invocation on every lifecycle event."""
    start_invocation(context)
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    return run(event, lambda region: boto3.client("secretsmanager", region_name=region))


def run(event: Mapping[str, Any], client_for: SecretsClientFactory) -> dict[str, Any]:
    """Apply the lifecycle event: replicate (create, update) or stop replicating (delete)."""
    lifecycle = event.get(LIFECYCLE_KEY) or {}
    action = lifecycle.get("action", "create")
    previous_input = lifecycle.get("prev_input")

    if action == "delete":
        previous = parse_request(previous_input or event)
        changed = remove_replica(client_for(previous.source_region), previous)
        return _result(previous, changed)

    request = parse_request(event)
    changed = False
    if action == "update" and previous_input:
        previous = parse_request(previous_input)
        # A replica's key cannot be changed in place: the old copy goes, a new one is made.
        if previous != request:
            changed = remove_replica(client_for(previous.source_region), previous)
    changed = ensure_replica(client_for(request.source_region), request) or changed
    return _result(request, changed)


def parse_request(payload: Mapping[str, Any]) -> ReplicationRequest:
    """The request in the event, each field checked; ConfigurationError names a bad field."""
    if not isinstance(payload, Mapping):
        raise ConfigurationError(f"the event must be a JSON object, got {type(payload).__name__}")
    secret_arn = payload.get("secretArn")
    replica_region = payload.get("replicaRegion")
    key_id = payload.get("replicaKmsKeyId")
    problems = []
    if not isinstance(secret_arn, str) or not _SECRET_ARN.match(secret_arn):
        problems.append(f"'secretArn' must be a Secrets Manager secret ARN, got {secret_arn!r}")
    if not isinstance(replica_region, str) or not _REGION.match(replica_region):
        problems.append(
            f"'replicaRegion' must be a region name such as us-west-2, got {replica_region!r}"
        )
    if not isinstance(key_id, str) or not key_id:
        problems.append(f"'replicaKmsKeyId' must name the replica region's KMS key, got {key_id!r}")
    if problems:
        raise ConfigurationError("; ".join(problems))
    request = ReplicationRequest(secret_arn, replica_region, key_id)
    if request.source_region == replica_region:
        raise ConfigurationError(
            f"'replicaRegion' {replica_region} is the secret's own region; a replica goes to "
            "another region."
        )
    return request


def ensure_replica(client: Any, request: ReplicationRequest) -> bool:
    """Replicate the secret into the replica region unless it already is; True if it changed.

    A region that already holds a replica is left as it is, whatever key it uses: the key the
    replica was made with is known only from this function's previous input, and a change of
    key arrives as an update with that input (see run)."""
    if _replica_status(client, request) is not None:
        message = f"the secret is already replicated to {request.replica_region}"
        log_event(logger, logging.INFO, "replica_present", message)
        return False
    response = client.replicate_secret_to_regions(
        SecretId=request.secret_arn,
        AddReplicaRegions=[
            {"Region": request.replica_region, "KmsKeyId": request.replica_kms_key_id}
        ],
        ForceOverwriteReplicaSecret=False,
    )
    status = next(
        (
            s
            for s in response.get("ReplicationStatus", [])
            if s.get("Region") == request.replica_region
        ),
        None,
    )
    if status is None or status.get("Status") == "Failed":
        message = (status or {}).get("StatusMessage", "no status returned for the region")
        raise ReplicationError(
            f"replicating the master secret to {request.replica_region} failed: {message}"
        )
    log_event(logger, logging.INFO, "replica_created", f"replicated to {request.replica_region}")
    return True


def remove_replica(client: Any, request: ReplicationRequest) -> bool:
    """Stop replicating into the request's region; True if a replica was removed.

    A source secret that no longer exists (its instance was deleted first) has nothing left to
    remove, so that is not an error."""
    try:
        if _replica_status(client, request) is None:
            return False
        client.remove_regions_from_replication(
            SecretId=request.secret_arn, RemoveReplicaRegions=[request.replica_region]
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            log_event(logger, logging.INFO, "source_gone", "the source secret no longer exists")
            return False
        raise
    message = f"stopped replicating to {request.replica_region}"
    log_event(logger, logging.INFO, "replica_removed", message)
    return True


def replica_secret_arn(secret_arn: str, replica_region: str) -> str:
    """The replica's ARN: the primary's, with the replica's region."""
    parts = secret_arn.split(":")
    parts[3] = replica_region
    return ":".join(parts)


def _replica_status(client: Any, request: ReplicationRequest) -> Mapping[str, Any] | None:
    described = client.describe_secret(SecretId=request.secret_arn)
    return next(
        (
            status
            for status in described.get("ReplicationStatus", [])
            if status.get("Region") == request.replica_region
        ),
        None,
    )


def _result(request: ReplicationRequest, changed: bool) -> dict[str, Any]:
    return {
        "secretArn": request.secret_arn,
        "replicaRegion": request.replica_region,
        "replicaSecretArn": request.replica_secret_arn,
        "changed": changed,
    }
