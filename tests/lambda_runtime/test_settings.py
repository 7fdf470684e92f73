"""Settings from the environment: every problem named with its variable, its value and the fix."""

import pytest

from lambda_src.errors import ConfigurationError
from lambda_src.settings import PROXY_TRUST_BUNDLE, DbSettings

VALID = {
    "DB_HOST": "orders.proxy-abc123.eu-west-1.rds.amazonaws.com",
    "DB_PORT": "5432",
    "DB_NAME": "app",
    "DB_USER": "orders_writer",
    "DB_AUTH_MODE": "iam",
    "DB_ENDPOINT_KIND": "proxy",
    "DB_REGION": "eu-west-1",
}


def test_settings_valid_environment_parses():
    settings = DbSettings.from_environ(VALID)
    assert settings.port == 5432
    assert settings.ca_bundle_path == PROXY_TRUST_BUNDLE
    assert settings.secret_arn is None
    assert settings.log_level == "INFO"


def test_settings_invalid_environment_lists_every_problem_at_once():
    environ = {
        **VALID,
        "DB_HOST": "https://db:5432",
        "DB_PORT": "54321x",
        "DB_AUTH_MODE": "secret",
        "DB_ENDPOINT_KIND": "cluster",
        "DB_REGION": "Ireland",
        "DB_CA_BUNDLE": "/nonexistent/ca.pem",
        "LOG_LEVEL": "chatty",
    }
    del environ["DB_NAME"]

    with pytest.raises(ConfigurationError) as raised:
        DbSettings.from_environ(environ)

    message = str(raised.value)
    expected = [
        "'DB_HOST' must be a host name or IP address, got 'https://db:5432'",
        "'DB_PORT' must be an integer from 1 to 65535, got '54321x'",
        "'DB_NAME' is required",
        "'DB_SECRET_ARN' is required when 'DB_AUTH_MODE' is 'secret'",
        "'DB_ENDPOINT_KIND' must be one of proxy, instance, got 'cluster'",
        "'DB_REGION' must look like an AWS region",
        "'DB_CA_BUNDLE' must name a readable PEM file, got '/nonexistent/ca.pem'",
        "'LOG_LEVEL' must be one of DEBUG, INFO, WARNING, ERROR, got 'CHATTY'",
    ]
    for fragment in expected:
        assert fragment in message
    assert message.count("\n- ") == len(expected)


def test_settings_secret_arn_must_be_an_arn():
    with pytest.raises(ConfigurationError, match="pass the secret's ARN, not its name"):
        DbSettings.from_environ({**VALID, "DB_AUTH_MODE": "secret", "DB_SECRET_ARN": "my-secret"})
