"""Database passwords: IAM auth tokens renewed before they expire, or Secrets Manager secrets."""

import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lambda_src.errors import CredentialsError, DeadlineExceededError
from lambda_src.invocation import Deadline
from lambda_src.logs import LOGGER_NAME, log_event
from lambda_src.settings import DbSettings

logger = logging.getLogger(f"{LOGGER_NAME}.credentials")

# An RDS IAM auth token is accepted for 15 minutes after it is signed:
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html
IAM_TOKEN_LIFETIME_SECONDS = 15 * 60
# A token is replaced this long before it expires, so a connection opened with it never races
# its expiry (the issue asks for at least 30 s).
IAM_TOKEN_RENEW_BEFORE_EXPIRY_SECONDS = 60.0

# A cached secret is read again after this long even without an authentication failure, so a
# rotation is picked up by warm functions that never reconnect.
SECRET_MAX_AGE_SECONDS = 300.0

SECRETS_CONNECT_TIMEOUT_SECONDS = 1.0
SECRETS_READ_TIMEOUT_SECONDS = 2.0
SECRETS_MAX_ATTEMPTS = 2
# Upper bound of botocore's backoff before its second attempt (standard retry mode).
SECRETS_RETRY_BACKOFF_ALLOWANCE_SECONDS = 1.0
# Below this there is no point calling Secrets Manager at all (and the rounded timeouts
# below could no longer fit inside it).
SECRETS_MIN_CALL_SECONDS = 0.75
# Shortened timeouts are rounded down to this step so few distinct clients are ever built.
SECRETS_TIMEOUT_STEP_SECONDS = 0.25


class PasswordProvider(Protocol):
    """What the connection asks for a password; `invalidate` drops any cached value."""

    def password(self, deadline: Deadline) -> str: ...

    def invalidate(self) -> None: ...


class IamAuthTokenProvider:
    """Signs RDS IAM auth tokens locally and reuses one until shortly before it expires."""

    def __init__(
        self,
        settings: DbSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        generate_token: Callable[[], str] | None = None,
        renew_before_expiry_seconds: float = IAM_TOKEN_RENEW_BEFORE_EXPIRY_SECONDS,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._generate = generate_token or self._sign_with_boto3
        self._renew_before_expiry_seconds = renew_before_expiry_seconds
        self._token: str | None = None
        self._signed_at = 0.0
        self._rds_client: Any = None

    def password(self, deadline: Deadline) -> str:
        # The token's age is measured on a monotonic clock: the token expires 15 minutes of
        # real time after signing, and a wall clock stepped back by NTP would make an expired
        # token look fresh. A clock reading before the signing time (only an injected clock can
        # do that) leaves the age unknown, so the token is signed again.
        now = self._clock()
        renew_at = self._signed_at + IAM_TOKEN_LIFETIME_SECONDS - self._renew_before_expiry_seconds
        if self._token is None or now >= renew_at or now < self._signed_at:
            self._token = self._generate()
            self._signed_at = now
            log_event(
                logger,
                logging.INFO,
                "iam_token.signed",
                "Signed a new IAM auth token",
                user=self._settings.user,
                host=self._settings.host,
            )
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def _sign_with_boto3(self) -> str:
        # Signing is local (SigV4 with the function's role credentials); no network call.
        try:
            if self._rds_client is None:
                self._rds_client = boto3.session.Session().client(
                    "rds", region_name=self._settings.region
                )
            return self._rds_client.generate_db_auth_token(
                DBHostname=self._settings.host,
                Port=self._settings.port,
                DBUsername=self._settings.user,
                Region=self._settings.region,
            )
        except (BotoCoreError, ClientError) as exc:
            raise CredentialsError(
                f"Could not sign an IAM auth token for user '{self._settings.user}' on "
                f"{self._settings.host}:{self._settings.port} ({type(exc).__name__}); the "
                "function needs AWS credentials (its execution role) and rds-db:connect on "
                "this user."
            ) from exc


class SecretsManagerReader:
    """Reads and writes JSON secrets, with timeouts that fit the time the invocation has left."""

    def __init__(
        self,
        region: str,
        *,
        connect_timeout_seconds: float = SECRETS_CONNECT_TIMEOUT_SECONDS,
        read_timeout_seconds: float = SECRETS_READ_TIMEOUT_SECONDS,
        max_attempts: int = SECRETS_MAX_ATTEMPTS,
    ) -> None:
        self._region = region
        self._connect_timeout_seconds = connect_timeout_seconds
        self._read_timeout_seconds = read_timeout_seconds
        self._max_attempts = max_attempts
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[float, float, int], Any] = {}

    def read_json(self, secret_arn: str, deadline: Deadline) -> dict[str, Any] | None:
        """The secret's current JSON value, or None when the secret has no value yet."""
        started = time.monotonic()
        client, timeouts = self._client(deadline, secret_arn)
        try:
            response = client.get_secret_value(SecretId=secret_arn)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException" and _secret_exists(client, secret_arn):
                return None
            raise CredentialsError(
                f"Secrets Manager refused to read secret '{secret_arn}' ({code}); the function's "
                "role needs secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)."
            ) from exc
        except BotoCoreError as exc:
            raise _unreachable(secret_arn, "read", timeouts, exc) from exc

        text = response.get("SecretString")
        try:
            value = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            value = None
        if not isinstance(value, dict):
            # `from None`: a JSON decoding error keeps the document it failed on.
            raise CredentialsError(
                f"Secret '{secret_arn}' must hold a JSON object with a 'password' key; its "
                "current value is not a JSON object. Store it as "
                '{"username": "...", "password": "..."}.'
            ) from None
        log_event(
            logger,
            logging.INFO,
            "secret.read",
            "Read a secret from Secrets Manager",
            latency_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return value

    def put_json(self, secret_arn: str, value: dict[str, Any], deadline: Deadline) -> None:
        """Store `value` as the secret's new current version."""
        client, timeouts = self._client(deadline, secret_arn)
        try:
            client.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(value))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise CredentialsError(
                f"Secrets Manager refused to write secret '{secret_arn}' ({code}); the "
                "bootstrap function's role needs secretsmanager:PutSecretValue on it (and "
                "kms:Encrypt/GenerateDataKey on its key)."
            ) from exc
        except BotoCoreError as exc:
            raise _unreachable(secret_arn, "write", timeouts, exc) from exc

    def _client(self, deadline: Deadline, secret_arn: str) -> tuple[Any, tuple[float, float, int]]:
        # A boto3 Session takes a few hundred milliseconds to build; it is made once, before
        # the timeouts are worked out from the time left, and shared by every client.
        if self._session is None:
            self._session = boto3.session.Session()
        timeouts = self._timeouts_within(deadline.remaining(), secret_arn)
        client = self._clients.get(timeouts)
        if client is None:
            connect_timeout, read_timeout, attempts = timeouts
            config = Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"total_max_attempts": attempts, "mode": "standard"},
            )
            # The endpoint comes from standard configuration: in a VPC without NAT that is the
            # interface endpoint's private DNS; AWS_ENDPOINT_URL_SECRETS_MANAGER overrides it.
            client = self._session.client("secretsmanager", region_name=self._region, config=config)
            self._clients[timeouts] = client
        return client, timeouts

    def _timeouts_within(self, budget_seconds: float, secret_arn: str) -> tuple[float, float, int]:
        per_attempt = self._connect_timeout_seconds + self._read_timeout_seconds
        full_schedule = (
            self._max_attempts * per_attempt
            + (self._max_attempts - 1) * SECRETS_RETRY_BACKOFF_ALLOWANCE_SECONDS
        )
        if budget_seconds >= full_schedule:
            return (self._connect_timeout_seconds, self._read_timeout_seconds, self._max_attempts)
        # Not enough time for the full schedule: a single try whose timeouts share what is
        # left, keeping a fifth for building the client, signing and handling the answer.
        usable = budget_seconds * 0.8
        if usable < SECRETS_MIN_CALL_SECONDS:
            raise DeadlineExceededError(
                f"Only {budget_seconds:.2f} s of the invocation is left, too little to read "
                f"secret '{secret_arn}'; raise the function's timeout."
            )
        scale = usable / per_attempt
        connect_timeout = _round_down(self._connect_timeout_seconds * scale)
        read_timeout = _round_down(self._read_timeout_seconds * scale)
        return (connect_timeout, read_timeout, 1)


