"""Deterministic zip of lambda_src/ and its pinned pure-Python dependencies for the functions."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pulumi
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE_DIR = PROJECT_ROOT / "lambda_src"
DEFAULT_OUTPUT_DIR = PROJECT_ROOT / "build"
PACKAGE_FILE_NAME = "lambda.zip"

# Every entry gets the same timestamp and mode, so the bytes depend on file names and contents
# only. 1980-01-01 is the earliest date the zip format can store.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644
ZIP_COMPRESSION_LEVEL = 9

EXCLUDED_DIR_NAMES = frozenset({"__pycache__", "tests", ".pytest_cache", ".mypy_cache"})
EXCLUDED_FILE_SUFFIXES = (".pyc", ".pyo")
# Compiled extensions are built for one platform; the functions run on arm64 Linux, this
# machine may not, so only pure-Python distributions can be copied from the local environment.
NATIVE_FILE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
# Of a distribution's metadata, the package keeps what importlib.metadata needs at run time
# (scramp reads its own version from METADATA) and the licences; RECORD, INSTALLER and
# direct_url.json describe this machine's install and would make the bytes machine-dependent.
KEPT_DIST_INFO_NAMES = frozenset({"METADATA", "WHEEL", "top_level.txt", "entry_points.txt"})

# The environment the functions run in, for evaluating the dependencies' environment markers.
LAMBDA_MARKER_ENVIRONMENT = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "extra": "",
}


class LambdaPackageError(ValueError):
    """The code package cannot be built as asked; the message says which input and how to fix."""


@dataclass(frozen=True)
class LambdaPackage:
    """A built code package: the zip on disk and the hash Lambda reports for it.

    path: the zip file.
    source_code_hash: base64 of the zip's SHA-256, the form Lambda reports as CodeSha256, so a
        change of code and only a change of code updates the functions.
    """

    path: Path
    source_code_hash: str

    @property
    def archive(self) -> pulumi.FileArchive:
        return pulumi.FileArchive(str(self.path))


def build_lambda_package(
    source_dir: Path = DEFAULT_SOURCE_DIR,
    requirements_file: Path | None = None,
    output_dir: Path = DEFAULT_OUTPUT_DIR,
    *,
    distribution: Callable[[str], importlib.metadata.Distribution] = (
        importlib.metadata.distribution
    ),
) -> LambdaPackage:
    """Zip `source_dir` (as a top-level directory of its own name) and the pinned dependencies.

    The dependencies listed in `requirements_file` (default: requirements.txt inside
    `source_dir`) are copied from the installed environment, never downloaded, so `pulumi up`
    needs no network. Same inputs give the same bytes and the same hash.
    """
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise LambdaPackageError(
            f"Lambda source directory '{source_dir}' does not exist; "
            "point source_dir at the directory that holds the handlers."
        )
    requirements_file = Path(requirements_file or source_dir / "requirements.txt")

    entries = dict(_source_entries(source_dir))
    pins = read_pinned_requirements(requirements_file)
    for arcname, path in dependency_entries(pins, requirements_file, distribution=distribution):
        if arcname in entries:
            raise LambdaPackageError(
                f"'{arcname}' comes both from '{source_dir}' and from a dependency in "
                f"'{requirements_file}'; rename the file in the source directory."
            )
        entries[arcname] = path

    zip_bytes = zip_entries(entries)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / PACKAGE_FILE_NAME
    _write_atomically(path, zip_bytes)
    return LambdaPackage(path=path, source_code_hash=source_code_hash(zip_bytes))


def read_pinned_requirements(requirements_file: Path) -> dict[str, str]:
    """Read `name==version` lines into {canonical name: version}; anything looser is an error."""
    try:
        lines = Path(requirements_file).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise LambdaPackageError(
            f"Requirements file '{requirements_file}' does not exist; create it with one "
            "'name==version' line per runtime dependency (it may be empty)."
        ) from exc

    pins: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"'{requirements_file}' line {number}"
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            problems.append(f"{where}: '{line}' is not a requirement; write 'name==version'.")
            continue
        specifiers = list(requirement.specifier)
        if requirement.extras or requirement.url or requirement.marker:
            problems.append(
                f"{where}: '{line}' uses extras, a URL or a marker; pin a plain 'name==version'."
            )
        elif len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
            problems.append(
                f"{where}: '{line}' must pin one exact version with '==' so the package is "
                "reproducible."
            )
        else:
            pins[canonicalize_name(requirement.name)] = specifiers[0].version
    if problems:
        raise LambdaPackageError("; ".join(problems))
    return pins


def dependency_entries(
    pins: Mapping[str, str],
    requirements_file: Path,
    *,
    distribution: Callable[[str], importlib.metadata.Distribution] = (
        importlib.metadata.distribution
    ),
) -> list[tuple[str, Path]]:
    """The (zip name, file) pairs of the pinned distributions, checked against the pins.

    Every pinned distribution must be installed at exactly the pinned version, be pure Python,
    and have its own runtime requirements pinned too; all problems are reported at once.
    """
    problems: list[str] = []
    entries: list[tuple[str, Path]] = []
    for name, pinned_version in sorted(pins.items()):
        try:
            dist = distribution(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(
                f"'{name}=={pinned_version}' from '{requirements_file}' is not installed; "
                "run `make setup` (pip install -r requirements-dev.txt -c constraints.txt)."
            )
            continue
        if dist.version != pinned_version:
            problems.append(
                f"'{name}' is pinned to {pinned_version} in '{requirements_file}' but "
                f"{dist.version} is installed; install the pinned version or change the pin."
            )
            continue
        for needed in _runtime_requirements(dist):
            if canonicalize_name(needed.name) not in pins:
                problems.append(
                    f"'{name}' needs '{needed}', which '{requirements_file}' does not pin; "
                    f"add '{canonicalize_name(needed.name)}==<version>'."
                )
        dist_entries, native = _distribution_entries(dist)
        if native:
            problems.append(
                f"'{name}' is not pure Python ({native[0]}); the functions run on arm64 Linux, "
                "so build it for that platform or choose a pure-Python alternative."
            )
        entries.extend(dist_entries)
    if problems:
        raise LambdaPackageError("; ".join(problems))
    return entries


def zip_entries(entries: Mapping[str, Path]) -> bytes:
    """Zip the files under their zip names, sorted, with fixed timestamps and permissions."""
    with tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024) as buffer:
        with zipfile.ZipFile(buffer, "w") as archive:
            for arcname in sorted(entries):
                info = zipfile.ZipInfo(arcname, date_time=ZIP_TIMESTAMP)
                info.external_attr = ZIP_FILE_MODE << 16
                info.create_system = 3
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(
                    info, entries[arcname].read_bytes(), compresslevel=ZIP_COMPRESSION_LEVEL
                )
        buffer.seek(0)
        return buffer.read()


def source_code_hash(zip_bytes: bytes) -> str:
    """Base64 of the SHA-256 of the zip, as Lambda reports CodeSha256."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")


