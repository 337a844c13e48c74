"""The Lambda package Chalice builds, trimmed and measured.

    python -m deploy.package trim dist/deployment.zip    # run by `make package`
    python -m deploy.package sizes dist/deployment.zip   # what is in it, by package

Two thirds of Chalice's zip are botocore's service models: one directory per AWS service
(about 450), of which the functions call four. `trim` keeps those four and drops the rest.
It keeps botocore itself, at the version pinned in requirements.txt and tested here: the
Lambda runtime has a botocore of its own, but one AWS updates when it likes (AWS advises
packaging the SDK for control over it), and pynamodb and our clients would meet a version
no test ran. A client for a service whose model was dropped fails when it is made
(UnknownServiceError): tests/integration/test_package.py makes every client the code makes
from the trimmed zip, so a new service cannot be forgotten here unnoticed.
"""

import argparse
import collections
import os
import shutil
import tempfile
import zipfile

# The services whose clients the functions make: DynamoDB (pynamodb), SQS (chatbot/queue.py),
# S3 (attachments/bucket.py), API Gateway's management API (realtime/sender.py).
AWS_SERVICES = ("dynamodb", "s3", "sqs", "apigatewaymanagementapi")
MODELS = "botocore/data/"


def kept(name: str) -> bool:
    """Whether a zip entry stays: everything but the models of services we never call
    (the files directly in botocore/data/, endpoints and partitions, all stay)."""
    if not name.startswith(MODELS):
        return True
    service, _, rest = name[len(MODELS) :].partition("/")
    return not rest or service in AWS_SERVICES


def trim(path: str) -> tuple[int, int]:
    """Rewrite the zip without the unused models; its size before and after, in bytes."""
    before = os.path.getsize(path)
    with (
        tempfile.NamedTemporaryFile(dir=os.path.dirname(path) or ".", delete=False) as out,
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        for info in source.infolist():
            if kept(info.filename):  # copied with its name, mode and compression
                with source.open(info) as data, target.open(info, "w") as copy:
                    shutil.copyfileobj(data, copy)
    os.replace(out.name, path)
    return before, os.path.getsize(path)


def sizes(path: str) -> list[tuple[str, int]]:
    """Compressed bytes per top-level package (a module or .so at the top is its own)."""
    totals: collections.Counter[str] = collections.Counter()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            top = info.filename.split("/")[0]
            if top.endswith(".dist-info"):
                top = "(dist-info)"
            totals[top] += info.compress_size
    return totals.most_common()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["trim", "sizes"])
    parser.add_argument("zip")
    args = parser.parse_args()
    if args.what == "trim":
        before, after = trim(args.zip)
        print("%s: %.1f MB, %.1f MB without unused service models" % (args.zip, before / 1e6, after / 1e6))
        return
    for package, size in sizes(args.zip):
        print("%-28s %8.1f KB" % (package, size / 1024))


if __name__ == "__main__":
    main()