class SecretPasswordProvider:
    """The 'password' of a Secrets Manager secret, cached for at most `max_age_seconds`."""

    def __init__(
        self,
        secret_arn: str,
        reader: SecretsManagerReader,
        *,
        max_age_seconds: float = SECRET_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_arn = secret_arn
        self._reader = reader
        self._max_age_seconds = max_age_seconds
        self._clock = clock
        self._password: str | None = None
        self._read_at = 0.0

    def password(self, deadline: Deadline) -> str:
        now = self._clock()
        if self._password is None or now - self._read_at >= self._max_age_seconds:
            value = self._reader.read_json(self._secret_arn, deadline)
            password = value.get("password") if value else None
            if not isinstance(password, str) or not password:
                raise CredentialsError(
                    f"Secret '{self._secret_arn}' has no non-empty string 'password' key; store "
                    'it as {"username": "...", "password": "..."}.'
                )
            self._password = password
            self._read_at = now
        return self._password

    def invalidate(self) -> None:
        self._password = None


def password_provider_for(settings: DbSettings) -> PasswordProvider:
    """The provider `settings.auth_mode` asks for."""
    if settings.auth_mode == "iam":
        return IamAuthTokenProvider(settings)
    assert settings.secret_arn is not None  # DbSettings.from_environ enforces it
    return SecretPasswordProvider(settings.secret_arn, SecretsManagerReader(settings.region))


def _secret_exists(client: Any, secret_arn: str) -> bool:
    """True when the secret itself exists (so the ResourceNotFound was about its value)."""
    try:
        client.describe_secret(SecretId=secret_arn)
    except (ClientError, BotoCoreError):
        return False
    return True


def _unreachable(
    secret_arn: str, action: str, timeouts: tuple[float, float, int], exc: Exception
) -> CredentialsError:
    connect_timeout, read_timeout, attempts = timeouts
    return CredentialsError(
        f"Secrets Manager did not answer while trying to {action} secret '{secret_arn}' "
        f"({type(exc).__name__}; {attempts} attempt(s), connect timeout {connect_timeout} s, read "
        f"timeout {read_timeout} s). Check that the function's subnets reach the Secrets "
        "Manager VPC endpoint and that its security group allows HTTPS to it."
    )


def _round_down(seconds: float) -> float:
    steps = math.floor(seconds / SECRETS_TIMEOUT_STEP_SECONDS)
    return max(SECRETS_TIMEOUT_STEP_SECONDS, steps * SECRETS_TIMEOUT_STEP_SECONDS)
