# -*- coding: utf-8 -*-
"""import_closure: the files a daemon shipped to hosts needs, from its imports (roles/selinuxd ships it so)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.filter.import_closure import import_closure
from ansible_collections.spo.security_profiles.plugins.module_utils.import_closure import closure

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tree(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


def test_imports_are_followed_through_the_collection_and_spo_cli_only(tmp_path):
    mu = "ansible_collections.spo.security_profiles.plugins.module_utils"
    root = _tree(tmp_path, {
        "spo_cli/__init__.py": "import os\n",
        "spo_cli/d.py": "import json\nfrom %s import a\nfrom spo_cli import helper\n" % mu,
        "spo_cli/helper.py": "",
        "plugins/module_utils/a.py": "def f():\n    from %s.pkg.b import g\n    return g\n" % mu,
        "plugins/module_utils/pkg/__init__.py": "",
        "plugins/module_utils/pkg/b.py": "import yaml\ng = 1\n",
        "plugins/module_utils/unused.py": "",
    })
    assert closure(root, "spo_cli/d.py") == [
        "plugins/module_utils/a.py", "plugins/module_utils/pkg/__init__.py", "plugins/module_utils/pkg/b.py",
        "spo_cli/__init__.py", "spo_cli/d.py", "spo_cli/helper.py"]


def test_a_missing_or_broken_entry_is_an_error_naming_it(tmp_path):
    root = _tree(tmp_path, {"spo_cli/bad.py": "def (:\n"})
    with pytest.raises(AnsibleFilterError, match="spo_cli/nope.py"):
        import_closure("spo_cli/nope.py", root)
    with pytest.raises(AnsibleFilterError, match="spo_cli/bad.py.*cannot be read as Python"):
        import_closure("spo_cli/bad.py", root)


def test_the_shipped_selinuxd_runs_from_its_closure_alone(tmp_path):
    """What roles/selinuxd copies is enough: the daemon's --help runs from a PYTHONPATH holding only the closure,
    with the system's Python and nothing of the project's environment."""
    target = tmp_path / "opt"
    for item in import_closure("spo_cli/selinuxd.py", ROOT):
        dest = target / item["dest"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(open(os.path.join(ROOT, item["src"]), "rb").read())
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    proc = subprocess.run([python, "-I", "-c", "import sys; sys.path.insert(0, %r); import runpy; "
                           "sys.argv = ['spo-selinuxd', '--help']; runpy.run_module('spo_cli.selinuxd', "
                           "run_name='__main__')" % str(target)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    assert "--dir" in proc.stdout
