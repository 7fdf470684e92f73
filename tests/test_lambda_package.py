"""The Lambda code package: deterministic bytes, the right files, pins checked against the
installed environment, and a package that imports on its own."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.lambda_package import (
    DEFAULT_SOURCE_DIR,
    LambdaPackageError,
    build_lambda_package,
    read_pinned_requirements,
)

RUNTIME_PINS = (
    "pg8000==1.31.6\nscramp==1.5.0\nasn1crypto==1.5.1\npython-dateutil==2.9.0.post0\nsix==1.17.0\n"
)


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    """A small lambda_src tree with the clutter a working copy collects."""
    root = tmp_path / "src" / "lambda_src"
    (root / "handlers").mkdir(parents=True)
    (root / "__init__.py").write_text('"""Runtime."""\n')
    (root / "handlers" / "__init__.py").write_text("")
    (root / "handlers" / "writer.py").write_text("def handler(event, context):\n    return 1\n")
    (root / "requirements.txt").write_text("# runtime pins\n" + RUNTIME_PINS)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\x00")
    (root / "handlers" / "writer.pyc").write_bytes(b"\x00")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text("assert True\n")
    (root / ".env").write_text("SECRET=1\n")
    return root


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_build_lambda_package_same_inputs_give_same_bytes(source_dir, tmp_path):
    first = build_lambda_package(source_dir, output_dir=tmp_path / "one")
    # Different modification times and a different output place change nothing.
    for path in source_dir.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    second = build_lambda_package(source_dir, output_dir=tmp_path / "two")
    assert first.path != second.path
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.source_code_hash == second.source_code_hash
    digest = hashlib.sha256(first.path.read_bytes()).digest()
    assert first.source_code_hash == base64.b64encode(digest).decode()


def test_build_lambda_package_changed_source_changes_hash(source_dir, tmp_path):
    before = build_lambda_package(source_dir, output_dir=tmp_path / "one")
    (source_dir / "handlers" / "writer.py").write_text(
        "def handler(event, context):\n    return 2\n"
    )
    after = build_lambda_package(source_dir, output_dir=tmp_path / "two")
    assert before.source_code_hash != after.source_code_hash


def test_build_lambda_package_entries_are_sorted_with_fixed_metadata(source_dir, tmp_path):
    package = build_lambda_package(source_dir, output_dir=tmp_path)
    with zipfile.ZipFile(package.path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_build_lambda_package_holds_source_dir_and_dependencies_at_root(source_dir, tmp_path):
    names = set(_names(build_lambda_package(source_dir, output_dir=tmp_path).path))
    assert {
        "lambda_src/__init__.py",
        "lambda_src/handlers/__init__.py",
        "lambda_src/handlers/writer.py",
        "lambda_src/requirements.txt",
        "pg8000/__init__.py",
        "scramp/__init__.py",
        "asn1crypto/__init__.py",
        "dateutil/__init__.py",
        "six.py",
        "scramp-1.5.0.dist-info/METADATA",
    } <= names
    # Nothing compiled, no tests, no dotfiles, no install records of this machine.
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("lambda_src/tests/")]
    assert "lambda_src/.env" not in names
    assert not [
        n for n in names if n.endswith(("/RECORD", "/INSTALLER", "/REQUESTED", "/direct_url.json"))
    ]


def test_build_lambda_package_imports_from_the_unpacked_zip_alone(source_dir, tmp_path):
    package = build_lambda_package(source_dir, output_dir=tmp_path / "out")
    unpacked = tmp_path / "task"
    with zipfile.ZipFile(package.path) as archive:
        archive.extractall(unpacked)
    # -S: no site-packages, so every import below must come from the unpacked package, as on
    # Lambda, where /var/task is on the path.
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import pg8000, scramp, dateutil, lambda_src.handlers.writer as w;"
        "assert pg8000.__file__.startswith(sys.argv[1]), pg8000.__file__;"
        "print(scramp.__version__, w.handler(None, None))"
    )
    completed = subprocess.run(
        [sys.executable, "-S", "-c", script, str(unpacked)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["1.5.0", "1"]


def test_build_lambda_package_version_mismatch_names_both_versions(source_dir, tmp_path):
    (source_dir / "requirements.txt").write_text(RUNTIME_PINS.replace("1.31.6", "1.30.0"))
    with pytest.raises(LambdaPackageError) as caught:
        build_lambda_package(source_dir, output_dir=tmp_path)
    message = str(caught.value)
    assert "'pg8000' is pinned to 1.30.0" in message
    assert "1.31.6 is installed" in message
    assert str(source_dir / "requirements.txt") in message
    assert not (tmp_path / "lambda.zip").exists()


def test_build_lambda_package_unpinned_dependency_is_named(source_dir, tmp_path):
    (source_dir / "requirements.txt").write_text("pg8000==1.31.6\n")
    with pytest.raises(LambdaPackageError) as caught:
        build_lambda_package(source_dir, output_dir=tmp_path)
    message = str(caught.value)
    assert "'pg8000' needs" in message
    assert "add 'scramp==<version>'" in message
    assert "add 'python-dateutil==<version>'" in message


def test_build_lambda_package_missing_distribution_says_how_to_install(source_dir, tmp_path):
    (source_dir / "requirements.txt").write_text("surely-not-installed-pkg==1.0\n")
    with pytest.raises(LambdaPackageError, match="'surely-not-installed-pkg==1.0'.*make setup"):
        build_lambda_package(source_dir, output_dir=tmp_path)


def test_build_lambda_package_rejects_native_distributions(source_dir, tmp_path):
    # rpds-py ships a compiled extension for this machine; it could not run on arm64 Lambda.
    version = importlib.metadata.version("rpds-py")
    (source_dir / "requirements.txt").write_text(f"rpds-py=={version}\n")
    with pytest.raises(LambdaPackageError) as caught:
        build_lambda_package(source_dir, output_dir=tmp_path)
    assert "'rpds-py' is not pure Python" in str(caught.value)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("pg8000>=1.31", "one exact version"),
        ("pg8000", "one exact version"),
        ("pg8000==1.*", "one exact version"),
        ("pg8000[extra]==1.31.6", "extras"),
        ("pg8000==1.31.6; python_version<'3'", "marker"),
        ("not a requirement !", "not a requirement"),
    ],
)
def test_read_pinned_requirements_rejects_loose_lines_with_line_number(tmp_path, line, fragment):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"six==1.17.0\n{line}\n")
    with pytest.raises(LambdaPackageError) as caught:
        read_pinned_requirements(requirements)
    assert "line 2" in str(caught.value)
    assert fragment in str(caught.value)


def test_read_pinned_requirements_canonicalises_names(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# comment\n\nPython_Dateutil==2.9.0.post0  # inline\n")
    assert read_pinned_requirements(requirements) == {"python-dateutil": "2.9.0.post0"}


def test_build_lambda_package_missing_source_dir_is_named(tmp_path):
    with pytest.raises(LambdaPackageError, match="'.*nowhere' does not exist"):
        build_lambda_package(tmp_path / "nowhere", output_dir=tmp_path)


def test_build_lambda_package_project_source_is_reproducible(tmp_path):
    first = build_lambda_package(DEFAULT_SOURCE_DIR, output_dir=tmp_path / "one")
    second = build_lambda_package(DEFAULT_SOURCE_DIR, output_dir=tmp_path / "two")
    assert first.source_code_hash == second.source_code_hash
    names = _names(first.path)
    assert "lambda_src/requirements.txt" in names
    assert "pg8000/__init__.py" in names
