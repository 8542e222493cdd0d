"""Command-line doors (daemons) over the collection's engine in plugins/module_utils."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional


def report_stats(log: Callable[[str], None], stats: Dict[str, Any], path: Optional[str]) -> None:
    """Log a daemon's closing counts and, with ``path`` (its --stats-file), write them there as JSON."""
    log("stopped: %s" % json.dumps(stats, sort_keys=True))
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(stats, handle)
