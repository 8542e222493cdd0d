# -*- coding: utf-8 -*-
"""roles/seccomp_default through ansible-playbook on localhost, on temp files (never the test
cluster's kubelet): the kubelet's seccompDefault set with comments kept, the CRI-O drop-in written,
a second run changes nothing, check mode changes nothing but says what would, the handler runs (or
says a restart is needed where systemd does not run the kubelet), and state absent gives back the
original file byte for byte."""
from __future__ import annotations

import os
import re

import pytest
import yaml

from conftest import ROOT, ansible_playbook

KUBELET_CONFIG = """\
# The kubelet's configuration (comments and order must survive)
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd   # as the runtime
authentication:
  anonymous:
    enabled: false
"""


def _run(tmp_path, name, *extra, **variables):
    play = [{"name": "seccomp_default role", "hosts": "localhost", "gather_facts": False,
             "vars": dict({"seccomp_default_kubelet_config": str(tmp_path / "kubelet" / "config.yaml"),
                           "seccomp_default_crio_dropin_dir": str(tmp_path / "crio" / "crio.conf.d")}, **variables),
             "roles": [{"role": os.path.join(ROOT, "roles", "seccomp_default")}]}]
    playbook = tmp_path / ("%s.yml" % name)
    playbook.write_text(yaml.safe_dump(play))
    return ansible_playbook(str(playbook), *extra)


def _changed(proc) -> int:
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    return int(match.group(1))


@pytest.fixture
def files(tmp_path):
    (tmp_path / "kubelet").mkdir()
    (tmp_path / "crio" / "crio.conf.d").mkdir(parents=True)
    config = tmp_path / "kubelet" / "config.yaml"
    config.write_text(KUBELET_CONFIG)
    os.chmod(str(config), 0o600)
    return config, tmp_path / "crio" / "crio.conf.d" / "90-spo-seccomp-default.conf"


def test_present_idempotent_check_mode_and_absent(tmp_path, files):
    config, dropin = files
    check = _run(tmp_path, "check", "--check", "--diff")
    assert check.returncode == 0, check.stdout + check.stderr
    assert _changed(check) == 2 and "+seccompDefault: true" in check.stdout
    assert config.read_text() == KUBELET_CONFIG and not dropin.exists()  # check mode wrote nothing

    present = _run(tmp_path, "present")
    assert present.returncode == 0, present.stdout + present.stderr
    assert _changed(present) == 2
    text = config.read_text()
    assert text == KUBELET_CONFIG + "seccompDefault: true\n"  # comments and layout kept
    assert yaml.safe_load(text)["seccompDefault"] is True
    assert oct(os.stat(str(config)).st_mode & 0o777) == "0o600"  # mode kept
    assert "seccomp_use_default_when_empty = true" in dropin.read_text()
    assert "[crio.runtime]" in dropin.read_text()
    # the handlers ran: no systemd unit here (or no systemd at all), so they say a restart is needed
    assert "RUNNING HANDLER [" in present.stdout
    if not os.path.isdir("/run/systemd/system"):
        said = " ".join(present.stdout.split())  # the callback wraps long messages
        assert "restart the kubelet yourself" in said and "restart CRI-O yourself" in said

    again = _run(tmp_path, "again")
    assert again.returncode == 0 and _changed(again) == 0, again.stdout
    assert "RUNNING HANDLER" not in again.stdout

    absent = _run(tmp_path, "absent", seccomp_default_state="absent")
    assert absent.returncode == 0, absent.stdout + absent.stderr
    assert _changed(absent) == 2
    assert config.read_text() == KUBELET_CONFIG and not dropin.exists()
    assert _changed(_run(tmp_path, "absent-again", seccomp_default_state="absent")) == 0


def test_existing_false_is_replaced_in_place(tmp_path, files):
    config, _dropin = files
    config.write_text(KUBELET_CONFIG.replace("cgroupDriver", "seccompDefault: false\ncgroupDriver"))
    proc = _run(tmp_path, "flip", seccomp_default_crio="false")
    assert proc.returncode == 0 and _changed(proc) == 1, proc.stdout
    assert config.read_text() == KUBELET_CONFIG.replace("cgroupDriver", "seccompDefault: true\ncgroupDriver")


def test_crio_auto_skips_hosts_without_crio(tmp_path, files):
    config, dropin = files
    proc = _run(tmp_path, "nocrio", seccomp_default_crio_dropin_dir=str(tmp_path / "nocrio" / "crio.conf.d"))
    assert proc.returncode == 0 and _changed(proc) == 1, proc.stdout
    assert not (tmp_path / "nocrio").exists() and not dropin.exists()
    assert yaml.safe_load(config.read_text())["seccompDefault"] is True


def test_json_config_is_rewritten_as_json(tmp_path, files):
    config, _dropin = files
    config.write_text('{"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", '
                      '"maxPods": 50}\n')
    proc = _run(tmp_path, "json", seccomp_default_crio="false")
    assert proc.returncode == 0, proc.stdout
    import json
    assert json.loads(config.read_text()) == {"apiVersion": "kubelet.config.k8s.io/v1beta1",
                                              "kind": "KubeletConfiguration", "maxPods": 50, "seccompDefault": True}


def test_bad_files_are_refused_by_name(tmp_path, files):
    config, _dropin = files
    config.write_text("apiVersion: v1\nkind: Pod\n")
    proc = _run(tmp_path, "bad", seccomp_default_crio="false")
    assert proc.returncode != 0
    assert "%s: kind: must be 'KubeletConfiguration', got 'Pod'" % config in " ".join(proc.stdout.split())
    missing = _run(tmp_path, "missing", seccomp_default_crio="false",
                   seccomp_default_kubelet_config=str(tmp_path / "none.yaml"))
    assert missing.returncode != 0 and "none.yaml: does not exist" in " ".join(missing.stdout.split())
    created = _run(tmp_path, "create", seccomp_default_crio="false", seccomp_default_kubelet_config_create=True,
                   seccomp_default_kubelet_config=str(tmp_path / "new.yaml"))
    assert created.returncode == 0, created.stdout
    assert yaml.safe_load((tmp_path / "new.yaml").read_text()) == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "seccompDefault": True}


def test_a_bad_crio_setting_fails_naming_the_variable_and_changes_nothing(tmp_path, files):
    config, dropin = files
    proc = _run(tmp_path, "bad", seccomp_default_crio="sometimes")
    assert proc.returncode != 0
    assert "seccomp_default_crio: must be true, false or auto, not 'sometimes'" in proc.stdout + proc.stderr
    assert config.read_text() == KUBELET_CONFIG and not dropin.exists()
