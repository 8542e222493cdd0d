# -*- coding: utf-8 -*-
"""User YAML is read with bounded cost at every door: aliases may not expand it far beyond its size."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils import yaml_input
from ansible_collections.spo.security_profiles.plugins.module_utils.host import kubelet_config
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodeagent
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the classic: ten anchors, each a list of nine aliases of the one before (~5*10**8 items once expanded)
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    "%s: &%s [%s]\n" % (new, new, ", ".join(["*" + old] * 9)) for old, new in zip("abcdefgh", "bcdefghi"))
# doubling instead of widening: 2**40 items from 40 lines of two aliases each
DOUBLING = "l0: &l0 [x]\n" + "".join("l%d: &l%d [*l%d, *l%d]\n" % (i, i, i - 1, i - 1) for i in range(1, 41))


@pytest.mark.parametrize("text", [BOMB, DOUBLING], ids=["billion-laughs", "doubling"])
def test_alias_bombs_are_refused_before_anything_is_built(text):
    started = time.monotonic()
    with pytest.raises(yaml_input.YamlInputError) as info:
        yaml_input.load_all(text, "bomb.yaml")
    assert time.monotonic() - started < 1.0
    assert str(info.value).startswith("bomb.yaml: document 0: YAML aliases would expand the document to")


def test_the_bound_is_on_what_aliases_add():
    block = "[" + ", ".join(["x"] * 99) + "]"  # a sequence of 99 scalars: 100 nodes
    uses = yaml_input.MAX_ALIAS_NODES // 100

    def text(count):
        return "a: &a %s\nb: [%s]\n" % (block, ", ".join(["*a"] * count))
    assert len(yaml_input.load_all(text(uses), "f")[0]["b"]) == uses  # adds exactly the bound
    with pytest.raises(yaml_input.YamlInputError, match="%d more than written" % ((uses + 1) * 100)):
        yaml_input.load_all(text(uses + 1), "f")


@pytest.mark.parametrize("text, message", [
    ("&a [*a]\n", "recursive structure"),
    ("[" * 300 + "]" * 300 + "\n", "nests collections more than 64 levels deep"),
    ("a: [\n", "malformed YAML"),
])
def test_recursive_deep_and_malformed_yaml_are_errors(text, message):
    with pytest.raises(yaml_input.YamlInputError, match=message):
        yaml_input.load_all(text, "x.yaml")


@pytest.mark.parametrize("text", ["- " * 100000 + "x\n", "[" * 100000 + "\n",
                                  "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 3000))],
                         ids=["compact-block-sequences", "flow-sequences", "indented-mappings"])
def test_nesting_deep_enough_to_crash_libyaml_is_refused_before_composing(text):
    """libyaml's composer recurses per level: 100000 levels end the process with SIGSEGV (run in a child)."""
    code = ("import sys\nfrom ansible_collections.spo.security_profiles.plugins.module_utils import yaml_input\n"
            "try:\n    yaml_input.load_all(sys.stdin.read(), 'deep.yaml')\n"
            "except yaml_input.YamlInputError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "deep.yaml nests collections more than 64 levels deep"


def test_plain_manifests_load_unchanged():
    text = "kind: Pod\nmetadata: {name: a}\n---\n---\nkind: Pod\nmetadata: {name: b}\n"
    assert [d["metadata"]["name"] for d in yaml_input.load_all(text, "p")] == ["a", "b"]


def test_spo_pss_refuses_a_bomb():
    proc = subprocess.run([sys.executable, "-m", "spo_cli.pss", "check", "-"], input="kind: Pod\n" + BOMB, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=ROOT), check=False)
    assert proc.returncode == 2
    assert "spo-pss: <stdin>: document 0: YAML aliases would expand" in proc.stderr, proc.stderr


def test_kubelet_config_refuses_a_bomb(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("kind: KubeletConfiguration\n" + BOMB)
    with pytest.raises(SpoError, match="YAML aliases would expand"):
        kubelet_config.set_key(str(path), "seccompDefault", True, check_mode=True)


def test_kubeconfig_and_shipped_profiles_are_read_the_same_way(tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\n" + BOMB)
    with pytest.raises(yaml_input.YamlInputError):
        kube.Transport.from_kubeconfig(str(config))
    (tmp_path / "shipped").mkdir()
    (tmp_path / "shipped" / "x.yaml").write_text("kind: SeccompProfile\n" + BOMB)
    with pytest.raises(yaml_input.YamlInputError):
        nodeagent.load_shipped(str(tmp_path / "shipped"))
