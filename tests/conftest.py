# -*- coding: utf-8 -*-
"""Shared pytest fixtures: real-component prerequisites and a busybox root.

Tests that need root or a tool skip with the reason; CI runs as root with
every tool installed by hack/setup.sh, so there they all run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


AUDIT_SAMPLES_IN = os.path.join(ROOT, "tests", "unit", "fixtures", "audit-samples.log.in")
NON_UTF8_MARKER = b"@NON-UTF-8@"


def audit_samples_bytes() -> bytes:
    """The audit fixture with its deliberately non-UTF-8 record restored.

    The file in git stays valid UTF-8 (sanity checks read every file as text);
    the marker stands for the bytes 0xff 0xfe that the parser must skip.
    """
    with open(AUDIT_SAMPLES_IN, "rb") as handle:
        return handle.read().replace(NON_UTF8_MARKER, b"\xff\xfe")


def audit_samples_path() -> str:
    """Path of a temporary copy of :func:`audit_samples_bytes` (made once per run)."""
    import tempfile
    path = os.path.join(tempfile.gettempdir(), "spo-audit-samples-%d.log" % os.getpid())
    if not os.path.exists(path):
        with open(path, "wb") as handle:
            handle.write(audit_samples_bytes())
    return path


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip(reason="needs root (runc, auditd, semodule); CI runs as root")


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(reason="needs %s (installed by hack/setup.sh)" % ", ".join(missing))


AUDIT_LOG = "/var/log/audit/audit.log"


@pytest.fixture(scope="session")
def auditd():
    """A running auditd with a backlog large enough that no record is lost; its pid.

    Started here when it is not running (CI machines start with none).
    """
    require_root()
    require_tools("auditd", "auditctl")
    if subprocess.run(["pgrep", "-x", "auditd"], capture_output=True, check=False).returncode != 0:
        subprocess.run(["auditd"], check=True)
        time.sleep(0.5)
    subprocess.run(["auditctl", "-b", "65536", "-r", "0"], check=True, capture_output=True)
    return int(subprocess.run(["pgrep", "-x", "auditd"], capture_output=True, text=True, check=True).stdout.split()[0])


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory):
    """A busybox-static root filesystem shared by the runc tests."""
    require_root()
    require_tools("runc", "busybox")
    from ansible_collections.spo.security_profiles.plugins.module_utils import oci

    rootfs = str(tmp_path_factory.mktemp("rootfs"))
    oci.prepare_busybox_rootfs(rootfs)
    return rootfs


def ansible_playbook(*args: str, check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the venv's ansible-playbook from the repository root (ansible.cfg applies)."""
    full_env = dict(os.environ)
    full_env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    full_env["PATH"] = VENV_BIN + os.pathsep + full_env.get("PATH", "")
    full_env.update(env or {})
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise AssertionError("ansible-playbook %s failed (rc=%d)" % (" ".join(args), proc.returncode))
    return proc
