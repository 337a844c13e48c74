"""Management CLI: `python -m functions.manage <command>`.

    create-tables                     create every table the code defines (idempotent, enables TTL),
                                      the chatbot's queue where AWS_ENDPOINT_URL_SQS is set, and
                                      the files' bucket where AWS_ENDPOINT_URL_S3 and ATTACHMENT_BUCKET are
    token --role admin --sub alice    print a token signed with AUTH_JWT_SECRET
    region put|get|list|delete        the same region operations as the admin API
    region sync                       follow the CMS's regions now (CMS_URL), as the job does
    retention [--dry-run]             the retention job now (docs/privacy.md); --dry-run: what it would do
    export --region R --device D      everything stored about a device in a region, as JSON (GDPR Art. 15)
    import-cms DUMP.json              a region's switch from the Integreat CMS (docs/migrating.md);
                                      compare-cms and export-cms too: functions/cms_commands.py
    zammad-setup --region R [--dry-run]  a region's Zammad made ready for the chat (admin token:
                                      --admin-token or $ZAMMAD_ADMIN_TOKEN): functions/zammad_commands.py
    doctor [--region R] [--json]      is each region's Zammad still set up? exit 1 if not (read-only)

It talks to whatever DynamoDB `AWS_ENDPOINT_URL_DYNAMODB` names (AWS when unset), on the
tables of `CHAT_TABLE_PREFIX` (default `integreat-chat-`, the tables plain `chalice local`
uses too: its stage `dev` sets no prefix); `--stage <stage>` takes that stage's variables
from .chalice/config.json, as `chalice local` and `chalice deploy` do.
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from chalicelib.platform.config import ConfigError, load_settings
from chalicelib.web.errors import ApiError
from functions import cms_commands, zammad_commands

_REGION_OPTIONS = {  # option -> field of the admin API
    "--name": "name",
    "--zammad-url": "zammad_url",
    "--zammad-access-token": "zammad_access_token",
    "--webhook-token": "zammad_webhook_token",
    "--webhook-secret": "zammad_webhook_secret",
    "--privacy-policy": "zammad_privacy_policy",
    "--ticket-group": "ticket_group",
    "--default-language": "default_language",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m functions.manage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stage", help="use this Chalice stage's variables (.chalice/config.json)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-tables", help="create every table (idempotent) and enable TTL")

    token = commands.add_parser("token", help="print an HS256 token for AUTH_JWT_SECRET")
    token.add_argument("--role", action="append", choices=["admin", "author"], required=True)
    token.add_argument("--sub", default="dev-admin")
    token.add_argument("--name", default="")
    token.add_argument("--email", default="")
    token.add_argument("--hours", type=float, default=12.0)

    region = commands.add_parser("region", help="create, show, list or delete regions")
    actions = region.add_subparsers(dest="action", required=True)
    put = actions.add_parser("put", help="create or update a region (fields left out are kept)")
    put.add_argument("slug")
    for option, field in _REGION_OPTIONS.items():
        put.add_argument(option, dest=field)
    put.add_argument("--enabled", dest="integreat_chat_enabled", action="store_const", const=True)
    put.add_argument("--disabled", dest="integreat_chat_enabled", action="store_const", const=False)
    put.add_argument("--beta-percentage", dest="chat_beta_tester_percentage", type=int)
    put.add_argument("--chatbot", dest="chatbot_enabled", action="store_const", const=True)
    put.add_argument("--no-chatbot", dest="chatbot_enabled", action="store_const", const=False)
    put.add_argument("--words-budget", dest="chatbot_words_budget", type=int, help="words per month")
    put.add_argument("--json", dest="json_fields", help="further fields as a JSON object")
    for name in ("get", "delete"):
        actions.add_parser(name).add_argument("slug")
    actions.add_parser("list")
    actions.add_parser("sync", help="follow the CMS's list of regions (CMS_URL) now")

    retention = commands.add_parser("retention", help="run the retention job now (docs/privacy.md)")
    retention.add_argument("--dry-run", action="store_true", help="report what it would do, change nothing")
    export = commands.add_parser("export", help="everything stored about a device in a region, as JSON")
    export.add_argument("--region", required=True)
    export.add_argument("--device", required=True)
    cms_commands.add_parsers(commands)
    zammad_commands.add_parsers(commands)
    return parser


def _region_changes(args) -> dict:
    changes = json.loads(args.json_fields) if args.json_fields else {}
    if not isinstance(changes, dict):
        raise ApiError("--json must be a JSON object.")
    fields = list(_REGION_OPTIONS.values()) + [
        "integreat_chat_enabled",
        "chat_beta_tester_percentage",
        "chatbot_enabled",
        "chatbot_words_budget",
    ]
    for field in fields:
        value = getattr(args, field)
        if value is not None:
            changes[field] = value
    return changes


def stage_environment(stage: str) -> dict[str, str]:
    """A Chalice stage's environment variables (the app's and the stage's), as Chalice sets them."""
    config = json.loads((Path(__file__).resolve().parent.parent / ".chalice" / "config.json").read_text())
    if stage not in config.get("stages", {}):
        raise ConfigError("--stage: no stage %r in .chalice/config.json" % stage)
    return {
        **config.get("environment_variables", {}),
        **config["stages"][stage].get("environment_variables", {}),
    }


