# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod Security Standards: judge pods and pod templates with the API server's own messages.

``evaluate.evaluate(obj, level, version)`` is the entry point; ``registry`` says which checks run at
which level and version, ``checks`` holds them, ``podspec`` finds and shape-checks the pod,
``text`` and ``version`` hold the formatting and parsing rules.
"""
