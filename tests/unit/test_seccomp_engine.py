# -*- coding: utf-8 -*-
"""The seccomp engine with the host's real libseccomp: validation, names, bases, OCI output."""
from __future__ import annotations

import copy
import glob
import json
import os

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import model as seccomp_model
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.libseccomp import native_oci_arch
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.oci import dumps
from docedit import set_at
from seccomp_objects import allow, profile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = [yaml.safe_load(open(path)) for path in sorted(glob.glob(os.path.join(ROOT, "profiles", "seccomp", "*.yaml")))]


def spec_profile():
    path = os.path.join(ROOT, "config", "samples", "security-profiles-operator.x-k8s.io_v1beta1_seccompprofile.yaml")
    with open(path) as handle:
        return yaml.safe_load(handle)


def compile_one(doc, others=(), shipped=()):
    engine = seccomp.Engine([doc] + list(others), shipped)
    return engine.compile(engine.profiles[0])


# ---- good input -------------------------------------------------------------------------------

def test_spec_profile_keeps_foreign_names_with_a_warning():
    compiled = compile_one(spec_profile())
    errno_rule = [rule for rule in compiled.oci["syscalls"] if rule["action"] == "SCMP_ACT_ERRNO"][0]
    for name in ("vm86old", "stime", "umount", "mount", "unshare", "_sysctl"):
        assert name in errno_rule["names"]
    assert len(compiled.warnings) == 1
    warning = compiled.warnings[0]
    assert warning.startswith("SeccompProfile my-namespace/profile-complain-block-high-risk: spec.syscalls:")
    for name in ("stime", "umount", "vm86", "vm86old"):
        assert name in warning
    assert " mount" not in warning and "unshare" not in warning


def test_foreign_name_is_fine_when_another_listed_arch_has_it():
    doc = profile(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], syscalls=[allow("vm86old", "read")])
    assert compile_one(doc).warnings == []


def test_no_architectures_resolves_on_the_native_one():
    native = native_oci_arch()
    compiled = compile_one(profile(syscalls=[allow("read")]))
    assert "architectures" not in compiled.oci
    assert native.startswith("SCMP_ARCH_")


