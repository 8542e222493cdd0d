# -*- coding: utf-8 -*-
"""Syscall names newer than the host's libseccomp are kept with a warning; typos stay errors.

The kernel's syscall names come from plugins/module_utils/seccomp/syscall_table.py, GENERATED from libseccomp's own
table (src/syscalls.csv: every architecture's numbers, from the kernel's sources) joined with the pinned
package seccompy's tables (x86_64, aarch64).  Regenerate from a libseccomp source tree with
``.venv/bin/python tests/unit/test_seccomp_names.py --write <libseccomp>/src/syscalls.csv <commit>``.
These tests check the table holds every name of the pinned package and of the host's libseccomp.
"""
from __future__ import annotations

import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLE = os.path.join(ROOT, "plugins", "module_utils", "seccomp", "syscall_table.py")
NEWER = ["statmount", "listmount", "mseal", "lsm_get_self_attr", "getxattrat", "open_tree_attr", "uretprobe"]


def package_names():
    from importlib.metadata import version

    import seccompy.syscalls as tables
    return "seccompy==%s" % version("seccompy"), sorted(set(tables.X86_64_SYSCALLS) | set(tables.AARCH64_SYSCALLS))


def test_the_table_holds_the_pinned_packages_names():
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import syscall_table
    source, names = package_names()
    assert source in syscall_table.SOURCE and "libseccomp src/syscalls.csv" in syscall_table.SOURCE
    assert set(names) <= syscall_table.NAMES
    pinned = [l.strip() for l in open(os.path.join(ROOT, "requirements.txt")) if l.startswith("seccompy==")]
    assert pinned == [source]


def test_the_table_holds_every_name_the_hosts_libseccomp_knows_on_any_architecture():
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import syscall_table
    known = set()
    for arch in libseccomp.OCI_ARCHITECTURES:
        token = libseccomp.oci_arch_to_token(arch)
        if token:
            offset = 0 if "MIPS" not in arch else 6000 if "N32" in arch else 5000 if "64" in arch else 4000
            for number in range(offset, offset + 1100):
                name = libseccomp.syscall_name(token, number)
                if name:
                    known.add(name)
    assert len(known) > 400
    assert sorted(known - syscall_table.NAMES) == []


@pytest.mark.parametrize("name", ["riscv_hwprobe", "riscv_flush_icache", "s390_runtime_instr", "cacheflush",
                                  "arm_fadvise64_64", "listns", "file_getattr"])
def test_names_of_any_architecture_are_in_the_table(name):
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import syscall_table
    assert name in syscall_table.NAMES


def _profile(*names):
    return {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
            "metadata": {"name": "newer", "namespace": "ns"},
            "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": list(names)}]}}


def test_names_newer_than_libseccomp_are_kept_with_a_warning():
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp
    token = libseccomp.native_arch_token()
    unknown_here = [n for n in NEWER if libseccomp.syscall_number(token, n) < 0]
    compiled = seccomp.compile_profiles([_profile("read", *NEWER)])[0]
    assert compiled.oci["syscalls"][0]["names"] == sorted(["read"] + NEWER)
    if unknown_here:  # the host's libseccomp is older than these names (Debian 12: 2.5.4)
        assert len(compiled.warnings) == 1
        for name in unknown_here:
            assert name in compiled.warnings[0]


def test_a_typo_is_still_an_error():
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp
    from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
    with pytest.raises(SpoError) as err:
        seccomp.compile_profiles([_profile("read", "statmnt")])
    assert "unknown syscall 'statmnt'" in str(err.value) and "spec.syscalls[0].names[1]" in str(err.value)


MOBY_DEFAULT = os.path.join(ROOT, "tests", "data", "seccomp", "moby-default.yaml")


def test_dockers_default_profile_is_accepted_and_kept_whole():
    """moby's default.json (tests/data: its names and actions) compiles; every name is kept in the JSON, the
    ones this host's libseccomp does not know for its architecture with one warning (riscv_hwprobe, ...)."""
    import yaml

    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp
    doc = yaml.safe_load(open(MOBY_DEFAULT))
    compiled = seccomp.compile_profiles([doc])[0]
    written = {name for rule in compiled.oci["syscalls"] for name in rule["names"]}
    assert written == {name for rule in doc["spec"]["syscalls"] for name in rule["names"]}
    assert {"riscv_hwprobe", "s390_runtime_instr", "arm_fadvise64_64", "clone3"} <= written
    clone3 = [rule for rule in compiled.oci["syscalls"] if "clone3" in rule["names"]]
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    assert compiled.oci["defaultErrnoRet"] == 1
    token = libseccomp.native_arch_token()
    if libseccomp.syscall_number(token, "riscv_hwprobe") < 0:
        assert len(compiled.warnings) == 1 and "riscv_hwprobe" in compiled.warnings[0]
        assert compiled.warnings[0].startswith("SeccompProfile compat/moby-default: spec.syscalls:")


def _csv_names(path):
    """Names with a number on at least one architecture in libseccomp's syscalls.csv."""
    import csv
    with open(path) as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    columns = [i for i, title in enumerate(header) if i and not title.endswith("_kver")]
    version = header[0].split("(")[1].split(" ")[0] if "(" in header[0] else "?"
    return version, sorted(row[0] for row in rows[1:] if any(row[i].strip().isdigit() for i in columns))


def _write(csv_path, commit):
    source, package = package_names()
    version, from_csv = _csv_names(csv_path)
    names = sorted(set(package) | set(from_csv))
    source = "libseccomp src/syscalls.csv %s (kernel %s) + %s" % (commit[:12], version, source)
    text = open(TABLE).read()
    text = re.sub(r'SOURCE = "[^"]*"', 'SOURCE = "%s"' % source, text)
    body, line = [], "   "
    for name in names:
        piece = ' "%s",' % name
        if len(line) + len(piece) > 110:
            body.append(line)
            line = "   "
        line += piece
    body.append(line)
    text = re.sub(r"NAMES = frozenset\(\[\n.*?\n\]\)", "NAMES = frozenset([\n%s\n])" % "\n".join(body), text,
                  flags=re.S)
    with open(TABLE, "w") as handle:
        handle.write(text)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--write":
    _write(sys.argv[2], sys.argv[3])
