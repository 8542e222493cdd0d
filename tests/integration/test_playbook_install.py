# -*- coding: utf-8 -*-
"""playbooks/install_profiles.yml and playbooks/demo.yml run by the real ansible-playbook."""
from __future__ import annotations

import glob
import json
import os
import re
import shutil

import yaml

from conftest import ROOT, ansible_playbook, require_root, require_tools

SHIPPED = os.path.join(ROOT, "profiles", "seccomp")


def recap(proc):
    """(ok, changed, failed) of localhost from the PLAY RECAP."""
    match = re.search(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout, re.M)
    assert match, proc.stdout + proc.stderr
    return tuple(int(x) for x in match.groups())


def shipped_localhost_profiles():
    names = set()
    for path in glob.glob(os.path.join(SHIPPED, "*.yaml")) + glob.glob(os.path.join(SHIPPED, "*.yml")):
        with open(path) as handle:
            for doc in yaml.safe_load_all(handle):
                if doc and doc.get("kind") == "SeccompProfile":
                    meta = doc["metadata"]
                    names.add("operator/%s/%s.json" % (meta["namespace"], meta["name"]))
    return names


def changed_tasks(proc):
    """Names of the tasks the default callback reported as changed."""
    names, task = [], None
    for line in proc.stdout.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):line.rindex("]")]
        elif line.startswith("changed:"):
            names.append(task)
    return names


def recorded_names(path):
    with open(path) as handle:
        return set(yaml.safe_load(handle)["spec"]["syscalls"][0]["names"])


def installed(kubelet):
    root = os.path.join(str(kubelet), "seccomp")
    return {os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "operator", "*", "*.json"))}


def test_install_profiles_check_mode_then_install_then_idempotent(tmp_path):
    kubelet = tmp_path / "kubelet"
    expected = shipped_localhost_profiles()
    assert len(expected) >= 4

    check = ansible_playbook("playbooks/install_profiles.yml", "--check", "-e", "kubelet_dir=%s" % kubelet)
    assert check.returncode == 0, check.stdout + check.stderr
    assert recap(check)[1] == 1                 # would change ...
    assert not kubelet.exists()                 # ... but wrote nothing

    first = ansible_playbook("playbooks/install_profiles.yml", "-e", "kubelet_dir=%s" % kubelet,
                             "-e", "target_hosts=localhost")
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first)[1:] == (1, 0)
    assert installed(kubelet) == expected
    # the shipped seed profile keeps names of other architectures: said when it is written ...
    assert "not defined on" in first.stdout + first.stderr
    for name in expected:
        assert name in first.stdout            # the summary names each localhostProfile
        with open(os.path.join(str(kubelet), "seccomp", name)) as handle:
            assert json.load(handle)["defaultAction"].startswith("SCMP_ACT_")
    before = {name: os.stat(os.path.join(str(kubelet), "seccomp", name)).st_mtime_ns for name in expected}

    second = ansible_playbook("playbooks/install_profiles.yml", "-e", "kubelet_dir=%s" % kubelet)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second)[1:] == (0, 0)
    # ... and not again on every later run (it stays in profiles[].warnings)
    assert "not defined on" not in second.stdout + second.stderr
    assert {name: os.stat(os.path.join(str(kubelet), "seccomp", name)).st_mtime_ns for name in expected} == before


def test_install_profiles_from_another_directory(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "mine.yaml").write_text(yaml.safe_dump({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
        "metadata": {"name": "mine", "namespace": "team-a"},
        "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read"]}]},
    }))
    (profiles / "notes.txt").write_text("not a profile")
    kubelet = tmp_path / "kubelet"
    proc = ansible_playbook("playbooks/install_profiles.yml", "-e", "kubelet_dir=%s" % kubelet,
                            "-e", "profiles_dir=%s" % profiles)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert installed(kubelet) == {"operator/team-a/mine.json"}


def test_demo_shows_the_denial_and_reruns_cleanly(fresh_boot, tmp_path):
    """`make demo` on a freshly booted host (auditing off, no auditd), as a new user runs it first."""
    require_root()
    require_tools("runc", "busybox")
    args = ("playbooks/demo.yml", "-e", "kubelet_dir=%s" % (tmp_path / "kubelet"), "-e", "demo_dir=%s" % tmp_path)
    # one line per message (the YAML result format of ansible.cfg folds long lines)
    env = {"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
    first = ansible_playbook(*args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "unshare: unshare(0x20000): Operation not permitted" in out
    assert re.search(r"allowed .*rc=0: hello from the container .*written", out)
    assert re.search(r"control .*rc=0: both succeeded", out)
    # the shipped profiles, plus what the recording step of the demo installs
    assert shipped_localhost_profiles() <= installed(tmp_path / "kubelet")

    recorded = tmp_path / "demo-recorded.yaml"
    before = recorded_names(recorded)
    kubelet_files = {p: p.read_bytes() for p in (tmp_path / "kubelet").rglob("*.json")}
    second = ansible_playbook(*args, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Operation not permitted" in second.stdout
    if shutil.which("semodule"):  # the SELinux step says what it did, not what it would have done
        assert "transaction(s)" not in second.stdout and "nothing to install this run" in second.stdout
    after = recorded_names(recorded)
    if after == before:
        assert recap(second)[1:] == (0, 0)
    else:
        # The recording merges into its output, and runc's Go start-up in the container now and
        # then makes a call it did not make before (futex): the recording truthfully reports it.
        # Only then may the record task change, only by adding calls the runc base profile the
        # recording names already allows, so the profile enforced is unchanged.
        assert changed_tasks(second) == ["Record the workload"], second.stdout
        assert recap(second)[1:] == (1, 0)
        assert before < after
        with open(os.path.join(SHIPPED, "runc-recorded-v1.1.5.yaml")) as handle:
            base = yaml.safe_load(handle)
        assert after - before <= {name for rule in base["spec"]["syscalls"] for name in rule["names"]}
    assert {p: p.read_bytes() for p in (tmp_path / "kubelet").rglob("*.json")} == kubelet_files


def test_install_profiles_relative_dir_is_taken_from_the_working_directory(tmp_path):
    """`-e profiles_dir=profiles/seccomp` run from the repository root, as the README's users do."""
    kubelet = tmp_path / "kubelet"
    proc = ansible_playbook("playbooks/install_profiles.yml", "-e", "kubelet_dir=%s" % kubelet,
                            "-e", "profiles_dir=profiles/seccomp")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert installed(kubelet) == shipped_localhost_profiles()
