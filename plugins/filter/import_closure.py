# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter import_closure (docs: import_closure.yml)."""
from __future__ import annotations

from typing import Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils import import_closure as engine
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError


def import_closure(entry: str, root: str) -> List[Dict[str, str]]:
    """The collection's files ``entry`` needs: ``{src, dest}`` (``src`` relative to ``root``, the collection's root;
    ``dest`` relative to a directory used as PYTHONPATH)."""
    try:
        return engine.pythonpath_layout(engine.closure(root, entry))
    except SpoError as exc:
        raise AnsibleFilterError("import_closure: %s" % exc)


class FilterModule:
    def filters(self):
        return {"import_closure": import_closure}
