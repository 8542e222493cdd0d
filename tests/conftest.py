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


def _auditd_pids() -> list:
    proc = subprocess.run(["pgrep", "-x", "auditd"], capture_output=True, text=True, check=False)
    return [int(pid) for pid in proc.stdout.split()]


def _audit_setting(name: str) -> int:
    out = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=True).stdout
    return int(dict(line.split(None, 1) for line in out.splitlines() if " " in line)[name].split()[0])


def _stop_auditd() -> None:
    for pid in _auditd_pids():
        os.kill(pid, 15)
    deadline = time.monotonic() + 10
    while _auditd_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _auditd_pids(), "auditd did not stop"


@pytest.fixture(scope="session")
def audit_host_state():
    """Notes the host's audit state (auditd running?, enabled, backlog limit) and puts it back at the end.

    No test leaves auditd running or auditing switched on for the next run or for the tests
    that follow: whichever order the tests run in, each one states what it needs.
    """
    require_root()
    require_tools("auditd", "auditctl")
    was_running = bool(_auditd_pids())
    enabled, backlog = _audit_setting("enabled"), _audit_setting("backlog_limit")
    yield
    if not was_running:
        _stop_auditd()
    elif not _auditd_pids():
        subprocess.run(["auditd"], check=True)
    subprocess.run(["auditctl", "-e", str(enabled), "-b", str(backlog)], check=True, capture_output=True)


@pytest.fixture
def auditd(audit_host_state):
    """A running auditd with a backlog large enough that no record is lost; its pid.

    Started here when it is not running (a freshly booted machine runs none).
    """
    if not _auditd_pids():
        subprocess.run(["auditd"], check=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(AUDIT_LOG) and time.monotonic() < deadline:
            time.sleep(0.05)
    subprocess.run(["auditctl", "-b", "65536", "-r", "0"], check=True, capture_output=True)
    return _auditd_pids()[0]


@pytest.fixture
def fresh_boot(audit_host_state):
    """The state of a freshly booted host: no auditd, kernel auditing off, the kernel's small backlog."""
    _stop_auditd()
    subprocess.run(["auditctl", "-e", "0", "-b", "64"], check=True, capture_output=True)
    assert _audit_setting("enabled") == 0


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory):
    """A busybox-static root filesystem shared by the runc tests."""
    require_root()
    require_tools("runc", "busybox")
    from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci

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
