"""The package installs like a real one: a wheel built from the source, installed (not
editable) into a fresh virtual environment, gives a `versioner` that checks and renders the
sample from another directory, finding its configs and schema inside the installed package.

The fresh environment gets the project's dependencies from the test environment (a `.pth` line),
so nothing is downloaded; the project itself comes only from the wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE

pytestmark = [pytest.mark.packaging, pytest.mark.ffmpeg]


def _run(*args, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    # No PYTHONPATH: the installed package alone must be found, never a source tree on the path.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The `bin/` folder of a fresh venv holding the wheel, and nothing else of the project."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "out", "build", "*.egg-info",
                                                                 "__pycache__", ".pytest_cache"))
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", work / "dist",
                 source, cwd=work)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((work / "dist").glob("versioner-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(_run(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=work).stdout.strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps",
                     "--no-index", wheel, cwd=work)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv / "bin"


def test_the_wheel_carries_the_configs_and_every_sub_package(installed, tmp_path):
    where = _run(installed / "python", "-c",
                 "import pipeline, pipeline.config as c, pipeline.delivery.schema as s; "
                 "print(pipeline.__file__); print(c.DEFAULT_CONFIG); print(s.SCHEMA_FILE)", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    module, default, schema = (Path(line) for line in where.stdout.split())
    assert str(ROOT) not in where.stdout, "the installed package reads files of the source tree"
    assert default.is_file() and schema.is_file()
    assert default.parent == module.parent / "configs"


def test_the_installed_versioner_checks_and_renders_the_sample_from_elsewhere(installed, tmp_path, fast_config):
    checked = _run(installed / "versioner", "check", SAMPLE, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "is asset" in checked.stdout
    rendered = _run(installed / "versioner", "render", SAMPLE, "--out", "delivered", "--config", fast_config,
                    cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    folder = next((tmp_path / "delivered").iterdir())
    document = json.loads(next(folder.glob("*_metadata.json")).read_text())
    assert {item["key"] for item in document["deliverables"]} >= {"master-clean", "international"}
    assert all(item["state"] == "delivered" for item in document["deliverables"])
    assert _run("sha256sum", "-c", "SHA256SUMS", cwd=folder).returncode == 0
