"""Benchmarks of the offline preview, the policy pack and the Lambda runtime (`make bench`)."""
