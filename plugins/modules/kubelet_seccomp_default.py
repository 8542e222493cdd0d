#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: kubelet_seccomp_default
short_description: Turn the kubelet's seccompDefault on or off in its KubeletConfiguration file
version_added: 0.3.0
description:
  - Sets C(seccompDefault) in a kubelet's KubeletConfiguration file, so that every container that names no
    seccomp profile runs with the C(RuntimeDefault) profile; O(state=absent) removes the setting again (the
    kubelet's default, off).
  - The file is read, compared and written only when it would change (atomically, its mode kept, a symlink
    followed), so C(changed) is truthful and a second run reports no change. The edit keeps comments and layout
    (the one top-level line is replaced, appended or removed); a file where that is not possible (JSON or
    flow style) is rewritten as JSON with every other key kept.
  - The kubelet reads the file when it starts; restart it after a change (the role
    R(spo.security_profiles.seccomp_default,ansible_collections.spo.security_profiles.seccomp_default_role)
    does so with a handler).
author:
  - Security Profiles Operator Ansible edition team (@spo-ansible)
extends_documentation_fragment:
  - spo.security_profiles.attributes
options:
  path:
    description: The kubelet's configuration file (its C(--config) flag).
    type: path
    default: /var/lib/kubelet/config.yaml
  state:
    description:
      - V(present) sets C(seccompDefault) to C(true).
      - V(absent) removes the C(seccompDefault) setting.
    type: str
    choices: [present, absent]
    default: present
  create:
    description:
      - Create the file (a minimal KubeletConfiguration) when it does not exist. Without it a missing file is an
        error with O(state=present) and nothing to do with O(state=absent).
    type: bool
    default: false
notes:
  - A file that is not YAML, or whose C(kind) is not C(KubeletConfiguration), is an error naming the file and field.
"""

EXAMPLES = r"""
- name: Every container without a seccomp profile gets RuntimeDefault
  spo.security_profiles.kubelet_seccomp_default:
    path: /var/lib/kubelet/config.yaml
  notify: Restart the kubelet

- name: Back to the kubelet's default
  spo.security_profiles.kubelet_seccomp_default:
    path: /var/lib/kubelet/config.yaml
    state: absent
"""

RETURN = r"""
path:
  description: The file edited.
  returned: always
  type: str
  sample: /var/lib/kubelet/config.yaml
previous:
  description: The value of C(seccompDefault) before (null when it was not set).
  returned: always
  type: raw
  sample: null
seccomp_default:
  description: The value of C(seccompDefault) after (null when not set).
  returned: always
  type: raw
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils.host import kubelet_config
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

KEY = "seccompDefault"


def main() -> None:
    module = AnsibleModule(argument_spec={
        "path": {"type": "path", "default": "/var/lib/kubelet/config.yaml"},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "create": {"type": "bool", "default": False},
    }, supports_check_mode=True)
    path, state = module.params["path"], module.params["state"]
    value = True if state == "present" else kubelet_config.ABSENT
    try:
        edit = kubelet_config.set_key(path, KEY, value, check_mode=module.check_mode, create=module.params["create"])
    except (SpoError, OSError) as exc:
        module.fail_json(msg=str(exc), path=path)
    result = {"changed": edit.changed, "path": path, "previous": kubelet_config.value_of(edit),
              "seccomp_default": True if state == "present" else None}
    if module._diff:
        result["diff"] = {"before": edit.before, "after": edit.after, "before_header": path, "after_header": path}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
