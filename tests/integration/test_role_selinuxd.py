# -*- coding: utf-8 -*-
"""roles/selinuxd through ansible-playbook: installed, its direct-run hint runs the daemon with the unit's
own options, and `selinuxd_role_state: absent` takes back what the role placed."""
from __future__ import annotations

import os
import re
import shlex
import subprocess

import yaml

from conftest import ROOT, ansible_playbook, require_root, require_tools


def _vars(tmp_path):
    return {"selinuxd_install_dir": str(tmp_path / "opt"), "selinuxd_policy_dir": str(tmp_path / "selinux.d"),
            "selinuxd_socket_dir": str(tmp_path / "run"), "selinuxd_socket": str(tmp_path / "run" / "sd.sock"),
            "selinuxd_state": str(tmp_path / "state" / "state.json"), "selinuxd_unit_dir": str(tmp_path / "systemd"),
            "selinuxd_quiet_period": 0.2}


def _run(tmp_path, state):
    play = [{"name": "selinuxd role", "hosts": "localhost", "gather_facts": False,
             "vars": dict(_vars(tmp_path), selinuxd_role_state=state),
             "roles": [{"role": os.path.join(ROOT, "roles", "selinuxd")}]}]
    playbook = tmp_path / ("role-%s.yml" % state)
    playbook.write_text(yaml.safe_dump(play))
    proc = ansible_playbook(str(playbook), env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_role_present_hint_then_absent(tmp_path):
    require_root()
    require_tools("semodule")
    if os.path.isdir("/run/systemd/system"):
        import pytest
        pytest.skip(reason="the hint is shown where systemd is not PID 1; this host runs systemd")
    var = _vars(tmp_path)
    present = _run(tmp_path, "present")
    unit = (tmp_path / "systemd" / "spo-selinuxd.service").read_text()
    exec_args = re.search(r"ExecStart=\S+ -m spo_cli.selinuxd (.*)", unit).group(1).split()
    hint = re.search(r"Run the daemon directly: (PYTHONPATH=\S+ \S+ -m spo_cli.selinuxd [^\"]*)", present.stdout)
    assert hint, present.stdout
    hint_words = shlex.split(hint.group(1))
    assert hint_words[4:] == exec_args and "--socket" in exec_args and "--state" in exec_args
    # the hint, as printed, runs the daemon: --once with the unit's options
    env = dict(os.environ, PYTHONPATH=hint_words[0].split("=", 1)[1])
    once = subprocess.run(hint_words[1:] + ["--once"], env=env, capture_output=True, text=True, check=False)
    assert once.returncode == 0, once.stderr
    assert os.path.exists(var["selinuxd_state"])
    placed = sorted(os.listdir(var["selinuxd_policy_dir"]))
    assert "spo_system_templates.cil" in placed
    (tmp_path / "selinux.d" / "mine.cil").write_text("; a profile's file\n")

    absent = _run(tmp_path, "absent")
    assert "changed=" in absent.stdout
    assert not (tmp_path / "systemd" / "spo-selinuxd.service").exists()
    assert not (tmp_path / "opt").exists()
    assert os.listdir(var["selinuxd_policy_dir"]) == ["mine.cil"]  # only what the role placed is gone
    again = _run(tmp_path, "absent")
    assert re.search(r"changed=0", again.stdout), again.stdout
    # uninstall what --once installed, so the store is left as found
    os.unlink(str(tmp_path / "selinux.d" / "mine.cil"))
    subprocess.run(["env", "PYTHONPATH=%s" % os.path.join(ROOT), os.path.join(ROOT, ".venv", "bin", "python"), "-m",
                    "spo_cli.selinuxd", "--dir", var["selinuxd_policy_dir"], "--socket", var["selinuxd_socket"],
                    "--state", var["selinuxd_state"], "--once"], capture_output=True, check=False)
