"""The switch-over from the Integreat CMS (docs/migrating.md), as `functions.manage`
commands:

    import-cms DUMP.json [--region SLUG ...] [--dry-run] [--skip-refused]
    compare-cms --cms URL --region SLUG [--devices N] [--settle SECONDS]
    export-cms --dump DUMP.json [--region SLUG ...] [--since ISO] --output FILE

Each prints what it did and never a token, key or hash; the exit status says whether
anything was refused or differs.
"""

import argparse
import sys
import time
from collections import Counter
from typing import Any, TextIO

from chalicelib.platform.config import Settings

COMMANDS = ("import-cms", "compare-cms", "export-cms")


def add_parsers(commands: Any) -> None:
    imports = commands.add_parser("import-cms", help="import the chats, draws and author chat of a CMS dump")
    imports.add_argument("dump", type=argparse.FileType("rb"), help="what `integreat-cms-cli dumpdata` wrote")
    imports.add_argument("--region", action="append", help="only this region (repeatable)")
    imports.add_argument("--dry-run", action="store_true", help="write nothing; print what would be written")
    imports.add_argument(
        "--skip-refused", action="store_true", help="import the rest when records are refused (exit 2)"
    )

    compares = commands.add_parser(
        "compare-cms", help="ask the CMS and this backend the same; print differences"
    )
    compares.add_argument("--cms", required=True, help="the CMS's base URL (its API under /api/v3/)")
    compares.add_argument("--region", required=True)
    compares.add_argument("--devices", type=int, default=50, help="at most this many chats and draws")
    compares.add_argument(
        "--settle",
        type=float,
        default=61,
        help="seconds before a differing chat is asked again (the CMS's cache)",
    )
    exports = commands.add_parser(
        "export-cms", help="this backend's chats and draws as a fixture the CMS loads"
    )
    exports.add_argument(
        "--dump",
        type=argparse.FileType("rb"),
        required=True,
        help="a CMS dump with cms.region and cms.language",
    )
    exports.add_argument("--region", action="append", help="only this region (repeatable)")
    exports.add_argument("--since", help="only chats with a message, and draws made, since (ISO 8601)")
    exports.add_argument("--output", required=True, help="the fixture file to write")


def run(args: Any, settings: Settings, services: Any, out: TextIO, err: TextIO | None = None) -> int:
    err = err or sys.stderr  # the one of the moment (a test's capture), not of the import
    if args.command == "import-cms":
        return import_cms(args, settings, services, out, err)
    if args.command == "compare-cms":
        return compare_cms(args, settings, services, out, err)
    if args.command == "export-cms":
        return export_cms(args, settings, services, out, err)
    raise AssertionError(args.command)


def compare_cms(args: Any, settings: Settings, services: Any, out: TextIO, err: TextIO) -> int:
    from chalicelib.migration.cms_compare import CmsApi, CmsUnreachable, compare, imported_devices

    region = services.regions.get(args.region)
    chats, draws = imported_devices(
        services.user_chats.cms_chats(settings.ticket_retention_days * 86400),
        region.slug,
        max(args.devices, 0),
    )
    try:
        found = compare(CmsApi(args.cms), services.user_chats, region, chats, draws, settle=args.settle)
    except CmsUnreachable as error:
        say("error: %s; nothing was compared" % error, err)
        return 1
    for difference in found:
        say("%s %s: %s" % difference, out)
    print(
        "%s: compared %d chats and %d draws with the CMS: %d difference(s)"
        % (region.slug, len(chats), len(draws), len(found)),
        file=out,
    )
    return 1 if found else 0


def import_cms(args: Any, settings: Settings, services: Any, out: TextIO, err: TextIO) -> int:
    from chalicelib.migration.cms_dump import DumpError, read_dump
    from chalicelib.migration.cms_import import CmsImport

    now = services.clock()
    try:
        with args.dump:
            dump = read_dump(
                args.dump.read(),
                now,
                settings.ticket_retention_days,
                settings.author_chat_history_days,
                set(args.region) if args.region else None,
            )
    except DumpError as error:
        say("error: %s: %s" % (args.dump.name, error), err)
        return 1
    importer = CmsImport(
        services.regions,
        services.user_chats.cms_chats(settings.ticket_retention_days * 86400),
        history_days=settings.author_chat_history_days,
        dry_run=args.dry_run,
    )
    # Every check before the first write, the dry run's too: all or nothing.
    refused_regions = importer.check_regions(dump)
    refused = dump.refused + refused_regions
    for refusal in refused:
        say("refused: %s: %s" % refusal, err)
    if refused and not args.skip_refused:
        print(
            "error: %d record(s) refused; nothing was written (fix the dump, or --skip-refused)"
            % len(refused),
            file=err,
        )
        return 1
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print("%s %d of %d records" % ("checked" if args.dry_run else "imported", done, total), file=err)

    skip = frozenset(r.record.split(" ", 1)[1] for r in refused_regions)
    report = importer.run(dump, progress, skip_regions=skip)
    for refusal in report.refused:
        say("refused: %s: %s" % refusal, err)
    for verb, words in report.notes:
        say("%s: %s" % ("to change" if args.dry_run and verb == "changed" else verb, words), out)
    print(summary(report.counts), file=out)
    seconds = time.monotonic() - started
    records = len(dump.regions) + len(dump.chats) + len(dump.draws) + len(dump.author_messages)
    print(
        "%s%d records in %.1f s" % ("dry run, nothing written: " if args.dry_run else "", records, seconds),
        file=out,
    )
    return 2 if refused or report.refused else 0


