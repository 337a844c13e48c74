"""The deployment rehearsed (docs/deploying.md, "The rehearsal"): `make deploy` itself on an
emulated account (devtools/aws_account.py: moto's server with the SAM transform), then each
function of the stack from the zip that command shipped, under AWS's runtime interface client
(devtools/lambda_runtime.py), with its environment as the stack made it."""

import json
import subprocess
import sys
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

import boto3
import pytest

from devtools.aws_account import expand
from devtools.lambda_runtime import LambdaFunction, runtime_dir
from devtools.loopback_server import LoopbackServer
from tests.conftest import JWT_SECRET, PROJECT, python_env
from tests.support.servers import free_port, wait_for_http

STACK = "integreat-chat-prod"
CODE_BUCKET = "integreat-chat-code"
# Every optional part on, so that every resource of the template is in the comparison.
# (the customer-managed key is made on the account first; `deployed` adds its ARN).
PARAMETERS = {
    "FilesEnabled": "true",
    "CmsOriginDomain": "cms.example.org",
    "WafRequestsPerIpPer5Minutes": "600",
    "XRayTracing": "Active",
    "AlarmTopicArn": "arn:aws:sns:eu-central-1:123456789012:integreat-chat-alarms",
}
REGION = "eu-central-1"


class Account(NamedTuple):
    url: str  # http://localhost:<port> (see devtools/aws_account.py)

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


class Deployed(NamedTuple):
    out: Path  # make deploy's OUT: sam.json, deployment.zip, packaged.yaml
    output: str  # what make deploy printed
    template: dict[str, Any]  # packaged.yaml expanded, as CloudFormation ran it
    zip_dir: Path  # deployment.zip unpacked, as Lambda unpacks it into /var/task
    parameters: dict[str, str]  # the stack's


@pytest.fixture(scope="session")
def account(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("account") / "moto.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.aws_account", "--port", str(port)],
            cwd=str(PROJECT),
            env=python_env(AWS_DEFAULT_REGION=REGION),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http("http://127.0.0.1:%d/moto-api/" % port, process=process)
        yield Account("http://localhost:%d" % port)
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def deployed(account, tmp_path_factory):
    """`make deploy` as an operator runs it, against the emulated account."""
    from samtranslator.yaml_helper import yaml_parse

    account.client("s3").create_bucket(
        Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    key = account.client("kms").create_key(Description="integreat-chat at rest")["KeyMetadata"]["Arn"]
    parameters = dict(PARAMETERS, KmsKeyArn=key)
    out = tmp_path_factory.mktemp("deploy")
    env = python_env(AWS_ENDPOINT_URL=account.url, AWS_DEFAULT_REGION=REGION)
    env.pop("PYTHONPATH")  # as from the operator's shell
    overrides = " ".join("%s=%s" % item for item in parameters.items())
    result = subprocess.run(
        ["make", "deploy", "STAGE=prod", "BUCKET=" + CODE_BUCKET, "OUT=%s" % out, "PARAMETERS=" + overrides],
        cwd=str(PROJECT), env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    zip_dir = out / "task"
    with zipfile.ZipFile(out / "deployment.zip") as deployment:
        deployment.extractall(zip_dir)
    template = expand(yaml_parse((out / "packaged.yaml").read_text()))
    return Deployed(out, result.stdout, template, zip_dir, parameters)


class ManagementApi(LoopbackServer):
    """API Gateway's management API of the WebSocket API, recording what the functions post
    to a connection (`POST /@connections/<id>`)."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[tuple[str, Any]] = []

    class handler(BaseHTTPRequestHandler):  # LoopbackServer's attribute
        protocol_version = "HTTP/1.1"
        emulator: "ManagementApi"

        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            connection = unquote(self.path.rsplit("/@connections/", 1)[-1])
            self.emulator.posted.append((connection, json.loads(data)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture(scope="session")
def management_api():
    with ManagementApi() as api:
        yield api


@pytest.fixture(scope="session")
def stack_functions(deployed, account):
    """Each function's configuration as the stack made it, by logical id."""
    resources = account.client("cloudformation").list_stack_resources(StackName=STACK)[
        "StackResourceSummaries"
    ]
    client = account.client("lambda")
    return {
        r["LogicalResourceId"]: client.get_function_configuration(FunctionName=r["PhysicalResourceId"])
        for r in resources
        if r["ResourceType"] == "AWS::Lambda::Function"
    }


@pytest.fixture(scope="session")
def start_function(deployed, account, stack_functions, management_api, tmp_path_factory):
    """Starts a function of the stack (by logical id) from the shipped zip. Its environment
    is the stack's, plus what Lambda and the operator add: the role's credentials, the region,
    the secret set out of band (AUTH_JWT_SECRET), and `extra`. The emulated account stands
    for AWS's endpoints (AWS_ENDPOINT_URL), and the recorder for the WebSocket API's."""
    logs = tmp_path_factory.mktemp("functions")

    def start(logical_id: str, **extra: str) -> LambdaFunction:
        configuration = stack_functions[logical_id]
        environment = {
            **configuration["Environment"]["Variables"],
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": account.url,
            "AUTH_JWT_SECRET": JWT_SECRET,
            **extra,
        }
        if "WEBSOCKET_ENDPOINT" in environment:
            environment["WEBSOCKET_ENDPOINT"] = management_api.url
        function = LambdaFunction(
            deployed.zip_dir,
            configuration["Handler"],
            environment,
            runtime_dir(),
            function_name=configuration["FunctionName"],
            memory_mb=configuration["MemorySize"],
            timeout_seconds=configuration["Timeout"],
            log_path=logs / (logical_id + ".log"),
        )
        return function.start()

    return start
