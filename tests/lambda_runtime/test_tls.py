"""TLS: verified connections succeed; another CA, another host name or no TLS at all fail."""

import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from lambda_src.database import Database
from lambda_src.errors import ConfigurationError, TlsError
from lambda_src.invocation import Deadline
from lambda_src.settings import INSTANCE_TRUST_BUNDLE, PROXY_TRUST_BUNDLE, DbSettings
from lambda_src.tls import verified_ssl_context

from .helpers import (
    db_environ,
    login_role_with_secret,
    settings_for,
)


@pytest.fixture
def login_role(postgres):
    """A fresh role on the TLS server and a secret holding its password."""

    def make(secrets_client, server=None):
        name, _, arn = login_role_with_secret(server or postgres, secrets_client, "tls_user")
        return name, arn

    return make


def _database(postgres, tls, user, secret_arn, host="localhost", port=None) -> Database:
    return Database(
        settings_for(
            host=host,
            port=port or postgres.port,
            database="postgres",
            user=user,
            ca_bundle=tls.trusted_bundle,
            secret_arn=secret_arn,
        )
    )


def test_tls_verified_connection_uses_tls(postgres, tls, login_role, secrets_client):
    user, arn = login_role(secrets_client)
    database = _database(postgres, tls, user, arn)
    try:
        rows = database.run_transaction(
            lambda c: c.run("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
            Deadline.after(10),
        )
    finally:
        database.close()
    assert rows[0][0] is True
    assert rows[0][1] in ("TLSv1.2", "TLSv1.3")


def test_tls_certificate_from_another_ca_is_refused(
    postgres, tls, login_role, secrets_client, serving_certificate
):
    user, arn = login_role(secrets_client)
    database = _database(postgres, tls, user, arn)
    with serving_certificate(tls.from_other_authority), pytest.raises(TlsError) as raised:
        database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))
    assert "did not verify" in str(raised.value)
    assert "unable to get local issuer certificate" in str(raised.value)
    assert not database.is_connected


def test_tls_hostname_mismatch_is_refused(
    postgres, tls, login_role, secrets_client, serving_certificate
):
    user, arn = login_role(secrets_client)
    database = _database(postgres, tls, user, arn)
    with serving_certificate(tls.for_other_host), pytest.raises(TlsError) as raised:
        database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))
    assert "Hostname mismatch" in str(raised.value)
    assert not database.is_connected


def test_tls_ip_address_not_in_certificate_is_refused(
    postgres, tls, login_role, secrets_client, serving_certificate
):
    # The certificate names db.elsewhere.test only; connecting by IP must not slip through.
    user, arn = login_role(secrets_client)
    database = _database(postgres, tls, user, arn, host="127.0.0.1")
    with serving_certificate(tls.for_other_host), pytest.raises(TlsError):
        database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))


def test_tls_server_without_tls_is_refused_never_plaintext(
    plaintext_postgres, tls, login_role, secrets_client
):
    user, arn = login_role(secrets_client, server=plaintext_postgres)
    database = Database(
        settings_for(
            host="localhost",
            port=plaintext_postgres.port,
            database="postgres",
            user=user,
            ca_bundle=tls.trusted_bundle,
            secret_arn=arn,
        )
    )
    with pytest.raises(TlsError) as raised:
        database.run_transaction(lambda c: c.run("SELECT 1"), Deadline.after(10))
    assert "refused TLS" in str(raised.value)
    assert "never falls back to plaintext" in str(raised.value)

    # The server never saw a login from this user: the client stopped at the TLS request.
    admin = plaintext_postgres.admin()
    try:
        sessions = admin.run("SELECT count(*) FROM pg_stat_activity WHERE usename = :u", u=user)
    finally:
        admin.close()
    assert sessions == [[0]]


def test_tls_context_verifies_certificate_and_host_name(tls):
    context = verified_ssl_context(tls.trusted_bundle)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert len(context.get_ca_certs()) == 1