def _source_entries(source_dir: Path) -> Iterable[tuple[str, Path]]:
    top = source_dir.name
    for directory, dir_names, file_names in os.walk(source_dir):
        dir_names[:] = [
            d for d in dir_names if d not in EXCLUDED_DIR_NAMES and not d.startswith(".")
        ]
        for file_name in file_names:
            if file_name.startswith(".") or file_name.endswith(EXCLUDED_FILE_SUFFIXES):
                continue
            path = Path(directory) / file_name
            relative = PurePosixPath(path.relative_to(source_dir).as_posix())
            yield str(PurePosixPath(top) / relative), path


def _distribution_entries(
    dist: importlib.metadata.Distribution,
) -> tuple[list[tuple[str, Path]], list[str]]:
    entries: list[tuple[str, Path]] = []
    native: list[str] = []
    for file in dist.files or ():
        parts = PurePosixPath(str(file)).parts
        # Scripts land outside site-packages ("../../bin/..."); functions have no use for them.
        if not parts or parts[0] == ".." or any(p in EXCLUDED_DIR_NAMES for p in parts):
            continue
        if parts[-1].endswith(EXCLUDED_FILE_SUFFIXES):
            continue
        if parts[0].endswith(".dist-info") and not (
            parts[-1] in KEPT_DIST_INFO_NAMES or "licenses" in parts or "LICENSE" in parts[-1]
        ):
            continue
        if parts[-1].endswith(NATIVE_FILE_SUFFIXES):
            native.append(str(file))
            continue
        entries.append((str(PurePosixPath(*parts)), Path(str(dist.locate_file(file)))))
    return entries, native


def _runtime_requirements(dist: importlib.metadata.Distribution) -> list[Requirement]:
    needed = []
    for text in dist.requires or ():
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(LAMBDA_MARKER_ENVIRONMENT):
            needed.append(requirement)
    return needed


def _write_atomically(path: Path, data: bytes) -> None:
    # Write beside the target and rename, so a concurrent reader never sees half a zip.
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".lambda-", delete=False) as handle:
        handle.write(data)
        temporary = Path(handle.name)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
