"""Tests of lambda_src against a real PostgreSQL over TLS and moto's Secrets Manager server."""
