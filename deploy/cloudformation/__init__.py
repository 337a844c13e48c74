"""The template merged into Chalice's `sam.json` (`chalice package --merge-template`), built
from the code's own models and constants so the two cannot drift. One module per resource
group; each returns a template fragment, merged here key by key.

    python -m deploy.cloudformation resources --stage prod > build/resources.json
    python -m deploy.cloudformation policy --stage prod   # rewrites .chalice/policy-*prod.json
    python -m deploy.cloudformation prefix --stage prod   # the stage's CHAT_TABLE_PREFIX
"""

import copy
from typing import Any

from deploy.cloudformation.edge import edge_template
from deploy.cloudformation.encryption import encryption_template
from deploy.cloudformation.files import files_template
from deploy.cloudformation.monitoring import monitoring_template
from deploy.cloudformation.queue import queue_template
from deploy.cloudformation.realtime import realtime_template
from deploy.cloudformation.tables import tables_template
from functions.manage import stage_environment


def stage_prefix(stage: str) -> str:
    return stage_environment(stage).get("CHAT_TABLE_PREFIX", "integreat-chat-")


def resources(prefix: str, retention_days: int = 30, stage: str = "prod") -> dict[str, Any]:
    return merged(
        tables_template(prefix),
        queue_template(prefix),
        files_template(prefix, retention_days),
        edge_template(),
        encryption_template(),
        realtime_template(),
        monitoring_template(prefix, stage),
    )


def merged(*templates: dict[str, Any]) -> dict[str, Any]:
    """Templates merged key by key, as `chalice package --merge-template` merges ours into
    its own (two parts may set variables of the same function)."""
    result: dict[str, Any] = {}
    for template in templates:
        _merge_into(result, template)
    return result


def _merge_into(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:  # a copy: one part may hand the same fragment to several functions
            target[key] = copy.deepcopy(value)
