"""The policy pack: guardrails for AWS stacks where Lambda functions reach a private database."""

import encryption
import iam
import network
import spread
from pulumi_policy import PolicyPack

PolicyPack(
    name="lambda-private-db-guardrails",
    policies=[*iam.POLICIES, *network.POLICIES, *encryption.POLICIES, *spread.POLICIES],
)