def run(argv, out=sys.stdout) -> int:
    args = _parser().parse_args(argv)
    if args.stage:
        os.environ.update(stage_environment(args.stage))  # as Chalice does: the stage's values win
    settings = load_settings(os.environ)

    if args.command == "token":
        if not settings.jwt_secret:
            raise ConfigError("AUTH_JWT_SECRET must be set to issue tokens")
        from chalicelib.platform.auth import issue_hs256_token

        print(
            issue_hs256_token(
                settings.jwt_secret,
                args.sub,
                args.role,
                name=args.name,
                email=args.email,
                lifetime_seconds=int(args.hours * 3600),
            ),
            file=out,
        )
        return 0

    from chalicelib.storage.connection import bind_models
    from chalicelib.tables import ALL_MODELS

    bind_models(ALL_MODELS, settings)
    if args.command == "create-tables":
        from chalicelib.storage.tables import create_tables

        for line in create_tables(ALL_MODELS):
            print(line, file=out)
        # In AWS the template makes the queue and the bucket; elsewhere, this.
        queue_arn = None
        if settings.sqs_endpoint:
            from chalicelib.chatbot.queue import SqsJobQueue

            queue = SqsJobQueue(settings)
            print(queue.create(), file=out)
            queue_arn = queue.arn
        if settings.s3_endpoint and settings.attachment_bucket:
            from chalicelib.attachments.bucket import FileBucket

            print(FileBucket(settings).create(notify_queue_arn=queue_arn), file=out)
        return 0

    from chalicelib.regions.routes import region_view
    from chalicelib.services import aws_services

    services = aws_services(settings)
    store = services.regions
    if args.command in cms_commands.COMMANDS:
        return cms_commands.run(args, settings, services, out)
    if args.command in zammad_commands.COMMANDS:
        return zammad_commands.run(args, settings, services, out)
    if args.command == "retention":
        from chalicelib.jobs import forget_expired_chats

        print(json.dumps(forget_expired_chats(services, dry_run=args.dry_run), indent=2), file=out)
        return 0
    if args.command == "export":
        print(
            json.dumps(
                services.user_chats.export(store.get(args.region), args.device),
                indent=2,
                ensure_ascii=False,
                default=str,
            ),
            file=out,
        )
        return 0
    if args.action == "sync":
        from chalicelib.jobs import sync_cms_regions

        report = sync_cms_regions(services)
        print(json.dumps(report, indent=2), file=out)
        return 1 if "failed" in report or "skipped" in report else 0

    def view(record):
        return region_view(services, record)

    result: Any
    if args.action == "put":
        result = view(store.put(args.slug, _region_changes(args)))
    elif args.action == "get":
        result = view(store.get(args.slug))
    elif args.action == "list":
        result = [view(record) for record in store.list()]
    else:
        store.delete(args.slug)
        result = {"deleted": args.slug}
    print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
    return 0


NO_CREDENTIALS = (
    "error: no AWS credentials. On AWS give the process a role (or AWS_PROFILE); DynamoDB Local, "
    "moto and ElasticMQ take any: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local"
)


def _unreachable_aws(error: BaseException) -> str | None:
    """One line for what a new machine meets first, missing credentials and a server not
    started, whether botocore raised it or pynamodb wrapped it (its `cause`)."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, NoCredentialsError):
            return NO_CREDENTIALS
        if isinstance(seen, EndpointConnectionError):  # names the URL: not started, or a typo
            return "error: %s" % seen
        seen = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
    return None


def main() -> None:
    try:
        sys.exit(run(sys.argv[1:]))
    except ConfigError as error:
        sys.exit("configuration error: %s" % error)
    except ApiError as error:
        sys.exit("error: %s" % error.message)
    except json.JSONDecodeError as error:
        sys.exit("error: --json is not valid JSON (%s)" % error)
    except Exception as error:
        said = _unreachable_aws(error)
        if said is None:
            raise
        sys.exit(said)


if __name__ == "__main__":
    main()
