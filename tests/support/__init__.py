"""Helpers shared by the test modules: recording Pulumi mocks and program runners."""