# The table's columns: (kind, outcome, heading).
COLUMNS = [
    ("settings", "new", "settings"),
    ("chats", "new", "chats new"),
    ("chats", "here", "here"),
    ("chats", "updated", "updated"),
    ("chats", "replaced", "replaced"),
    ("chats", "gone", "gone"),
    ("chats", "kept", "kept"),
    ("chats", "expired", "expired"),
    ("chats", "superseded", "older"),
    ("draws", "new", "draws new"),
    ("draws", "here", "here"),
    ("draws", "kept", "kept"),
    ("draws", "superseded", "older"),
]
LEGEND = (
    "new: imported (with --dry-run: to import); here: imported before; updated: its last "
    "message in the CMS is newer; replaced: by the device's newer chat in the CMS; gone: from "
    "the CMS, removed here; kept: the device's chat here is ours (begun or written to here), "
    "which stays; expired: no message within the retention; older: the device has a newer "
    "one (the CMS shows the newest)"
)


def export_cms(args: Any, settings: Settings, services: Any, out: TextIO, err: TextIO) -> int:
    import json
    from datetime import UTC, datetime

    from chalicelib.migration.cms_dump import DumpError, load
    from chalicelib.migration.cms_export import export

    try:
        with args.dump:
            cms_dump = load(args.dump.read())
        since = 0.0
        if args.since:
            moment = datetime.fromisoformat(args.since)
            since = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    except DumpError as error:
        say("error: %s: %s" % (args.dump.name, error), err)
        return 1
    except ValueError:
        print("error: --since is not an ISO 8601 date and time: %r" % args.since, file=err)
        return 1
    now = services.clock()
    result = export(
        cms_dump,
        set(args.region) if args.region else None,
        since,
        now,
        settings.ticket_retention_days * 86400,
        services.user_chats.cms_chats(settings.ticket_retention_days * 86400),
    )
    for refusal in result.refused:
        say("refused: %s: %s" % refusal, err)
    with open(args.output, "w", encoding="utf-8") as file:
        json.dump(result.records, file, indent=1, ensure_ascii=False)
    kinds = Counter(record["model"] for record in result.records)
    print(
        "wrote %s: %d chats, %d draws (load it: integreat-cms-cli loaddata %s)"
        % (args.output, kinds["cms.userchat"], kinds["cms.abtester"], args.output),
        file=out,
    )
    return 2 if result.refused else 0


def summary(counts: Counter) -> str:
    """One row per region, one column per kind and outcome; the author chat and the
    records of other models below."""
    regions = sorted({region for region, _kind, _outcome in counts if region})
    width = max([len("region")] + [len(region) for region in regions])
    lines = ["%-*s  %s" % (width, "region", "  ".join(heading for _k, _o, heading in COLUMNS))]
    for region in regions:
        cells = [
            "%*s" % (len(heading), _cell(counts, region, kind, outcome)) for kind, outcome, heading in COLUMNS
        ]
        lines.append("%-*s  %s" % (width, region, "  ".join(cells)))
    author = {outcome: n for (region, kind, outcome), n in counts.items() if kind == "author messages"}
    lines.append(
        "author chat: %d new, %d here, %d older than the window"
        % (author.get("new", 0), author.get("here", 0), author.get("older", 0))
    )
    others = sorted((shown(why), n) for (_r, kind, why), n in counts.items() if kind == "other models")
    if others:
        lines.append("not read (other models): " + ", ".join("%s %d" % item for item in others))
    lines.append(LEGEND)
    return "\n".join(lines)


def _cell(counts: Counter, region: str, kind: str, outcome: str) -> str:
    if kind == "settings":
        if counts[(region, kind, "new")]:
            return "written"
        return "same" if counts[(region, kind, "unchanged")] else "-"
    return str(counts[(region, kind, outcome)])


def say(text: str, file: TextIO) -> None:
    """Print one line that holds what a dump (or the CMS) says, every character that is not
    printable (a new line among them) escaped: a record's key or a model's name can neither
    clear the screen nor print a line of its own."""
    print(shown(text), file=file)


def shown(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
