# -*- coding: utf-8 -*-
"""spo-selinuxd against the real policy store: batching, failure isolation, API, restart."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from conftest import VENV_BIN, require_root, require_tools

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import cil as selinux_cil
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.selinuxd import query

API = "security-profiles-operator.x-k8s.io/v1alpha2"


def profile_cil(name, target):
    doc = {"apiVersion": API, "kind": "SelinuxProfile", "metadata": {"name": name, "namespace": "sd"},
           "spec": {"allow": {target: {"file": ["read", "open"]}}}}
    return selinux_cil.profile_cil(selinux.parse_profile(doc))


def modules():
    out = subprocess.run(["semodule", "-l"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


class Selinuxd:
    def __init__(self, tmp_path):
        self.dir = tmp_path / "selinux.d"
        self.dir.mkdir(exist_ok=True)
        self.sock = str(tmp_path / "run" / "selinuxd.sock")
        self.state = str(tmp_path / "state" / "state.json")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([os.path.join(VENV_BIN, "spo-selinuxd"), "--dir", str(self.dir), "--socket", self.sock,
                                      "--state", self.state, "--interval", "0.2", "--quiet-period", "1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.wait(lambda: self.get("/ready")[0] == 200)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def get(self, path):
        try:
            return query(self.sock, path)
        except OSError:
            return 0, None

    def wait(self, condition, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            assert self.proc.poll() is None, self.proc.stdout.read()
            time.sleep(0.2)
        raise AssertionError("timed out; status %r" % (self.get("/policies/"),))

    def write(self, name, text):
        (self.dir / (name + ".cil")).write_text(text)


@pytest.fixture
def daemon(tmp_path):
    require_root()
    require_tools("semodule")
    before = modules()
    sd = Selinuxd(tmp_path)
    yield sd
    sd.stop()
    left = sorted(modules() - before)
    if left:
        subprocess.run(["semodule", "-n"] + [a for m in left for a in ("-r", m)], check=False)


def settled(sd, names):
    def check():
        code, body = sd.get("/policies/")
        return code == 200 and all(body.get(n, {}).get("status") in ("Installed", "Failed") for n in names) \
            and all(n in body for n in names)
    return check


def test_batches_isolates_failures_serves_status_and_survives_restart(daemon):
    sd = daemon
    sd.start()
    assert sd.get("/ready") == (200, {"ready": True, "transactions": 0})

    # several files arriving together -> ONE transaction
    for name, text in selinux_templates.system_modules(compat=True).items():
        sd.write(name, text)
    sd.write("one_sd", profile_cil("one", "var_log_t"))
    sd.write("two_sd", profile_cil("two", "etc_t"))
    batch1 = ["spo_system_templates", "spo_container_compat", "one_sd", "two_sd"]
    sd.wait(settled(sd, batch1))
    assert sd.get("/ready")[1]["transactions"] == 1
    assert {n: s["status"] for n, s in sd.get("/policies/")[1].items()} == {n: "Installed" for n in batch1}
    assert set(batch1) <= modules()

    # a broken policy is Failed with the compiler's message; the good one next to it installs
    sd.write("bad_sd", "(block bad_sd (blockinherit container) (allow process no_such_type_t (file (read))))\n")
    sd.write("three_sd", profile_cil("three", "tmp_t"))
    sd.wait(settled(sd, ["bad_sd", "three_sd"]))
    code, bad = sd.get("/policies/bad_sd")
    assert code == 200 and bad["status"] == "Failed" and "bad_sd/cil" in bad["message"], bad
    assert sd.get("/policies/three_sd")[1]["status"] == "Installed"
    assert "three_sd" in modules() and "bad_sd" not in modules()
    assert sd.get("/ready")[1]["transactions"] == 3  # 1 + (failed batch, retried batch)
    assert sd.get("/policies/nope")[0] == 404

    # restart: status persists, the reconcile finds nothing to do (no rebuild)
    sd.stop()
    sd.start()
    status = sd.get("/policies/")[1]
    assert status["bad_sd"]["status"] == "Failed" and status["three_sd"]["status"] == "Installed"
    assert sd.get("/ready")[1]["transactions"] == 0

    # removal of files -> uninstalled in one transaction; the status entries go away
    for name in ["one_sd", "two_sd", "three_sd", "bad_sd"]:
        (sd.dir / (name + ".cil")).unlink()
    sd.wait(lambda: set(sd.get("/policies/")[1]) == {"spo_system_templates", "spo_container_compat"})
    assert not {"one_sd", "two_sd", "three_sd"} & modules()
    assert sd.get("/ready")[1]["transactions"] == 1


def test_help_shows_the_defaults():
    """`spo-selinuxd --help` names the directory, socket and state file it uses when none is given."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import selinuxd

    out = subprocess.run([os.path.join(VENV_BIN, "spo-selinuxd"), "--help"], capture_output=True, text=True,
                         check=True).stdout
    flat = " ".join(out.split())
    for default in (selinuxd.DEFAULT_DIR, selinuxd.DEFAULT_SOCKET, selinuxd.DEFAULT_STATE, "0660"):
        assert "(default: %s)" % default in flat, out


def test_a_module_it_did_not_install_is_adopted_not_removed(daemon, tmp_path):
    """A policy already in the store (installed by the selinux_policy module, an earlier `make demo`, ...)
    whose file is dropped in is reported Installed; when the file goes, the daemon leaves it in the store."""
    sd = daemon
    cil = tmp_path / "adopt_sd.cil"
    cil.write_text(profile_cil("adopt", "var_log_t"))
    # the other party's install needs the templates the profile inherits
    for name, text in selinux_templates.system_modules(compat=True).items():
        (tmp_path / (name + ".cil")).write_text(text)
    subprocess.run(["semodule", "-n", "-i", str(tmp_path / "spo_system_templates.cil"),
                    "-i", str(tmp_path / "spo_container_compat.cil"), "-i", str(cil)], check=True, capture_output=True)
    once = [os.path.join(VENV_BIN, "spo-selinuxd"), "--dir", str(sd.dir), "--socket", sd.sock, "--state", sd.state,
            "--once"]
    sd.write("adopt_sd", cil.read_text())
    first = subprocess.run(once, capture_output=True, text=True, check=True)
    assert '"status": "Installed"' in first.stdout and '"adopted": true' in first.stdout, first.stdout
    (sd.dir / "adopt_sd.cil").unlink()
    second = subprocess.run(once, capture_output=True, text=True, check=False)
    assert second.returncode == 0 and "adopt_sd" not in second.stdout, second.stdout
    assert "adopt_sd" in modules()
    subprocess.run(["semodule", "-n", "-r", "adopt_sd"], check=True, capture_output=True)
