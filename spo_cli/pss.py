# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spo-pss: judge Kubernetes manifests against the Pod Security Standards, as the API server does.

    spo-pss check --level restricted [--version v1.N|latest] [--json] FILE|DIR|- ...

Prints, per pod or workload, the API server's own warning (``would violate PodSecurity ...``) or
``ok``, and the least privileged level that admits it. Exit status: 0 all admitted, 1 some
object violates the level, 2 bad input (unreadable file, malformed YAML, wrong field types).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional


from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.report import check_objects
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import LEVELS, parse_version
from ansible_collections.spo.security_profiles.plugins.module_utils.yaml_input import YamlInputError, load_all

YAML_SUFFIXES = (".yaml", ".yml", ".json")


class InputError(Exception):
    pass


def _load_text(text: str, name: str) -> List[Dict[str, Any]]:
    try:
        docs = load_all(text, name)
    except YamlInputError as exc:
        raise InputError(str(exc))
    out: List[Dict[str, Any]] = []
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise InputError("%s: document %d must be a mapping (a Kubernetes object), got %s"
                             % (name, index, type(doc).__name__))
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out.extend(doc["items"])
        else:
            out.append(doc)
    return out


def load_paths(paths: List[str]) -> List[Dict[str, Any]]:
    objects: List[Dict[str, Any]] = []
    for path in paths:
        if path == "-":
            objects.extend(_load_text(sys.stdin.read(), "<stdin>"))
            continue
        if os.path.isdir(path):
            files = sorted(os.path.join(path, name) for name in os.listdir(path) if name.endswith(YAML_SUFFIXES))
            if not files:
                raise InputError("%s: directory has no *.yaml, *.yml or *.json files" % path)
        else:
            files = [path]
        for name in files:
            try:
                with open(name, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                raise InputError("%s: cannot read: %s" % (name, exc.strerror or exc))
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError("%s: not UTF-8 text: %s" % (name, exc))
            objects.extend(_load_text(text, name))
    return objects


def _version(text: str) -> str:
    try:
        parse_version(text)
    except SpoError as exc:
        raise argparse.ArgumentTypeError(exc.message)
    return text


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spo-pss", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="judge manifests against a level")
    check.add_argument("--level", choices=LEVELS, default="restricted", help="Pod Security level (default restricted)")
    check.add_argument("--version", type=_version, default="latest",
                       help="policy version, latest or v1.N (default latest)")
    check.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    check.add_argument("files", nargs="+", metavar="FILE", help="YAML/JSON manifests, directories of them, or -")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        objects = load_paths(args.files)
        result = check_objects(objects, args.level, args.version)
    except (InputError, SpoError) as exc:
        print("spo-pss: %s" % exc, file=sys.stderr)
        return 2
    if args.json:
        json.dump(result, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for verdict in result["verdicts"]:
            text = verdict["warning"] or "ok"
            print("%s: %s [minimum level: %s]" % (verdict["object"], text, verdict["minimum_level"]))
        for name in result["skipped"]:
            print("%s: skipped (no pod)" % name)
        print("%d of %d objects violate PodSecurity \"%s:%s\"; least privileged level admitting all: %s"
              % (result["violations"], len(result["verdicts"]), args.level, args.version, result["minimum_level"]))
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
