"""`.ci/setup.sh`: the set-up the README's two commands run (no real installs: pip is a stub here)."""

from __future__ import annotations

import shutil
import subprocess

from tests.helpers.images import ROOT


def _clone(tmp_path):
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "setup.sh", tmp_path / ".ci" / "setup.sh")
    (tmp_path / "tests").mkdir()
    (tmp_path / "requirements.txt").write_text("streamlit==1\n")
    (tmp_path / "tests" / "requirements.txt").write_text("-r ../requirements.txt\npytest==9\n")
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    log = tmp_path / "pip-calls.log"
    (venv / "python").write_text(f'#!/bin/sh\necho "$@" >> {log}\nexit 0\n')
    (venv / "python").chmod(0o755)
    return log


def _setup(tmp_path, what: str) -> None:
    subprocess.run(
        ["bash", str(tmp_path / ".ci" / "setup.sh"), what],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_make_app_after_make_test_installs_nothing(tmp_path):
    log = _clone(tmp_path)
    _setup(tmp_path, "test")
    installs = [line for line in log.read_text().splitlines() if "pip install" in line]
    assert len(installs) == 1 and "tests/requirements.txt" in installs[0]
    _setup(tmp_path, "app")  # a set-up clone: the test install already holds everything the app needs
    assert [line for line in log.read_text().splitlines() if "pip install" in line] == installs
    (tmp_path / "requirements.txt").write_text("streamlit==2\n")  # a changed pin does install again
    _setup(tmp_path, "app")
    assert len([line for line in log.read_text().splitlines() if "pip install" in line]) == 2
