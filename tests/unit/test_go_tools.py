# -*- coding: utf-8 -*-
"""hack/go_tools.py (pinned Go tools, cached by version) and hack/bundle_validate.py (no warning allowed)."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time

import pytest

from conftest import ROOT


def _load(name, filename):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "hack", filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


go_tools = _load("spo_go_tools", "go_tools.py")
bundle_validate = _load("spo_bundle_validate", "bundle_validate.py")

CSV = "security-profiles-operator.clusterserviceversion.yaml"


def test_go_versions_compare_as_numbers():
    assert go_tools.go_version_tuple("go1.26.8") > go_tools.go_version_tuple("1.25.7")
    assert go_tools.go_version_tuple("1.9") < go_tools.go_version_tuple("1.10")
    assert go_tools.go_directive("module x\n\ngo 1.25.7\n\nrequire (\n)\n") == "1.25.7"
    with pytest.raises(ValueError):
        go_tools.go_version_tuple("devel +abc")


def test_the_pins_are_exact_releases_and_build_like_upstream():
    for name, pin in go_tools.PINS.items():
        assert pin.version.startswith("v") and go_tools.go_version_tuple(pin.version[1:]), name
    command = go_tools.build_command("go", go_tools.PINS["operator-sdk"], "/out", "abc")
    assert "-tags=containers_image_openpgp" in command and command[-1] == "./cmd/operator-sdk"
    assert "-X 'github.com/operator-framework/operator-sdk/internal/version.Version=v1.42.2'" in command[3]


def test_a_warm_run_needs_no_go_and_is_fast(tmp_path, monkeypatch):
    pin = go_tools.PINS["operator-sdk"]
    cached = tmp_path / "cache" / ("operator-sdk-" + pin.version) / "operator-sdk"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\necho cached\n")
    cached.chmod(0o755)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(go_tools, "find_go", lambda *a: pytest.fail("a warm run must not look for Go"))
    started = time.monotonic()
    for _run in range(2):  # idempotent: the second run finds the link in place
        paths = go_tools.ensure(["operator-sdk"], str(tmp_path / "cache"), str(tmp_path / "bin"))
    assert time.monotonic() - started < 1
    assert paths == [str(cached)]
    assert os.readlink(str(tmp_path / "bin" / "operator-sdk")) == str(cached)


def test_a_link_to_another_version_is_replaced(tmp_path):
    pin = go_tools.PINS["operator-sdk"]
    cached = tmp_path / ("operator-sdk-" + pin.version) / "operator-sdk"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    cached.chmod(0o755)
    (tmp_path / "bin").mkdir()
    os.symlink("/old/operator-sdk-v0.0.1/operator-sdk", str(tmp_path / "bin" / "operator-sdk"))
    go_tools.ensure(["operator-sdk"], str(tmp_path), str(tmp_path / "bin"))
    assert os.readlink(str(tmp_path / "bin" / "operator-sdk")) == str(cached)


def test_an_unknown_tool_is_refused_by_name(tmp_path):
    pinned = ", ".join(sorted(go_tools.PINS))
    assert pinned.startswith("ansible-operator, ")
    with pytest.raises(go_tools.ToolError, match="unknown tool.*kubectl.*pinned: " + pinned):
        go_tools.ensure(["kubectl"], str(tmp_path), str(tmp_path / "bin"))


def test_too_old_a_toolchain_is_refused_naming_both_versions(tmp_path, monkeypatch):
    """The go.mod's go directive is checked before a build that would fail obscurely."""
    if not go_tools._candidates():
        pytest.skip(reason="no Go toolchain on this machine")
    module_dir = tmp_path / "module"
    module_dir.mkdir()
    (module_dir / "go.mod").write_text("module example.invalid/x\n\ngo 9.99.0\n")
    monkeypatch.setattr(go_tools.subprocess, "run", _fake_download(go_tools.subprocess.run, str(module_dir)))
    monkeypatch.setattr(go_tools, "find_go", lambda *a: go_tools._candidates()[0])
    with pytest.raises(go_tools.ToolError, match=r"needs Go >= 9\.99\.0 \(go.mod\), but .* is go1\."):
        go_tools.build("operator-sdk", go_tools.PINS["operator-sdk"], str(tmp_path / "cache"), go_tools._candidates()[0])
    assert not (tmp_path / "cache").exists()


def _fake_download(real_run, directory):
    """`go mod download -json` answered with a local module directory; every other command runs for real."""
    def run(command, **kwargs):
        if command[1:4] == ["mod", "download", "-json"]:
            return go_tools.subprocess.CompletedProcess(command, 0, json.dumps({"Dir": directory}), "")
        return real_run(command, **kwargs)
    return run


@pytest.mark.parametrize("report, passed, problems", [
    ({"passed": True, "outputs": None}, True, []),
    ({"passed": True, "outputs": [{"type": "info", "message": "fine"}]}, True, []),
    ({"passed": True, "outputs": [{"type": "warning", "message": "Warning: csv.Spec.Icon not specified"}]}, True,
     ["warning: Warning: csv.Spec.Icon not specified"]),
    ({"passed": False, "outputs": [{"type": "error", "message": "Error: maintainers"}]}, False, ["error: Error: maintainers"]),
])
def test_report_findings(report, passed, problems):
    assert bundle_validate.findings(json.dumps(report)) == (passed, problems)


@pytest.mark.parametrize("text", ["", "time=... level=warning msg=x", "[]", '{"outputs": []}'])
def test_an_unreadable_report_is_an_error(text):
    with pytest.raises(ValueError):
        bundle_validate.findings(text)


def _operator_sdk():
    path = go_tools.cached_path(os.environ.get("SPO_TOOLS_CACHE", go_tools.DEFAULT_CACHE), "operator-sdk",
                                go_tools.PINS["operator-sdk"])
    if not os.access(path, os.X_OK):
        pytest.skip(reason="operator-sdk %s is not built yet (make tools builds it; make test's bundle-validate does)"
                    % go_tools.PINS["operator-sdk"].version)
    return path


def test_the_bundle_passes_with_no_warning():
    assert bundle_validate.validate(os.path.join(ROOT, "bundle"), _operator_sdk()) == (True, [])


def test_a_warning_alone_fails(tmp_path):
    """operator-sdk itself passes (exit 0) a bundle without an icon; the check does not."""
    operator_sdk = _operator_sdk()
    shutil.copytree(os.path.join(ROOT, "bundle"), str(tmp_path / "bundle"))
    csv = tmp_path / "bundle" / "manifests" / CSV
    lines = csv.read_text().splitlines(keepends=True)
    start = lines.index("  icon:\n")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(("    ", "  - ")))
    csv.write_text("".join(lines[:start] + lines[end:]))
    ok, problems = bundle_validate.validate(str(tmp_path / "bundle"), operator_sdk)
    assert not ok
    assert [p for p in problems if p.startswith("warning:") and "csv.Spec.Icon not specified" in p], problems
