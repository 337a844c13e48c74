"""The unit tier needs no network at all: run in a network namespace of its own (no
interface, not even loopback), as a developer runs `unshare -n make unit`."""

import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import PROJECT, python_env


def _can_unshare_the_network() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare_the_network(), reason="unshare -n needs root (CI runs as root)")
def test_the_unit_tier_passes_without_any_network():
    started = time.monotonic()
    run = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"],
        cwd=str(PROJECT),
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
    print("unit tier without a network: %.1f s" % (time.monotonic() - started))