@pytest.mark.parametrize(
    ("endpoint_kind", "expected_bundle"),
    [("proxy", PROXY_TRUST_BUNDLE), ("instance", INSTANCE_TRUST_BUNDLE)],
)
def test_tls_bundle_follows_endpoint_kind(endpoint_kind, expected_bundle, tls):
    environ = db_environ(
        host="db.example.internal",
        port=5432,
        database="app",
        user="app_user",
        ca_bundle=tls.trusted_bundle,
        auth_mode="iam",
        endpoint_kind=endpoint_kind,
    )
    del environ["DB_CA_BUNDLE"]
    assert DbSettings.from_environ(environ).ca_bundle_path == expected_bundle


# One of these roots (Starfield Services G2) has a serial number of 0, which cryptography warns
# about; the roots are as Mozilla and Debian ship them.
@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_tls_proxy_bundle_holds_the_amazon_trust_services_roots():
    certificates = x509.load_pem_x509_certificates(PROXY_TRUST_BUNDLE.read_bytes())
    common_names = sorted(
        c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for c in certificates
    )
    assert common_names == [
        "Amazon Root CA 1",
        "Amazon Root CA 2",
        "Amazon Root CA 3",
        "Amazon Root CA 4",
        "Starfield Services Root Certificate Authority - G2",
    ]
    for certificate in certificates:
        _assert_self_signed_signature_verifies(certificate)
        assert certificate.not_valid_after_utc.year >= 2037


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_tls_instance_bundle_is_intact_and_covers_current_rds_roots():
    certificates = x509.load_pem_x509_certificates(INSTANCE_TRUST_BUNDLE.read_bytes())
    assert len(certificates) == 115
    by_subject = {c.subject: c for c in certificates}
    now = datetime.datetime.now(datetime.UTC)
    for certificate in certificates:
        issuer = by_subject.get(certificate.issuer)
        assert issuer is not None, f"issuer of {certificate.subject.rfc4514_string()} not in bundle"
        # A single changed byte anywhere in a certificate breaks its signature.
        _assert_signed_by(certificate, issuer)
    current_common_names = {
        c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        for c in certificates
        if c.not_valid_after_utc > now
    }
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        for family in ("RSA2048 G1", "RSA4096 G1", "ECC384 G1"):
            assert f"Amazon RDS {region} Root CA {family}" in current_common_names
    context = verified_ssl_context(INSTANCE_TRUST_BUNDLE)
    assert len(context.get_ca_certs()) == len(certificates)


def _assert_self_signed_signature_verifies(certificate: x509.Certificate) -> None:
    assert certificate.issuer == certificate.subject
    _assert_signed_by(certificate, certificate)


def _assert_signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> None:
    public_key = issuer.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(
            certificate.signature,
            certificate.tbs_certificate_bytes,
            padding.PKCS1v15(),
            certificate.signature_hash_algorithm,
        )
    else:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        public_key.verify(
            certificate.signature,
            certificate.tbs_certificate_bytes,
            ec.ECDSA(certificate.signature_hash_algorithm),
        )


def test_tls_instance_bundle_without_the_region_fails_before_connecting(tls):
    environ = db_environ(
        host="db.abc.il-central-1.rds.amazonaws.com",
        port=5432,
        database="app",
        user="app_user",
        ca_bundle=tls.trusted_bundle,
        auth_mode="iam",
        endpoint_kind="instance",
    )
    del environ["DB_CA_BUNDLE"]
    settings = DbSettings.from_environ({**environ, "DB_REGION": "il-central-1"})

    with pytest.raises(ConfigurationError) as raised:
        Database(settings)

    assert "'DB_REGION' is 'il-central-1'" in str(raised.value)
    assert "'DB_CA_BUNDLE'" in str(raised.value)
    assert Database(DbSettings.from_environ(environ)).settings.region == "eu-west-1"
