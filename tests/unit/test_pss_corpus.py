# -*- coding: utf-8 -*-
"""The engine against the API server's recorded answers (tests/data/pss, no cluster needed).

Every case of the corpus, at every policy it lists, must give exactly the warning a Kubernetes
1.36 API server printed for it (recorded by tests/cluster/test_pss_corpus.py). The corpus must
also exercise every check and every version at which a check changed.
"""
from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.pss.evaluate import as_warning_header, evaluate
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.registry import CHECKS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "data", "pss"))
import corpus  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

CASES = corpus.load_cases()
EXPECTED = corpus.load_expected()
PAIRS = [(case, policy) for case in CASES for policy in case.policies]


def test_corpus_is_recorded_in_full():
    assert sum(1 for case in CASES if case.obj["kind"] == "Pod") >= 80
    missing = [corpus.key(case.name, policy) for case, policy in PAIRS if corpus.key(case.name, policy) not in EXPECTED]
    assert not missing, "not recorded from the API server yet (run the cluster test with SPO_PSS_RECORD=1): %s" % missing


@pytest.mark.parametrize("case,policy", PAIRS, ids=[corpus.key(c.name, p) for c, p in PAIRS])
def test_engine_prints_what_the_api_server_printed(case, policy):
    level, version = policy.split(":")
    expected = EXPECTED.get(corpus.key(case.name, policy))
    if expected is None:
        pytest.fail("%s at %s is not recorded" % (case.name, policy))
    verdict = evaluate(case.obj, level, version)
    assert as_warning_header(verdict.warning) == expected
    assert verdict.allowed == (expected == "")
    if expected and len(verdict.warning) <= 4096:
        assert verdict.enforce_message == expected[len("would "):].replace("violate ", "violates ", 1)


def _fired():
    """(check ID, level, version text) of every violation the corpus produces."""
    fired = set()
    for case, policy in PAIRS:
        level, version = policy.split(":")
        for violation in evaluate(case.obj, level, version).violations:
            fired.add((violation.check, level, version))
    return fired


def test_every_check_fires_somewhere():
    fired = {check for check, _level, _version in _fired()}
    assert fired == {check.id for check in CHECKS}


def test_every_version_boundary_is_on_both_sides():
    """For each change of a check at 1.N, some case is judged at v1.(N-1) and v1.N with different results."""
    missing = []
    for check in CHECKS:
        for entry in check.versions:
            if entry.minimum == 0:
                continue
            before, at = "v1.%d" % (entry.minimum - 1), "v1.%d" % entry.minimum
            found = False
            for case in CASES:
                for level in ("baseline", "restricted"):
                    if "%s:%s" % (level, before) in case.policies and "%s:%s" % (level, at) in case.policies:
                        ids_before = {v.check for v in evaluate(case.obj, level, before).violations}
                        ids_at = {v.check for v in evaluate(case.obj, level, at).violations}
                        texts_before = evaluate(case.obj, level, before).detail
                        texts_at = evaluate(case.obj, level, at).detail
                        if (check.id in ids_before | ids_at or entry.overrides) and texts_before != texts_at:
                            found = True
            if not found:
                missing.append("%s@1.%d" % (check.id, entry.minimum))
    assert not missing, missing
