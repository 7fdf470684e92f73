"""TLS contexts that verify the server certificate and host name against a CA bundle."""

import ssl
from functools import lru_cache
from pathlib import Path

from lambda_src.errors import ConfigurationError

MINIMUM_TLS_VERSION = ssl.TLSVersion.TLSv1_2


@lru_cache(maxsize=8)
def verified_ssl_context(ca_bundle_path: Path) -> ssl.SSLContext:
    """A client context trusting only the certificates in `ca_bundle_path`.

    pg8000 treats `ssl_context=True` as "encrypt but verify nothing" and `None` as "fall back
    to plaintext when the server declines", so the connection always gets this context
    instead: PROTOCOL_TLS_CLIENT turns on certificate verification and host name checking.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = MINIMUM_TLS_VERSION
    try:
        context.load_verify_locations(cafile=str(ca_bundle_path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"The CA bundle {str(ca_bundle_path)!r} could not be loaded ({exc}); point "
            "'DB_CA_BUNDLE' at a PEM file of CA certificates or unset it to use the bundled "
            "trust roots."
        ) from exc
    if not context.get_ca_certs():
        raise ConfigurationError(
            f"The CA bundle {str(ca_bundle_path)!r} holds no CA certificate; point "
            "'DB_CA_BUNDLE' at a PEM file of CA certificates."
        )
    # Belt and braces: these are already the PROTOCOL_TLS_CLIENT defaults.
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def require_rds_root_for_region(context: ssl.SSLContext, region: str, bundle: Path) -> None:
    """Fail early, and clearly, when the RDS bundle has no current root for `region`.

    The bundled RDS global bundle holds a root per region as of the day it was copied; an
    instance in a region opened later would otherwise fail only at the TLS handshake, with a
    less helpful "unable to get local issuer certificate".
    """
    marker = f" {region} Root CA "
    for certificate in context.get_ca_certs():
        for rdn in certificate.get("subject", ()):
            for key, value in rdn:
                if key == "commonName" and marker in f"{value} ":
                    return
    raise ConfigurationError(
        f"'DB_REGION' is {region!r}, but the RDS CA bundle {str(bundle)!r} holds no root "
        f"certificate for that region; point 'DB_CA_BUNDLE' at the region's bundle "
        f"(https://truststore.pki.rds.amazonaws.com/{region}/{region}-bundle.pem)."
    )
