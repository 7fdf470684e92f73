"""Tests of the policy pack and of the Analyzer protocol driver, against the real pack process."""
