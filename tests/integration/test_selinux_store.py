# -*- coding: utf-8 -*-
"""selinux_policy module against the real policy store (semodule) — sesearch proves the rules.

Store rebuilds cost seconds each, so the scenario is one ordered test with
few transactions: bad input (no change) -> install all in one batch -> second
run (no rebuild) -> check-mode removal -> removal; the store is restored.
"""
from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from conftest import ansible_playbook, require_root, require_tools

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates

API = "security-profiles-operator.x-k8s.io/v1alpha2"
POLICY = "/etc/selinux/default/policy/policy.33"
SYSTEM_MODULES = ["spo_system_templates", "spo_container_compat"]

ERRORLOGGER = {
    "apiVersion": API, "kind": "SelinuxProfile",
    "metadata": {"name": "errorlogger", "namespace": "my-namespace"},
    "spec": {"inherit": [{"name": "container"}], "allow": {"var_log_t": {
        "dir": ["open", "read", "getattr", "lock", "search", "ioctl", "add_name", "remove_name", "write"],
        "file": ["getattr", "read", "write", "append", "ioctl", "lock", "map", "open", "create"],
        "sock_file": ["getattr", "read", "write", "append", "open"]}}},
}
CHILD = {
    "apiVersion": API, "kind": "SelinuxProfile", "metadata": {"name": "child", "namespace": "my-namespace"},
    "spec": {"inherit": [{"kind": "SelinuxProfile", "name": "errorlogger"}, {"name": "net_container"}],
             "allow": {"etc_t": {"file": ["read", "open"]}}},
}
EVERY = {
    "apiVersion": API, "kind": "SelinuxProfile", "metadata": {"name": "every-template", "namespace": "my-namespace"},
    "spec": {"inherit": [{"name": n} for n in selinux_templates.TEMPLATE_NAMES], "permissive": True},
}
RAW = {
    "apiVersion": API, "kind": "RawSelinuxProfile", "metadata": {"name": "rawone", "namespace": "my-namespace"},
    "spec": {"policy": "(blockinherit container)\n(allow process tmp_t (file (read open getattr)))\n"},
}
PROFILES = [CHILD, ERRORLOGGER, EVERY, RAW]
TEMPLATES = list(selinux_templates.TEMPLATE_NAMES)
POLICIES = ["errorlogger_my-namespace", "child_my-namespace", "every-template_my-namespace", "rawone_my-namespace"]


