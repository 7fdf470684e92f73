"""Database settings read from the environment variables the LambdaTier component sets."""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambda_src.errors import ConfigurationError

CERTS_DIR = Path(__file__).resolve().parent / "certs"

# RDS Proxy presents certificates issued by Amazon Trust Services (through ACM), so a proxy
# endpoint verifies against those roots; an instance endpoint presents an RDS CA certificate.
PROXY_TRUST_BUNDLE = CERTS_DIR / "amazon-trust-services-roots.pem"
INSTANCE_TRUST_BUNDLE = CERTS_DIR / "rds-global-bundle.pem"

AUTH_MODES = ("iam", "secret")
ENDPOINT_KINDS = ("proxy", "instance")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_HOST_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


@dataclass(frozen=True)
class DbSettings:
    """Where and how to connect; built by `from_environ`, never holds a secret value."""

    host: str
    port: int
    database: str
    user: str
    auth_mode: str
    endpoint_kind: str
    region: str
    ca_bundle_path: Path
    secret_arn: str | None = None
    log_level: str = "INFO"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "DbSettings":
        """Read and validate every variable; raise one ConfigurationError listing all problems."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def required(name: str, fix: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"'{name}' is required and is empty or unset; {fix}.")
            return value

        host = required("DB_HOST", "set it to the RDS Proxy or instance endpoint address")
        if host and not _HOST_PATTERN.match(host):
            problems.append(
                f"'DB_HOST' must be a host name or IP address, got {host!r}; "
                "use the endpoint address without scheme or port."
            )

        port_text = required("DB_PORT", "set it to the database port, usually 5432")
        port = 0
        if port_text:
            if port_text.isdigit() and 1 <= int(port_text) <= 65535:
                port = int(port_text)
            else:
                problems.append(
                    f"'DB_PORT' must be an integer from 1 to 65535, got {port_text!r}; "
                    "set it to the database port, usually 5432."
                )

        database = required("DB_NAME", "set it to the database name")
        user = required("DB_USER", "set it to the database user this function logs in as")

        auth_mode = required("DB_AUTH_MODE", f"set it to one of {', '.join(AUTH_MODES)}")
        if auth_mode and auth_mode not in AUTH_MODES:
            problems.append(
                f"'DB_AUTH_MODE' must be one of {', '.join(AUTH_MODES)}, got {auth_mode!r}; "
                "use 'iam' for IAM database authentication or 'secret' for a Secrets Manager "
                "password."
            )

        secret_arn = env.get("DB_SECRET_ARN", "").strip() or None
        if auth_mode == "secret" and secret_arn is None:
            problems.append(
                "'DB_SECRET_ARN' is required when 'DB_AUTH_MODE' is 'secret'; set it to the ARN "
                "of the secret holding this user's password."
            )
        if secret_arn is not None and not secret_arn.startswith("arn:"):
            problems.append(
                f"'DB_SECRET_ARN' must be a secret ARN starting with 'arn:', got {secret_arn!r}; "
                "pass the secret's ARN, not its name."
            )

        endpoint_kind = required(
            "DB_ENDPOINT_KIND", f"set it to one of {', '.join(ENDPOINT_KINDS)}"
        )
        if endpoint_kind and endpoint_kind not in ENDPOINT_KINDS:
            problems.append(
                f"'DB_ENDPOINT_KIND' must be one of {', '.join(ENDPOINT_KINDS)}, got "
                f"{endpoint_kind!r}; it chooses which trust roots verify the server certificate."
            )

        region = required("DB_REGION", "set it to the AWS region of the database, e.g. eu-west-1")
        if region and not _REGION_PATTERN.match(region):
            problems.append(
                f"'DB_REGION' must look like an AWS region such as 'eu-west-1', got {region!r}."
            )

        ca_bundle_path = PROXY_TRUST_BUNDLE if endpoint_kind == "proxy" else INSTANCE_TRUST_BUNDLE
        ca_override = env.get("DB_CA_BUNDLE", "").strip()
        if ca_override:
            ca_bundle_path = Path(ca_override)
            if not ca_bundle_path.is_file():
                problems.append(
                    f"'DB_CA_BUNDLE' must name a readable PEM file, got {ca_override!r} which does "
                    "not exist; unset it to use the trust roots shipped in the package."
                )

        log_level = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
        if log_level not in LOG_LEVELS:
            problems.append(
                f"'LOG_LEVEL' must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}."
            )

        if problems:
            raise ConfigurationError(
                "The database settings in the environment are invalid:\n- " + "\n- ".join(problems)
            )
        return cls(
            host=host,
            port=port,
            database=database,
            user=user,
            auth_mode=auth_mode,
            endpoint_kind=endpoint_kind,
            region=region,
            ca_bundle_path=ca_bundle_path,
            secret_arn=secret_arn,
            log_level=log_level,
        )
