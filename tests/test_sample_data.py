"""The sample set ships inside the package: found through importlib.resources,
listed as package data, byte for byte the published files, and nothing in the
repository points outside it (no absolute paths, no sibling folders)."""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

from sanlun.importer.cli import SAMPLE_DATA_FOLDER, SAMPLE_DATA_PACKAGE, sample_data_dir

ROOT = Path(__file__).resolve().parents[1]
# The original, read-only folder, when this clone sits next to it.
ORIGINAL = ROOT.parent / "shared" / "data" / "maven-crm"
CSV_FILES = ("accounts.csv", "data_dictionary.csv", "products.csv", "sales_pipeline.csv", "sales_teams.csv")


def test_the_sample_set_is_found_through_importlib_resources():
    folder = files(SAMPLE_DATA_PACKAGE) / SAMPLE_DATA_FOLDER
    assert folder.is_dir()
    assert {name for name in (*CSV_FILES, "README.md", "NOTICE.md") if (folder / name).is_file()} == {
        *CSV_FILES,
        "README.md",
        "NOTICE.md",
    }
    assert sample_data_dir() == Path(str(folder))
    assert (sample_data_dir() / "sales_pipeline.csv").read_bytes().count(b"\r\n") == 8801  # CRLF kept


def test_every_sample_file_is_package_data():
    """A wheel carries what `[tool.setuptools.package-data]` names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"][SAMPLE_DATA_PACKAGE]
    shipped = [p for p in sample_data_dir().iterdir() if p.is_file() and p.name != ".gitattributes"]
    assert shipped
    for path in shipped:
        relative = f"{SAMPLE_DATA_FOLDER}/{path.name}"
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


@pytest.mark.skipif(not ORIGINAL.is_dir(), reason="the original sample folder is not next to this clone")
def test_the_packaged_files_equal_the_originals():
    originals = sorted(p.name for p in ORIGINAL.iterdir() if p.is_file())
    assert originals == sorted((*CSV_FILES, "README.md"))
    for name in originals:
        assert (sample_data_dir() / name).read_bytes() == (ORIGINAL / name).read_bytes(), name


def test_no_tracked_file_points_outside_the_repository():
    """The sample set, the design and the docs are all inside the repository."""
    try:
        tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    this = Path(__file__).resolve()
    offenders = []
    for name in filter(None, tracked.decode().split("\0")):
        path = ROOT / name
        if (
            path == this
            or not path.is_file()
            or path.suffix not in {".py", ".md", ".toml", ".yaml", ".yml", ".cfg", ".ini", ""}
        ):
            continue
        text = path.read_text(errors="replace")
        offenders += [f"{name}: {needle}" for needle in ("/work/", "../shared") if needle in text]
    assert offenders == []
