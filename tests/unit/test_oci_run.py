# -*- coding: utf-8 -*-
"""oci_run: argument handling and check mode (no root, no runc needed)."""
from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args
from conftest import require_tools

from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.modules import oci_run


@pytest.mark.parametrize("command, argv", [
    ("echo hi", ["/bin/sh", "-c", "echo hi"]),
    ("unshare -m true && echo ok", ["/bin/sh", "-c", "unshare -m true && echo ok"]),
    (["unshare", "--mount", "true"], ["unshare", "--mount", "true"]),
    (["sleep", 1], ["sleep", "1"]),
])
def test_command_args(command, argv):
    assert oci.command_args(command) == argv


@pytest.mark.parametrize("command, field", [
    ("", "command"),
    ("   ", "command"),
    ([], "command"),
    (["ls", {"a": 1}], "command[1]"),
    (["ls", None], "command[1]"),
    (42, "command"),
])
def test_command_args_refused(command, field):
    with pytest.raises(SpoError) as err:
        oci.command_args(command)
    assert err.value.field == field


def test_localhost_profile_path_is_under_kubelet_seccomp(tmp_path):
    path = oci.localhost_profile_path(str(tmp_path), "operator/ns/p.json")
    assert path == os.path.join(str(tmp_path), "seccomp", "operator", "ns", "p.json")


@pytest.mark.parametrize("name", [
    "", "/etc/passwd", "../x.json", "operator/../../etc/passwd", "operator//p.json", "operator/./p.json",
    "operator/ns/.hidden.json",
])
def test_localhost_profile_path_refuses_escapes(tmp_path, name):
    with pytest.raises(SpoError) as err:
        oci.localhost_profile_path(str(tmp_path), name)
    assert err.value.field == "localhost_profile"


def test_localhost_profile_path_refuses_symlink_out(tmp_path):
    (tmp_path / "seccomp").mkdir()
    (tmp_path / "seccomp" / "operator").symlink_to("/etc")
    with pytest.raises(SpoError, match="outside"):
        oci.localhost_profile_path(str(tmp_path), "operator/passwd")


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not an OCI seccomp profile"),
    (b'{"syscalls": []}', "not an OCI seccomp profile"),
])
def test_load_seccomp_json_errors(tmp_path, content, message):
    path = tmp_path / "p.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SpoError, match=message) as err:
        oci.load_seccomp_json(str(path), "profile_path")
    assert err.value.field == "profile_path"


def test_load_seccomp_json(tmp_path):
    path = tmp_path / "p.json"
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}
    path.write_text(json.dumps(profile))
    assert oci.load_seccomp_json(str(path), "profile_path") == profile


def _module_result(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            oci_run.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_runs_nothing_and_predicts_rootfs(tmp_path, capsys):
    require_tools("busybox")
    workdir = tmp_path / "work"
    result = _module_result(capsys, {"command": "touch /root/marker", "workdir": str(workdir),
                                     "_ansible_check_mode": True})
    assert result["changed"] is True          # the busybox root would be prepared
    assert "rc" not in result                 # nothing ran
    assert not workdir.exists()               # nothing written


@pytest.mark.parametrize("args, message", [
    ({"command": "true", "localhost_profile": "../../etc/passwd"}, "localhost_profile"),
    ({"command": "true", "profile_path": "/nonexistent/p.json"}, "profile_path: /nonexistent/p.json does not exist"),
    ({"command": "true", "extra_caps": ["sys_admin"]}, "extra_caps[0]"),
    ({"command": "true", "timeout": 0}, "timeout: must be positive"),
    ({"command": "true", "rootfs": "/nonexistent-rootfs"}, "rootfs: /nonexistent-rootfs is not a directory"),
    ({"command": "true", "localhost_profile": "a.json", "profile_path": "/a.json"}, "mutually exclusive"),
])
def test_bad_arguments_fail_naming_the_field(capsys, args, message):
    result = _module_result(capsys, dict(args, _ansible_check_mode=True))
    assert result["failed"] is True
    assert message in result["msg"]
