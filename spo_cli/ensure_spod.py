# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spo-ensure-spod: create the default SecurityProfilesOperatorDaemon when none exists.

Run by the operator's Deployment before the operator starts (an init container), so a fresh install
always has its node DaemonSet; an existing SPOD is never touched.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.client import api_client


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="spo-ensure-spod", description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default=os.environ.get("OPERATOR_NAMESPACE", "security-profiles-operator"),
                        help="the operator's namespace (default: $OPERATOR_NAMESPACE or %(default)s)")
    parser.add_argument("--kubeconfig", help="kubeconfig path (default: $KUBECONFIG, else in-cluster)")
    parser.add_argument("--retries", type=int, default=30, help="attempts while the API is not ready (default: %(default)s)")
    args = parser.parse_args(argv)
    last: Exception = RuntimeError("no attempt")
    for _attempt in range(max(1, args.retries)):
        try:
            created = spod.ensure_default(api_client(args.kubeconfig), args.namespace)
            print("spo-ensure-spod: %s %s/%s" % ("created" if created else "kept", args.namespace, spod.SPOD_NAME))
            return 0
        except Exception as exc:  # pylint: disable=broad-except
            last = exc
            time.sleep(2)
    print("spo-ensure-spod: could not ensure %s/%s: %s" % (args.namespace, spod.SPOD_NAME, last), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
