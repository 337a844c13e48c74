"""The scheduled jobs, runnable anywhere: as plain callables, or from a shell or cron:

    python -m functions.jobs purge-author-messages
    python -m functions.jobs forget-expired-chats
    python -m functions.jobs sync-cms-regions     (with CMS_URL set)
    python -m functions.jobs zammad-doctor        (logs each region whose Zammad fails a check)
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
from chalicelib.services import Services, aws_services


def _services() -> Services:
    return aws_services(load_settings(os.environ))


def purge_author_messages(services: Services | None = None) -> dict[str, Any]:
    return jobs.purge_author_messages(services or _services())


def forget_expired_chats(services: Services | None = None) -> dict[str, Any]:
    return jobs.forget_expired_chats(services or _services())


def run(names: list[str], services: Services | None = None) -> list[dict[str, Any]]:
    services = services or _services()
    return [jobs.run_job(services, name) for name in names]


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