def modules():
    out = subprocess.run(["semodule", "-l"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def policy_hash():
    with open(POLICY, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def sesearch(source, target, cls="file"):
    proc = subprocess.run(["sesearch", "-A", "-s", source, "-t", target, "-c", cls, POLICY],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def play(tmp_path, definition, state="present", check=False, name="play"):
    varsfile = tmp_path / (name + "-vars.json")
    varsfile.write_text(json.dumps({"profiles": definition, "wanted": state, "systems": TEMPLATES}))
    book = tmp_path / (name + ".yml")
    book.write_text("""\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: SELinux profiles
      spo.security_profiles.selinux_policy:
        definition: "{{ profiles }}"
        state: "{{ wanted }}"
        allowed_system_profiles: "{{ systems }}"
      register: out
    - name: Result
      check_mode: false
      ansible.builtin.copy:
        content: "{{ out | to_json }}"
        dest: %s
        mode: "0600"
""" % (tmp_path / (name + "-out.json")))
    args = [str(book), "-e", "@%s" % varsfile] + (["--check"] if check else [])
    proc = ansible_playbook(*args)
    out = tmp_path / (name + "-out.json")
    return proc, (json.loads(out.read_text()) if out.exists() and proc.returncode == 0 else None)


@pytest.fixture
def clean_store():
    require_root()
    require_tools("semodule", "sesearch")
    # Start from a store without this project's modules (an earlier `make demo`
    # keeps errorlogger and the System templates installed), so the test sees
    # them arrive with the first profile that needs them.
    present = [m for m in POLICIES + SYSTEM_MODULES if m in modules()]
    if present:
        subprocess.run(["semodule", "-n"] + [a for m in present for a in ("-r", m)], check=True, capture_output=True)
    before = modules()
    yield before
    leftovers = [m for m in POLICIES + SYSTEM_MODULES if m in modules() and m not in before]
    if leftovers:
        subprocess.run(["semodule", "-n"] + [a for m in leftovers for a in ("-r", m)], check=False)


def test_module_installs_batches_is_idempotent_and_removes(tmp_path, clean_store):
    base_modules, base_hash = clean_store, policy_hash()

    # -- bad input: validation errors name object and field; store untouched
    denied = json.loads(json.dumps(ERRORLOGGER))
    denied["spec"]["allow"]["shadow_t"] = {"file": ["read"]}
    proc = play(tmp_path, [denied], name="denied")[0]
    assert proc.returncode != 0
    assert "SelinuxProfile my-namespace/errorlogger: spec.allow.shadow_t: type shadow_t is not allowed" in proc.stdout
    injected = json.loads(json.dumps(ERRORLOGGER))
    injected["spec"]["allow"] = {"var_log_t": {"file": ["read)) (allow process shadow_t (file (read"]}}
    proc = play(tmp_path, [injected], name="injected")[0]
    assert proc.returncode != 0 and "spec.allow.var_log_t.file[0]" in proc.stdout
    # passes validation but the compiler refuses it (unknown type): atomic, names the profile
    unknown = json.loads(json.dumps(ERRORLOGGER))
    unknown["spec"]["allow"] = {"no_such_type_t": {"file": ["read"]}}
    proc = play(tmp_path, [unknown, RAW], name="unknown")[0]
    assert proc.returncode != 0
    assert "SelinuxProfile my-namespace/errorlogger" in proc.stdout and "nothing was installed" in proc.stdout
    assert modules() == base_modules and policy_hash() == base_hash

    # -- install everything: one transaction
    proc, out = play(tmp_path, PROFILES, name="install")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["changed"] is True and out["transactions"] == 1
    assert sorted(out["system_modules"]) == sorted(SYSTEM_MODULES)
    usages = {p["policy"]: p["usage"] for p in out["policies"]}
    assert usages["errorlogger_my-namespace"] == "errorlogger_my-namespace.process"
    assert [p["policy"] for p in out["policies"]].index("errorlogger_my-namespace") < \
        [p["policy"] for p in out["policies"]].index("child_my-namespace")
    assert set(POLICIES) <= set(modules())
    rules = sesearch("errorlogger_my-namespace.process", "var_log_t")
    assert "allow errorlogger_my-namespace.process var_log_t:file" in rules and " write" in rules
    assert "shadow_t" not in sesearch("errorlogger_my-namespace.process", "shadow_t")
    assert sesearch("errorlogger_my-namespace.process", "shadow_t").strip() == ""
    # inheritance of another SelinuxProfile: the parent's rules, plus its own and net_container's
    child_rules = sesearch("child_my-namespace.process", "var_log_t")
    assert "allow child_my-namespace.process var_log_t:file" in child_rules and " write" in child_rules
    assert "child_my-namespace.process etc_t:file" in sesearch("child_my-namespace.process", "etc_t")
    assert "name_connect" in sesearch("child_my-namespace.process", "unreserved_port_t", "tcp_socket")
    assert "rawone_my-namespace.process tmp_t:file" in sesearch("rawone_my-namespace.process", "tmp_t")
    assert "kvm_device_t:chr_file" in sesearch("every-template_my-namespace.process", "kvm_device_t", "chr_file")
    # udica's meanings: log_container reads logs, log_rw_container writes them; tmp_rw_container writes tmp files
    assert " write" in sesearch("every-template_my-namespace.process", "var_log_t")
    assert "http_port_t:tcp_socket name_connect" in sesearch("every-template_my-namespace.process", "http_port_t",
                                                             "tcp_socket")
    installed_hash = policy_hash()

    # -- second run: nothing changes, nothing is rebuilt
    proc, out = play(tmp_path, PROFILES, name="again")
    assert proc.returncode == 0 and out["changed"] is False and out["transactions"] == 0
    assert {p["state"] for p in out["policies"]} == {"unchanged"}
    assert policy_hash() == installed_hash

    # -- check mode removal predicts, changes nothing
    proc, out = play(tmp_path, PROFILES, state="absent", check=True, name="checkabsent")
    assert proc.returncode == 0 and out["changed"] is True and out["transactions"] == 0
    assert set(POLICIES) <= set(modules())

    # -- remove: gone from the store and from the binary policy
    proc, out = play(tmp_path, PROFILES, state="absent", name="absent")
    assert proc.returncode == 0 and out["changed"] is True and out["transactions"] == 1
    assert not set(POLICIES) & set(modules())
    seinfo = subprocess.run(["seinfo", POLICY, "-t", "errorlogger_my-namespace.process"],
                            capture_output=True, text=True, check=True).stdout
    assert "Types: 0" in seinfo, seinfo
    proc, out = play(tmp_path, PROFILES, state="absent", name="absent2")
    assert proc.returncode == 0 and out["changed"] is False

    # -- spec.disabled: validated, not installed; an installed profile that becomes disabled is removed
    proc, out = play(tmp_path, [ERRORLOGGER], name="enabled")
    assert proc.returncode == 0 and out["changed"] is True and "errorlogger_my-namespace" in modules()
    disabled = json.loads(json.dumps(ERRORLOGGER))
    disabled["spec"]["disabled"] = True
    proc, out = play(tmp_path, [disabled], name="disabled")
    assert proc.returncode == 0 and out["changed"] is True, proc.stdout
    assert out["policies"][0]["state"] == "removed" and out["transactions"] == 1
    assert "errorlogger_my-namespace" not in modules()
    proc, out = play(tmp_path, [disabled], name="disabled2")
    assert proc.returncode == 0 and out["changed"] is False and out["policies"][0]["state"] == "disabled"
    assert "errorlogger_my-namespace" not in modules()