@pytest.mark.parametrize("spec, expected", [
    ({"defaultAction": "SCMP_ACT_ALLOW"}, {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
      "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"action": "SCMP_ACT_ERRNO", "errnoRet": 95, "names": ["chmod", "fchmodat"]},
                   {"action": "SCMP_ACT_ALLOW", "names": ["personality"],
                    "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]},
     {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"],
      "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
                   {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]}),
], ids=["allow-all", "full"])
def test_oci_output(spec, expected):
    assert compile_one(profile(**spec)).oci == expected


def test_output_is_canonical_and_deterministic():
    one = profile(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                  syscalls=[allow("write", "read"), {"action": "SCMP_ACT_ERRNO", "names": ["mount"]}, allow("close", "read")])
    two = profile(architectures=["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                  syscalls=[{"action": "SCMP_ACT_ERRNO", "names": ["mount"]}, allow("close"), allow("read", "write", "read")])
    data = compile_one(one).data
    assert data == compile_one(two).data == compile_one(copy.deepcopy(one)).data
    assert data.endswith(b"}\n") and data.count(b"\n") == 1
    assert json.loads(data)["syscalls"][0] == {"action": "SCMP_ACT_ALLOW", "names": ["close", "read", "write"]}
    assert dumps(json.loads(data)) == data


# ---- base profiles ----------------------------------------------------------------------------

def test_base_union_keeps_what_the_base_allows():
    """Upstream's union: where the profile and its base disagree on a call, the less restrictive action stays."""
    base = profile("base", syscalls=[allow("read", "write", "mount"), {"action": "SCMP_ACT_ERRNO", "names": ["ptrace"]},
                                     {"action": "SCMP_ACT_ERRNO", "names": ["chmod"]}])
    child = profile("child", baseProfileName="base",
                    syscalls=[{"action": "SCMP_ACT_ERRNO", "errnoRet": 1, "names": ["mount"]}, allow("close", "chmod"),
                              {"action": "SCMP_ACT_ERRNO", "names": ["ptrace"]}])
    oci = compile_one(child, [base]).oci
    by_action = {(rule["action"], rule.get("errnoRet")): rule["names"] for rule in oci["syscalls"]}
    assert by_action == {("SCMP_ACT_ALLOW", None): ["chmod", "close", "mount", "read", "write"],
                         ("SCMP_ACT_ERRNO", None): ["ptrace"]}
    assert oci["defaultAction"] == "SCMP_ACT_ERRNO"


def test_base_union_keeps_unconditional_base_rules_and_every_argument_rule():
    clone_new_user = {"index": 0, "value": 0x10000000, "valueTwo": 0x10000000, "op": "SCMP_CMP_MASKED_EQ"}
    personality = [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"} for v in (0, 8)]
    base = profile("base", syscalls=[allow("clone", "read"),
                                     {"action": "SCMP_ACT_ALLOW", "names": ["personality"], "args": [personality[0]]}])
    child = profile("child", baseProfileName="base",
                    syscalls=[{"action": "SCMP_ACT_ALLOW", "names": ["clone"], "args": [clone_new_user]},
                              {"action": "SCMP_ACT_ALLOW", "names": ["personality"], "args": [personality[1]]}])
    rules = compile_one(child, [base]).oci["syscalls"]
    assert {"action": "SCMP_ACT_ALLOW", "names": ["clone", "read"]} in rules  # clone stays allowed
    assert not any("clone" in r["names"] and r.get("args") for r in rules)  # the unconditional rule decides
    persona = sorted(r["args"][0]["value"] for r in rules if r["names"] == ["personality"])
    assert persona == [0, 8]  # both argument rules


@pytest.mark.parametrize("one, two", [
    (allow("chmod", "read"), {"action": "SCMP_ACT_ERRNO", "names": ["chmod"]}),
    (allow("chmod", "read"), {"action": "SCMP_ACT_LOG", "names": ["chmod"]}),
    ({"action": "SCMP_ACT_ERRNO", "errnoRet": 95, "names": ["chmod", "read"]},
     {"action": "SCMP_ACT_ERRNO", "errnoRet": 1, "names": ["chmod"]}),
], ids=["allow-and-errno", "allow-and-log", "errno95-and-errno1"])
def test_one_syscall_under_two_unconditional_actions_is_refused_naming_both_fields(one, two):
    """runc applies whichever of the two is written first (tests/integration: test_two_actions_*): ambiguous."""
    for rules, other in (([one, two], "spec.syscalls[0].names[0]"), ([two, one], "spec.syscalls[0].names[0]")):
        with pytest.raises(SpoError) as info:
            compile_one(profile(syscalls=rules))
        assert info.value.obj == "SeccompProfile ns/p"
        assert info.value.field == "spec.syscalls[1].names[0]"
        assert "'chmod' has two unconditional actions" in info.value.message and other in info.value.message


def test_same_rule_twice_and_argument_rules_beside_an_unconditional_rule_are_fine():
    arg = [{"index": 1, "value": 0o600, "op": "SCMP_CMP_EQ"}]
    doc = profile(syscalls=[allow("chmod"), allow("chmod", "read"),
                            {"action": "SCMP_ACT_ERRNO", "names": ["chmod"], "args": arg}])
    rules = compile_one(doc).oci["syscalls"]
    assert {"action": "SCMP_ACT_ALLOW", "names": ["chmod", "read"]} in rules


def test_base_chain_and_shipped_base_from_any_namespace():
    middle = profile("middle", baseProfileName="runc-v1.1.5", syscalls=[allow("nanosleep", "clock_nanosleep")])
    child = profile("child", baseProfileName="middle", syscalls=[allow("getuid")])
    names = compile_one(child, [middle], SHIPPED).oci["syscalls"][0]["names"]
    for name in ("getuid", "clock_nanosleep", "execve", "capset"):
        assert name in names


def test_same_namespace_base_wins_over_shipped_and_other_namespace_is_not_used():
    mine = profile("runc-v1.1.5", syscalls=[allow("read")])
    child = profile("child", baseProfileName="runc-v1.1.5")
    assert compile_one(child, [mine], SHIPPED).oci["syscalls"] == [{"action": "SCMP_ACT_ALLOW", "names": ["read"]}]
    elsewhere = profile("base", namespace="other", syscalls=[allow("read")])
    with pytest.raises(SpoError) as info:
        compile_one(profile("child", baseProfileName="base"), [elsewhere])
    assert info.value.field == "spec.baseProfileName" and "not found" in info.value.message


@pytest.mark.parametrize("links, chain_text", [
    ({"a": "a"}, "ns/a -> ns/a"),
    ({"a": "b", "b": "a"}, "ns/a -> ns/b -> ns/a"),
    ({"a": "b", "b": "c", "c": "b"}, "ns/a -> ns/b -> ns/c -> ns/b"),
], ids=["self", "pair", "tail"])
def test_base_cycles(links, chain_text):
    docs = [profile(name, baseProfileName=base) for name, base in links.items()]
    with pytest.raises(SpoError) as info:
        seccomp.compile_profiles(docs)
    assert info.value.obj == "SeccompProfile ns/a" and info.value.field == "spec.baseProfileName"
    assert "cycle: " + chain_text in info.value.message


def test_base_depth_limit():
    docs = [profile("p%d" % i, baseProfileName="p%d" % (i + 1)) for i in range(12)] + [profile("p12")]
    with pytest.raises(SpoError) as info:
        seccomp.compile_profiles(docs)
    assert "deeper than 10" in info.value.message
    ok = [profile("p%d" % i, baseProfileName="p%d" % (i + 1)) for i in range(10)] + [profile("p10", syscalls=[allow("read")])]
    assert seccomp.compile_profiles(ok)[0].oci["syscalls"][0]["names"] == ["read"]


def test_bad_base_is_reported_under_its_own_name():
    base = profile("base", syscalls=[allow("opne")])
    with pytest.raises(SpoError) as info:
        compile_one(profile("child", baseProfileName="base"), [base])
    assert info.value.obj == "SeccompProfile ns/base" and info.value.field == "spec.syscalls[0].names[0]"


def test_shipped_profiles_compile():
    names = {compiled.profile.name: compiled for compiled in seccomp.compile_profiles(SHIPPED)}
    assert set(names) >= {"profile-complain-block-high-risk", "profile-allow-unsafe", "log-enricher-trace", "runc-v1.1.5"}
    assert names["profile-allow-unsafe"].oci["defaultAction"] == "SCMP_ACT_ALLOW"
    assert names["log-enricher-trace"].oci["defaultAction"] == "SCMP_ACT_LOG"
    shipped_seed = [doc for doc in SHIPPED if doc["metadata"]["name"] == "profile-complain-block-high-risk"][0]
    assert shipped_seed["spec"] == spec_profile()["spec"]


# ---- bad input --------------------------------------------------------------------------------

def _set(path, value):
    return lambda doc: set_at(doc, path, value)


def _del(path):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return doc
    return mutate


BASE_DOC = profile("good", architectures=["SCMP_ARCH_X86_64"], syscalls=[allow("read", "write")])
# 4000 rules of 6 wide comparisons each: within the rule bound, over the 1 MiB JSON bound.
BIG_RULES = [allow("read", args=[{"index": i, "value": (1 << 64) - 1 - v, "valueTwo": v, "op": "SCMP_CMP_MASKED_EQ"} for i in range(6)])
             for v in range(4000)]
SEVEN_ARGS = [{"index": i % 6, "value": 1, "op": "SCMP_CMP_EQ"} for i in range(7)]

BAD = [
    ("unknown-syscall", _set(["spec", "syscalls"], [allow("read", "opne")]), "spec.syscalls[0].names[1]", "unknown syscall 'opne'"),
    ("unknown-action", _set(["spec", "syscalls"], [{"action": "SCMP_ACT_MAYBE", "names": ["read"]}]),
     "spec.syscalls[0].action", "unknown action"),
    ("unknown-default-action", _set(["spec", "defaultAction"], "ALLOW"), "spec.defaultAction", "unknown action"),
    ("missing-default-action", _del(["spec", "defaultAction"]), "spec.defaultAction", "required"),
    ("unknown-arch", _set(["spec", "architectures"], ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]), "spec.architectures[1]",
     "unknown architecture"),
    ("unknown-flag", _set(["spec", "flags"], ["SECCOMP_FILTER_FLAG_NOPE"]), "spec.flags[0]", "unknown flag"),
    ("name-traversal", _set(["metadata", "name"], "../../etc"), "metadata.name", "DNS-1123"),
    ("name-slash", _set(["metadata", "name"], "a/b"), "metadata.name", "DNS-1123"),
    ("name-empty", _set(["metadata", "name"], ""), "metadata.name", "non-empty"),
    ("namespace-traversal", _set(["metadata", "namespace"], "../../etc"), "metadata.namespace", "DNS-1123"),
    ("namespace-slash", _set(["metadata", "namespace"], "a/b"), "metadata.namespace", "DNS-1123"),
    ("namespace-dot", _set(["metadata", "namespace"], "a.b"), "metadata.namespace", "DNS-1123"),
    ("seven-args", _set(["spec", "syscalls"], [allow("read", args=SEVEN_ARGS)]), "spec.syscalls[0].args", "at most 6"),
    ("arg-index-6", _set(["spec", "syscalls"], [allow("read", args=[{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}])]),
     "spec.syscalls[0].args[0].index", "between 0 and 5"),
    ("arg-op", _set(["spec", "syscalls"], [allow("read", args=[{"index": 0, "value": 1, "op": "EQ"}])]),
     "spec.syscalls[0].args[0].op", "unknown operator"),
    ("arg-value-negative", _set(["spec", "syscalls"], [allow("read", args=[{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}])]),
     "spec.syscalls[0].args[0].value", "between 0 and"),
    ("errnoret-on-allow-negative", _set(["spec", "syscalls"], [allow("read", errnoRet=-1)]), "spec.syscalls[0].errnoRet",
     "between 0 and"),
    ("errnoret-too-big", _set(["spec", "syscalls"], [{"action": "SCMP_ACT_ERRNO", "errnoRet": 5000, "names": ["read"]}]),
     "spec.syscalls[0].errnoRet", "between 0 and 4095"),
    ("errnoret-string", _set(["spec", "syscalls"], [{"action": "SCMP_ACT_ERRNO", "errnoRet": "1", "names": ["read"]}]),
     "spec.syscalls[0].errnoRet", "integer"),
    ("names-empty", _set(["spec", "syscalls"], [allow()]), "spec.syscalls[0].names", "at least one"),
    ("names-not-list", _set(["spec", "syscalls"], [{"action": "SCMP_ACT_ALLOW", "names": "read"}]), "spec.syscalls[0].names", "list"),
    ("unknown-spec-field", _set(["spec", "defaultaction"], "SCMP_ACT_LOG"), "spec", "unknown field(s) defaultaction"),
    ("unknown-rule-field", _set(["spec", "syscalls"], [allow("read", name="x")]), "spec.syscalls[0]", "unknown field(s) name"),
    ("unknown-top-field", _set(["data"], {}), None, "unknown field(s) data"),
    ("base-bad-name", _set(["spec", "baseProfileName"], "../x"), "spec.baseProfileName", "DNS-1123"),
    ("base-missing", _set(["spec", "baseProfileName"], "nope"), "spec.baseProfileName", "'nope' not found"),
    ("disabled-not-bool", _set(["spec", "disabled"], "yes"), "spec.disabled", "boolean"),
    ("wrong-kind", _set(["kind"], "SelinuxProfile"), "kind", "kind must be"),
    ("wrong-api", _set(["apiVersion"], "security-profiles-operator.x-k8s.io/v1alpha1"), "apiVersion", "apiVersion must be"),
    ("oversize-names", _set(["spec", "syscalls"], [allow(*(["read"] * (seccomp_model.MAX_NAMES + 1)))]), "spec.syscalls",
     "too many syscall names"),
    ("oversize-rules", _set(["spec", "syscalls"], [allow("read")] * (seccomp_model.MAX_RULES + 1)), "spec.syscalls", "too many rules"),
    ("oversize-json", _set(["spec", "syscalls"], BIG_RULES), "spec.syscalls", "bytes (limit"),
]


@pytest.mark.parametrize("mutate, field, message", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input(mutate, field, message):
    doc = mutate(copy.deepcopy(BASE_DOC))
    with pytest.raises(SpoError) as info:
        seccomp.compile_profiles([doc], SHIPPED)
    error = info.value
    assert error.obj and error.obj.startswith(("SeccompProfile ", "SelinuxProfile ")), str(error)
    assert message in error.message, str(error)
    if field is not None:
        assert error.field == field, str(error)
    assert str(error).startswith(error.obj)


def test_not_a_mapping_and_duplicates():
    with pytest.raises(SpoError) as info:
        seccomp.compile_profiles([BASE_DOC, "text"])
    assert info.value.obj == "definition[1]"
    with pytest.raises(SpoError) as info:
        seccomp.compile_profiles([BASE_DOC, copy.deepcopy(BASE_DOC)])
    assert "defined twice" in info.value.message and info.value.obj == "SeccompProfile ns/good"


def test_valid_batch_is_still_refused_when_one_is_bad():
    bad = profile("bad", syscalls=[allow("opne")])
    with pytest.raises(SpoError) as info:
        seccomp.compile_profiles([BASE_DOC, bad])
    assert info.value.obj == "SeccompProfile ns/bad"


# upstream's examples/baseprofile-runc.yaml at kubernetes-sigs/security-profiles-operator 35ebdda90 (runc-v1.1.5)
UPSTREAM_RUNC_V1_1_5 = """arch_prctl brk capget capset chdir clone close dup3 epoll_create1 epoll_ctl epoll_pwait execve exit_group
faccessat2 fchdir fchmodat fchownat fcntl fstat fstatfs futex getdents64 getpid getppid gettid getuid keyctl mkdirat
mknodat mmap mount mprotect munmap nanosleep newfstatat openat openat2 pipe2 pivot_root prctl pread64 read readlinkat
rt_sigaction rt_sigprocmask rt_sigreturn sched_getaffinity sched_yield seccomp set_robust_list set_tid_address setgid
setgroups sethostname setsid setuid sigaltstack statfs symlinkat tgkill umask umount2 unlinkat unshare utimensat
write""".split()


def test_upstream_named_base_profiles_have_upstream_content():
    by_name = {doc["metadata"]["name"]: doc for doc in SHIPPED}
    runc = by_name["runc-v1.1.5"]["spec"]
    assert runc["syscalls"] == [{"action": "SCMP_ACT_ALLOW", "names": UPSTREAM_RUNC_V1_1_5}]
    assert runc["architectures"] == ["SCMP_ARCH_X86_64"] and runc["defaultAction"] == "SCMP_ACT_ERRNO"
    assert {"runc-v1.4.2", "crun-v1.8.3", "crun-v1.26", "runc-recorded-v1.1.5"} <= set(by_name)
    for name in by_name:
        if name.startswith(("runc-v", "crun-v")):
            path = os.path.join(ROOT, "profiles", "seccomp", name + ".yaml")
            assert "kubernetes-sigs/security-profiles-operator" in open(path).read(), path


def test_a_name_ending_in_json_is_its_file_name(tmp_path):
    """Upstream writes a profile named p1.json as p1.json (not p1.json.json)."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import install as seccomp_install
    result = seccomp_install.install([profile("p1.json", syscalls=[allow("read")]), profile("p2", syscalls=[allow("read")])],
                                     str(tmp_path))
    assert [p["localhost_profile"] for p in result["profiles"]] == ["operator/ns/p1.json", "operator/ns/p2.json"]
    assert sorted(os.listdir(str(tmp_path / "seccomp" / "operator" / "ns"))) == ["p1.json", "p2.json"]
    with pytest.raises(SpoError, match="same file as SeccompProfile ns/p1"):
        seccomp_install.install([profile("p1", syscalls=[allow("read")]), profile("p1.json", syscalls=[allow("read")])],
                                str(tmp_path))


def test_upstream_valid_architecture_and_flag():
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.libseccomp import native_oci_arch
    doc = profile(architectures=["SCMP_ARCH_NATIVE"], flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                  syscalls=[allow("read"), {"action": "SCMP_ACT_ERRNO", "errnoRet": 0, "names": ["chmod"]}])
    oci = compile_one(doc).oci
    assert oci["architectures"] == [native_oci_arch()]
    assert oci["flags"] == ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    assert {"action": "SCMP_ACT_ERRNO", "names": ["chmod"]} in oci["syscalls"]  # errnoRet 0 omitted
