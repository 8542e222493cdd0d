# -*- coding: utf-8 -*-
"""spo.security_profiles.seccomp_profile through ansible-playbook: files, idempotence, check/diff, bad input, kill."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from conftest import ROOT, VENV_BIN, ansible_playbook
from seccomp_objects import API, allow, profile

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp

SHIPPED_DIR = os.path.join(ROOT, "profiles", "seccomp")

PLAYBOOK = """\
- name: Run seccomp_profile once per case
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Install
      spo.security_profiles.seccomp_profile:
        definition: "{{ item.definition | default(omit) }}"
        src: "{{ item.src | default(omit) }}"
        state: "{{ item.state | default(omit) }}"
        kubelet_dir: "{{ kubelet_dir }}"
      check_mode: "{{ item.check | default(false) }}"
      diff: "{{ item.diff | default(false) }}"
      loop: "{{ cases }}"
      register: results
      ignore_errors: true
    - name: Save the results
      ansible.builtin.copy:
        content: "{{ results.results | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def run_cases(tmp_path, kubelet_dir, cases):
    """Run the module once per case in one ansible-playbook; return each case's result."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    variables = tmp_path / "vars.json"
    out = tmp_path / "out.json"
    variables.write_text(json.dumps({"cases": cases, "kubelet_dir": str(kubelet_dir), "out": str(out)}))
    proc = ansible_playbook(str(playbook), "-e", "@" + str(variables))
    assert out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text())


def tree(directory):
    """{relative path: bytes} of every file below ``directory``."""
    found = {}
    for root, _dirs, files in os.walk(str(directory)):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, str(directory))] = handle.read()
    return found


def test_install_idempotence_check_diff_absent_disabled(tmp_path):
    kubelet = tmp_path / "kubelet"
    shipped = [yaml.safe_load(open(os.path.join(SHIPPED_DIR, name))) for name in sorted(os.listdir(SHIPPED_DIR)) if name.endswith(".yaml")]
    child = profile("child", baseProfileName="runc-v1.1.5", syscalls=[allow("nanosleep")])
    cases = [
        {"src": SHIPPED_DIR, "check": True, "diff": True},  # 0: check mode writes nothing
        {"src": SHIPPED_DIR, "diff": True},                 # 1: install
        {"src": SHIPPED_DIR, "diff": True},                 # 2: again: unchanged
        {"definition": [child], "diff": True},              # 3: shipped base from another namespace
        {"definition": dict(child, spec=dict(child["spec"], disabled=True))},  # 4: disabled removes
        {"definition": [child]},                            # 5
        {"definition": {"apiVersion": API, "kind": "SeccompProfile", "metadata": {"name": "child", "namespace": "ns"}},
         "state": "absent", "check": True},                 # 6: absent in check mode
        {"definition": {"apiVersion": API, "kind": "SeccompProfile", "metadata": {"name": "child", "namespace": "ns"}},
         "state": "absent"},                                # 7: absent
    ]
    results = run_cases(tmp_path, kubelet, cases)
    assert [r.get("failed", False) for r in results] == [False] * len(cases), results
    assert [r["changed"] for r in results] == [True, True, False, True, True, True, True, True]

    check, first, second = results[0], results[1], results[2]
    assert len(check["diff"]) == len(shipped) and all(d["before"] == "" for d in check["diff"])
    assert {d["after"] for d in check["diff"]} == {d["after"] for d in first["diff"]}
    assert second["diff"] == []
    root = kubelet / "seccomp" / "operator"
    expected = {c.profile.name: c.data for c in seccomp.compile_profiles(shipped)}
    for entry in first["profiles"]:
        name, namespace = entry["name"], entry["namespace"]
        assert entry["localhost_profile"] == "operator/%s/%s.json" % (namespace, name)
        assert entry["path"] == str(root / namespace / (name + ".json"))
        assert entry["state"] == "installed" and entry["changed"] is True
        with open(entry["path"], "rb") as handle:
            assert handle.read() == expected[name]
    seed = [e for e in first["profiles"] if e["name"] == "profile-complain-block-high-risk"][0]
    assert "vm86old" in seed["warnings"][0]
    assert all(not e["changed"] for e in second["profiles"])

    assert results[3]["profiles"][0]["state"] == "installed"
    child_json = json.loads(results[3]["diff"][0]["after"])
    assert "execve" in child_json["syscalls"][0]["names"] and "nanosleep" in child_json["syscalls"][0]["names"]
    assert results[4]["profiles"][0]["state"] == "disabled" and results[4]["profiles"][0]["changed"]
    assert results[6]["profiles"][0]["state"] == "absent"
    assert not (root / "ns" / "child.json").exists()
    assert sorted(tree(root)) == sorted("security-profiles-operator/%s.json" % n for n in expected)


BAD_CASES = [
    ("unknown-syscall", profile("bad", syscalls=[allow("read", "opne")]), "SeccompProfile ns/bad: spec.syscalls[0].names[1]"),
    ("unknown-action", profile("bad", syscalls=[{"action": "SCMP_ACT_NOPE", "names": ["read"]}]),
     "SeccompProfile ns/bad: spec.syscalls[0].action"),
    ("unknown-arch", profile("bad", architectures=["SCMP_ARCH_Z80"]), "SeccompProfile ns/bad: spec.architectures[0]"),
    ("name-traversal", profile("../../etc"), "SeccompProfile ns/../../etc: metadata.name"),
    ("name-slash", profile("a/b"), "SeccompProfile ns/a/b: metadata.name"),
    ("name-empty", profile(""), "SeccompProfile ns/?: metadata.name"),
    ("namespace-traversal", profile("bad", namespace="../../etc"), "SeccompProfile ../../etc/bad: metadata.namespace"),
    ("namespace-slash", profile("bad", namespace="a/b"), "SeccompProfile a/b/bad: metadata.namespace"),
    ("base-missing", profile("bad", baseProfileName="nope"), "SeccompProfile ns/bad: spec.baseProfileName"),
    ("base-cyclic", [profile("bad", baseProfileName="bad2"), profile("bad2", baseProfileName="bad")],
     "SeccompProfile ns/bad: spec.baseProfileName: baseProfileName cycle: ns/bad -> ns/bad2 -> ns/bad"),
    ("seven-args", profile("bad", syscalls=[allow("read", args=[{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}] * 7)]),
     "SeccompProfile ns/bad: spec.syscalls[0].args"),
    ("arg-index-6", profile("bad", syscalls=[allow("read", args=[{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}])]),
     "SeccompProfile ns/bad: spec.syscalls[0].args[0].index"),
    ("oversize", profile("bad", syscalls=[allow(*(["read"] * 20000))]), "SeccompProfile ns/bad: spec.syscalls: too many"),
]


def test_bad_input_fails_naming_profile_and_field_and_touches_nothing(tmp_path):
    kubelet = tmp_path / "kubelet"
    keep = profile("keep", syscalls=[allow("read")])
    changed_keep = profile("keep", syscalls=[allow("write")])
    fresh = profile("fresh", syscalls=[allow("read")])
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("apiVersion: %s\nkind: SeccompProfile\nmetadata: {name: x\nspec: [\n" % API)
    cases = [{"definition": [keep]}]
    for _name, bad, _msg in BAD_CASES:
        cases.append({"definition": [changed_keep, fresh] + (bad if isinstance(bad, list) else [bad])})
    cases.append({"src": str(bad_yaml)})
    results = run_cases(tmp_path, kubelet, cases)
    assert results[0].get("failed") is not True and results[0]["changed"]
    for (name, _bad, message), result in zip(BAD_CASES, results[1:]):
        assert result.get("failed") is True, name
        assert result["msg"].startswith(message), (name, result["msg"])
    assert results[-1].get("failed") is True
    assert "src %s: malformed YAML" % bad_yaml in results[-1]["msg"] and "line" in results[-1]["msg"]
    # Only the first (good) call wrote anything, and that file is byte-for-byte what it wrote.
    files = tree(kubelet)
    assert list(files) == ["seccomp/operator/ns/keep.json"]
    assert files["seccomp/operator/ns/keep.json"] == seccomp.compile_profiles([keep])[0].data


def _module_pids(parent):
    """Pids of the seccomp_profile module processes below ``parent``."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                cmdline = handle.read()
        except (IOError, OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append((int(entry), cmdline))
    found, stack = [], [parent]
    while stack:
        for pid, cmdline in children.get(stack.pop(), []):
            stack.append(pid)
            if b"AnsiballZ_seccomp_profile" in cmdline:
                found.append(pid)
    return found


@pytest.mark.parametrize("kill_after_files", [1, 300], ids=["first-file", "mid-batch"])
def test_sigkill_mid_run_leaves_no_partial_file(tmp_path, kill_after_files):
    count = 1200
    kubelet = tmp_path / "kubelet"
    directory = kubelet / "seccomp" / "operator" / "ns"
    old_docs = [profile("p%04d" % i, syscalls=[allow("read")]) for i in range(0, count, 2)]
    new_docs = [profile("p%04d" % i, syscalls=[allow("read", "write"), {"action": "SCMP_ACT_ERRNO", "errnoRet": i % 4000 + 1, "names": ["mount"]}])
                for i in range(count)]
    old = {c.profile.name: c.data for c in seccomp.compile_profiles(old_docs)}
    new = {c.profile.name: c.data for c in seccomp.compile_profiles(new_docs)}
    directory.mkdir(parents=True)
    for name, data in old.items():
        (directory / (name + ".json")).write_bytes(data)
    src = tmp_path / "batch.yaml"
    src.write_text(yaml.dump_all(new_docs, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)))
    playbook = tmp_path / "play.yml"
    playbook.write_text("- name: Big batch\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
                        "    - name: Install\n      spo.security_profiles.seccomp_profile:\n"
                        "        src: %s\n        kubelet_dir: %s\n" % (src, kubelet))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    proc = subprocess.Popen([os.path.join(VENV_BIN, "ansible-playbook"), str(playbook)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed = False
    deadline = time.time() + 60
    try:
        while proc.poll() is None and time.time() < deadline:
            written = sum(1 for entry in os.listdir(str(directory)) if entry.endswith(".json")) - len(old)
            if written >= kill_after_files:
                for pid in _module_pids(proc.pid):
                    os.kill(pid, signal.SIGKILL)
                    killed = True
                if killed:
                    break
            time.sleep(0.002)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert killed, "the module finished before it could be killed: make the batch bigger"
    states = {"absent": 0, "old": 0, "new": 0}
    for name, data in new.items():
        path = directory / (name + ".json")
        if not path.exists():
            assert name not in old
            states["absent"] += 1
            continue
        content = path.read_bytes()
        json.loads(content)
        if content == data:
            states["new"] += 1
        else:
            assert content == old.get(name), name
            states["old"] += 1
    # Killed mid-run: some files already new, some not yet written.
    assert states["new"] >= 1 and states["absent"] + states["old"] >= 1, states
    leftovers = [entry for entry in os.listdir(str(directory)) if not entry.endswith(".json")]
    assert all(entry.startswith(".") and entry.endswith(".tmp") for entry in leftovers), leftovers
