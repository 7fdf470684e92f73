"""Fixtures shared by the test modules: the project directory and the dev stack's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.pulumi_mocks import stack_config_values

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def project_dir() -> Path:
    return PROJECT_DIR


@pytest.fixture
def dev_config() -> dict[str, str]:
    """The dev stack's config as the CLI hands it to the program (defaults applied)."""
    return stack_config_values(PROJECT_DIR, "dev")
