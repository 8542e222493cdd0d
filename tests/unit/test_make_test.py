# -*- coding: utf-8 -*-
"""`make test` runs every suite, also after one failed, and names the failed ones at the end."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import ROOT


def test_make_test_runs_every_suite_and_reports_all_failures(tmp_path):
    if shutil.which("make") is None:
        pytest.skip(reason="needs make")
    extra = tmp_path / "suites.mk"
    log = tmp_path / "ran"
    extra.write_text("".join("%s:\n\t@echo %s >> %s%s\n" % (name, name, log, "; exit 1" if "bad" in name else "")
                             for name in ("s-bad-1", "s-good", "s-bad-2")))
    proc = subprocess.run(["make", "--no-print-directory", "-f", os.path.join(ROOT, "Makefile"), "-f", str(extra),
                           "test", "SUITES=s-bad-1 s-good s-bad-2"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert proc.returncode != 0
    assert log.read_text().split() == ["s-bad-1", "s-good", "s-bad-2"]
    assert "make test: FAILED: s-bad-1 s-bad-2" in proc.stdout, proc.stdout + proc.stderr
    ok = subprocess.run(["make", "--no-print-directory", "-f", os.path.join(ROOT, "Makefile"), "-f", str(extra),
                         "test", "SUITES=s-good"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "all suites passed" in ok.stdout, ok.stdout + ok.stderr


def test_make_test_keeps_every_suite():
    out = subprocess.run(["make", "-s", "-f", os.path.join(ROOT, "Makefile"), "-p", "-n", "setup"], cwd=ROOT,
                         capture_output=True, text=True, check=False).stdout
    line = next(l for l in out.splitlines() if l.startswith("SUITES :="))
    assert {"test-unit", "test-integration", "sanity", "lint", "molecule"} <= set(line.split()[2:])
