# -*- coding: utf-8 -*-
"""make bundle-validate: operator-sdk's own check of the OLM bundle, with no warning allowed.

    python3 hack/bundle_validate.py [BUNDLE_DIR]      (default: bundle/)

Builds the pinned operator-sdk if needed (hack/go_tools.py), runs

    operator-sdk bundle validate BUNDLE_DIR --select-optional suite=operatorframework -o json-alpha1

and fails when it fails, when its report cannot be read, or when the report
holds any error or warning (operator-sdk itself passes a bundle with
warnings). Every finding is printed, one a line.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = "suite=operatorframework"
OK_TYPES = {"info"}


def findings(report_text: str) -> Tuple[bool, List[str]]:
    """(passed, problems) from operator-sdk's ``-o json-alpha1`` report; ValueError when it is not one."""
    report = json.loads(report_text)
    if not isinstance(report, dict) or not isinstance(report.get("passed"), bool):
        raise ValueError("no 'passed' in operator-sdk's report")
    problems = []
    for output in report.get("outputs") or []:
        if not isinstance(output, dict):
            raise ValueError("an output of operator-sdk's report is not an object: %r" % (output,))
        kind = str(output.get("type", "")).lower()
        if kind not in OK_TYPES:
            problems.append("%s: %s" % (kind or "unknown", output.get("message", "")))
    return report["passed"], problems


def _go_tools():
    spec = importlib.util.spec_from_file_location("spo_go_tools", os.path.join(ROOT, "hack", "go_tools.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validate(bundle_dir: str, operator_sdk: str) -> Tuple[bool, List[str]]:
    proc = subprocess.run([operator_sdk, "bundle", "validate", bundle_dir, "--select-optional", SUITE,
                           "-o", "json-alpha1"], capture_output=True, text=True, check=False)
    try:
        passed, problems = findings(proc.stdout)
    except ValueError as exc:
        return False, ["operator-sdk's report is unreadable (%s); rc %d, stderr: %s"
                       % (exc, proc.returncode, proc.stderr.strip())]
    if proc.returncode != 0 and not problems:
        problems.append("operator-sdk exited %d: %s" % (proc.returncode, proc.stderr.strip()))
    return passed and proc.returncode == 0 and not problems, problems


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    bundle_dir = argv[0] if argv else os.path.join(ROOT, "bundle")
    tools = _go_tools()
    try:
        [operator_sdk] = tools.ensure(["operator-sdk"], os.environ.get("SPO_TOOLS_CACHE", tools.DEFAULT_CACHE),
                                      os.path.join(ROOT, ".venv", "bin"))
    except (tools.ToolError, OSError) as exc:
        print("bundle-validate: %s" % exc, file=sys.stderr)
        return 1
    ok, problems = validate(bundle_dir, operator_sdk)
    for problem in problems:
        print("bundle-validate: %s" % problem)
    if not ok:
        print("bundle-validate: %s FAILED operator-sdk bundle validate --select-optional %s (warnings count)"
              % (bundle_dir, SUITE))
        return 1
    print("bundle-validate: %s passes operator-sdk bundle validate --select-optional %s, no warning"
          % (bundle_dir, SUITE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
