"""The scheduled jobs, runnable anywhere: as plain callables, or from a shell or cron:

    python -m functions.jobs purge-author-messages
    python -m functions.jobs forget-expired-chats
    python -m functions.jobs all

Each prints what it did as JSON. In AWS, app.py schedules the same jobs hourly.
"""

import argparse
import json
import os
import sys
from typing import Any

from chalicelib import jobs
from chalicelib.platform.config import ConfigError, load_settings
from chalicelib.web.dispatch import ChatApi


def _api() -> ChatApi:
    return ChatApi(load_settings(os.environ))


def purge_author_messages(api: ChatApi | None = None) -> dict[str, Any]:
    return jobs.purge_author_messages(api or _api())


def forget_expired_chats(api: ChatApi | None = None) -> dict[str, Any]:
    return jobs.forget_expired_chats(api or _api())


def run(names: list[str], api: ChatApi | None = None) -> list[dict[str, Any]]:
    api = api or _api()
    return [jobs.JOBS[name](api) for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m functions.jobs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("job", choices=sorted(jobs.JOBS) + ["all"], help="the job to run")
    args = parser.parse_args()
    names = sorted(jobs.JOBS) if args.job == "all" else [args.job]
    try:
        for report in run(names):
            print(json.dumps(report))
    except ConfigError as error:
        sys.exit("configuration error: %s" % error)


if __name__ == "__main__":
    main()
