"""`manage zammad-setup`: a region's Zammad made ready for the chat by its admin API
(chalicelib/zammad_setup; docs/operating.md, "A new region in five minutes")."""

import argparse
import os
import sys
from typing import Any, TextIO

from chalicelib.platform.config import Settings
from chalicelib.regions.rules import zammad_identity

COMMANDS = ("zammad-setup", "doctor")
ADMIN_TOKEN_VARIABLE = "ZAMMAD_ADMIN_TOKEN"
ADMIN_URL_VARIABLE = "ZAMMAD_ADMIN_URL"  # the Zammad that token belongs to: it is sent to no other
SETUP_LEASE_SECONDS = 300  # longer than a setup takes: at most 13 calls of 15 s


def add_parsers(commands: Any) -> None:
    setup = commands.add_parser("zammad-setup", help="make a region's Zammad ready for the chat (idempotent)")
    setup.add_argument("--region", required=True, help="the region's slug")
    setup.add_argument(
        "--admin-token",
        help="a Zammad token with admin rights, used for this run only (else $%s, else the region's own "
        "token)" % ADMIN_TOKEN_VARIABLE,
    )
    setup.add_argument("--dry-run", action="store_true", help="print the plan; send no write to Zammad")
    setup.add_argument(
        "--rotate-secret",
        action="store_true",
        help="sign the webhook with a new secret (doctor says when Zammad's no longer matches ours)",
    )
    doctor = commands.add_parser("doctor", help="check each region's Zammad is still set up; non-zero if not")
    doctor.add_argument("--region", help="only this region (default: every region with a Zammad URL)")
    doctor.add_argument("--json", action="store_true", help="one JSON object per check, for monitoring")


def run(
    args: argparse.Namespace, settings: Settings, services: Any, out: TextIO, err: TextIO = sys.stderr
) -> int:
    if args.command == "doctor":
        return doctor(args, settings, services, out, err)
    region = services.regions.table.find(args.region)
    if region is None:
        print("zammad-setup: no region %r here (manage region list shows them)" % args.region, file=err)
        return 2
    if not region.zammad_url:
        print(
            "zammad-setup: region %s has no Zammad URL (manage region put --zammad-url)" % region.slug,
            file=err,
        )
        return 2
    if not settings.public_base_url:
        print(
            "zammad-setup: PUBLIC_BASE_URL is not set: the webhook needs this backend's public URL", file=err
        )
        return 2
    admin_url = os.environ.get(ADMIN_URL_VARIABLE)
    from_environment = not args.admin_token and os.environ.get(ADMIN_TOKEN_VARIABLE)
    if from_environment and admin_url and zammad_identity(region.zammad_url) != zammad_identity(admin_url):
        print(
            "zammad-setup: $%s is for the Zammad at %s ($%s); region %s's is at %s: the token is "
            "not sent there (give that Zammad's admin token)"
            % (ADMIN_TOKEN_VARIABLE, admin_url, ADMIN_URL_VARIABLE, region.slug, region.zammad_url),
            file=err,
        )
        return 2
    token = args.admin_token or os.environ.get(ADMIN_TOKEN_VARIABLE) or region.zammad_access_token
    if not token:
        print("zammad-setup: no admin token (--admin-token or $%s)" % ADMIN_TOKEN_VARIABLE, file=err)
        return 2
    table = services.regions.table
    if args.dry_run:
        return _setup(args, settings, table, region, token, out, err)
    # One setup of a region at a time: two at once would make two webhooks, or store a secret
    # no webhook has. The lease outlasts any run, so one that died holds it until it runs out.
    now = services.clock()
    if not table.take_setup_lease(region.slug, now, now + SETUP_LEASE_SECONDS):
        print(
            "zammad-setup: another zammad-setup of %s is running (for at most %d s more); run it "
            "again when that one has ended" % (region.slug, SETUP_LEASE_SECONDS),
            file=err,
        )
        return 1
    try:
        held = table.find(region.slug) or region  # read again under the lease
        return _setup(args, settings, table, held, token, out, err)
    finally:
        table.end_setup_lease(region.slug)


def _setup(
    args: argparse.Namespace,
    settings: Settings,
    table: Any,
    region: Any,
    token: str,
    out: TextIO,
    err: TextIO,
) -> int:
    from chalicelib.zammad_setup.admin import AdminError, ZammadAdmin
    from chalicelib.zammad_setup.setup import ZammadSetup

    group = region.ticket_group or settings.ticket_group
    setup = ZammadSetup(
        ZammadAdmin(region.zammad_url, token),
        region,
        group,
        settings.public_base_url or "",
        args.rotate_secret,
    )
    try:
        steps, secrets = setup.plan()
        for step in steps:
            print(step.line(), file=out)
        if args.dry_run:
            print("dry run: nothing sent to Zammad, nothing stored", file=out)
            return 0
        if all(step.action == "keep" for step in steps):
            print("%s: Zammad is set up for the chat; nothing to change" % region.slug, file=out)
            return 0
        # Stored first: if Zammad fails half-way, the next run makes the webhook with it (a
        # rotation that fails half-way is run again with --rotate-secret: doctor shows it).
        if secrets.webhook_token or secrets.webhook_secret:
            region.zammad_webhook_token = secrets.webhook_token or region.zammad_webhook_token
            region.zammad_webhook_secret = secrets.webhook_secret or region.zammad_webhook_secret
            region.webhook_refused_at = None  # refusals of the old secret are history
            table.save(region)
        setup.apply(steps)
    except AdminError as error:
        print("zammad-setup: %s" % error, file=err)
        if args.rotate_secret:
            print("zammad-setup: the new secret is stored; run the command again", file=err)
        return 1
    print("%s: Zammad is set up for the chat" % region.slug, file=out)
    return 0


def doctor(args: argparse.Namespace, settings: Settings, services: Any, out: TextIO, err: TextIO) -> int:
    """Read-only. The token: $ZAMMAD_ADMIN_TOKEN when set (the admin objects need it), else
    each region's own; a check it may not read fails, saying which permission it lacks."""
    import json

    from chalicelib.zammad_setup.doctor import Doctor

    table = services.regions.table
    admin_token = os.environ.get(ADMIN_TOKEN_VARIABLE) or None
    admin_url = os.environ.get(ADMIN_URL_VARIABLE) or None
    if args.region:
        found = table.find(args.region)
        if found is None:
            print("doctor: no region %r here" % args.region, file=err)
            return 2
        regions = [found]
        admin_url = admin_url or found.zammad_url  # the operator named the region, and so its Zammad
    else:
        regions = [region for region in table.all() if region.zammad_url]
        if admin_token and not admin_url:
            print(
                "doctor: $%s is one Zammad's: say which ($%s=https://...) or check one region "
                "(--region); regions elsewhere are checked with their own tokens"
                % (ADMIN_TOKEN_VARIABLE, ADMIN_URL_VARIABLE),
                file=err,
            )
            return 2
    doctor = Doctor.for_settings(settings, services.clock, admin_token, admin_url=admin_url)
    failed = False
    for checks in doctor.run(regions):
        for check in checks:
            failed = failed or not check.ok
            print(json.dumps(check._asdict()) if args.json else check.line(), file=out)
    return 1 if failed else 0
