"""The Lambda package Chalice builds, trimmed, compiled and measured.

    python -m deploy.package trim dist/deployment.zip      # run by `make package`
    python -m deploy.package compile dist/deployment.zip   # run by `make package`, after trim
    python -m deploy.package sizes dist/deployment.zip     # what is in it, by package

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
import importlib.util
import os
import py_compile
import shutil
import sys
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


def compile_bytecode(path: str) -> int:
    """Add each module's bytecode to the zip; the number of modules compiled.

    Lambda's /var/task is read-only and Chalice's zip holds no bytecode, so every cold start
    compiled every module it imported: about two thirds of the API's init (make bench,
    "Cold start"). The files are unchecked-hash .pyc (PEP 552): Python uses them as they are,
    whatever the times the zip's entries carry, and they can only have come from the sources
    beside them, compiled here. They are named for this Python (cpython-311), which must be
    the functions' runtime (Chalice packages for the Python that runs it); another Python
    would ignore them and compile as before.
    """
    compiled = 0
    with (
        tempfile.TemporaryDirectory() as scratch,
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive,
    ):
        names = set(archive.namelist())
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            bytecode = importlib.util.cache_from_source(name)
            if bytecode in names:
                continue
            source = os.path.join(scratch, name)
            os.makedirs(os.path.dirname(source), exist_ok=True)
            with open(source, "wb") as copy:
                copy.write(archive.read(name))
            target = os.path.join(scratch, bytecode)
            try:
                py_compile.compile(
                    source,
                    cfile=target,
                    dfile=name,
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            except py_compile.PyCompileError:
                continue  # not this Python's syntax (a vendored file never imported): left to fail as before
            info = zipfile.ZipInfo(bytecode, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(target, "rb") as data:
                archive.writestr(info, data.read())
            compiled += 1
    return compiled


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
    parser.add_argument("what", choices=["trim", "compile", "sizes"])
    parser.add_argument("zip")
    args = parser.parse_args()
    if args.what == "trim":
        before, after = trim(args.zip)
        print("%s: %.1f MB, %.1f MB without unused service models" % (args.zip, before / 1e6, after / 1e6))
        return
    if args.what == "compile":
        modules = compile_bytecode(args.zip)
        megabytes = os.path.getsize(args.zip) / 1e6
        print(
            "%s: %d modules compiled (%s), %.1f MB"
            % (args.zip, modules, sys.implementation.cache_tag, megabytes)
        )
        return
    for package, size in sizes(args.zip):
        print("%-28s %8.1f KB" % (package, size / 1024))


if __name__ == "__main__":
    main()
