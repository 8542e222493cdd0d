# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment(object):
    # Options shared by the modules that take profile objects
    # (module_utils/args.py DEFINITION_ARG_SPEC).
    DOCUMENTATION = r"""
options:
  definition:
    description:
      - One profile object (a Kubernetes manifest as a dict) or a list of them, or a JSON text of those.
      - The action plugin passes objects to the module as one JSON text, which Ansible
        handles much faster than nested data when a call carries thousands of profiles.
      - Mutually exclusive with O(src).
    type: raw
  src:
    description:
      - Path on the controller of a YAML file with one or more profile documents
        (C(---) separated), or of a directory of such files.
      - A directory means every C(*.yaml) and C(*.yml) file in it (not recursive).
      - Read by the action plugin on the controller, so the target needs no YAML library.
      - The controller keeps the parsed documents of each file keyed by the SHA-256 of its content
        (in C($XDG_CACHE_HOME/spo.security_profiles/src), or the directory named by the environment
        variable E(SPO_SRC_CACHE_DIR); empty disables it), so an unchanged file is not parsed again.
      - Mutually exclusive with O(definition).
    type: path
  state:
    description:
      - V(present) installs the profiles, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
"""
