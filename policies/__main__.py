"""The policy pack: guardrails for AWS stacks where Lambda functions reach a private database."""

import encryption
from pulumi_policy import PolicyPack

PolicyPack(
    name="lambda-private-db-guardrails",
    policies=[*encryption.POLICIES],
)
