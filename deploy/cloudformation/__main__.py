"""python -m deploy.cloudformation resources|policy|prefix --stage STAGE (see __init__.py)."""

import argparse
import json
import sys

from chalicelib.platform.config import load_settings
from deploy.cloudformation import __doc__ as usage
from deploy.cloudformation import resources, stage_prefix
from deploy.cloudformation.policies import ACTIONS, policy, policy_path
from functions.manage import stage_environment


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.cloudformation",
        description=usage,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=["resources", "policy", "prefix"])
    parser.add_argument("--stage", default="prod")
    args = parser.parse_args()
    prefix = stage_prefix(args.stage)
    if args.what == "prefix":
        print(prefix)
    elif args.what == "resources":
        retention_days = load_settings(stage_environment(args.stage)).ticket_retention_days
        json.dump(resources(prefix, retention_days, args.stage), sys.stdout, indent=2)
        print()
    else:
        for kind in ACTIONS:
            policy_path(args.stage, kind).write_text(json.dumps(policy(prefix, kind), indent=2) + "\n")
            print("wrote %s" % policy_path(args.stage, kind))


if __name__ == "__main__":
    main()
