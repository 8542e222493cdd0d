# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment(object):
    # Common 'attributes' of the collection's modules.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

    # The modules of the action group spo.security_profiles.cluster (meta/runtime.yml).
    CLUSTER = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/spo.security_profiles.cluster) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - spo.security_profiles.cluster
"""
