"""`make package`: the deployable template has the tables with TTL, our error shapes at the
gateway, and the least-privilege policy; the policy files match the table models."""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib.jobs import JOBS
from chalicelib.storage.connection import ttl_attribute_name
from chalicelib.tables import ALL_MODELS
from deploy.cloudformation import edge, policies, realtime, stage_prefix, tables
from deploy.package import AWS_SERVICES
from tests.conftest import PROJECT


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("package") / "out"
    (PROJECT / "chalicelib" / "__pycache__").mkdir(exist_ok=True)  # as any local run leaves it
    (PROJECT / "chalicelib" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"stale")
    result = subprocess.run(
        ["make", "package", "STAGE=prod", "OUT=%s" % out],
        cwd=str(PROJECT),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_template_creates_every_table_with_ttl(package):
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    tables = {
        r["Properties"]["TableName"]: r for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"
    }
    assert set(tables) == {"integreat-chat-" + model.base_table_name for model in ALL_MODELS}
    for model in ALL_MODELS:
        properties = tables["integreat-chat-" + model.base_table_name]["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["KeySchema"][0]["KeyType"] == "HASH"
        assert sorted(properties["KeySchema"], key=str) == sorted(model._get_schema()["key_schema"], key=str)
        ttl = ttl_attribute_name(model)
        if ttl:
            assert properties["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in properties
    regions = tables["integreat-chat-regions"]["Properties"]
    assert [i["IndexName"] for i in regions["GlobalSecondaryIndexes"]] == ["webhook-token"]


def test_cloudformation_lint_passes(package):
    """cfn-lint checks the template against CloudFormation's and SAM's schemas and rules."""
    cfn_lint = Path(sys.executable).with_name("cfn-lint")  # the virtualenv's script
    result = subprocess.run(
        [str(cfn_lint), str(package / "sam.json")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gateway_answers_unknown_paths_in_our_error_shape(package):
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    missing = resources["GatewayResponseMissingAuthenticationToken"]["Properties"]
    assert missing["StatusCode"] == "404"
    assert json.loads(missing["ResponseTemplates"]["application/json"]) == {"error": "Not found."}
    assert missing["RestApiId"] == {"Ref": "RestAPI"}


def test_every_function_has_the_least_privilege_policy(package):
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    kinds = {
        "APIHandler": "api",
        "PurgeAuthorMessages": "jobs",
        "ForgetExpiredChats": "jobs",
        "SyncCmsRegions": "jobs",
        "ZammadDoctor": "jobs",
    }
    websocket = {"WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect"}  # docs/realtime.md
    assert set(functions) == set(kinds) | {"ChatbotWorker"} | websocket
    kinds["ChatbotWorker"] = "chatbot"
    kinds.update(dict.fromkeys(websocket, "api"))
    for name, function in functions.items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        [policy] = [p["PolicyDocument"] for p in role["Policies"]]
        assert policy == json.loads(policies.policy_path("prod", kinds[name]).read_text())
        tables, scan, _logs = policy["Statement"][:3]
        assert not any(action.endswith("*") for action in tables["Action"] + scan["Action"])
        assert "dynamodb:Scan" not in tables["Action"] and scan["Action"] == ["dynamodb:Scan"]
    api_tables = json.loads(policies.policy_path("prod").read_text())["Statement"][0]
    assert "dynamodb:BatchWriteItem" not in api_tables["Action"]  # only the jobs batch-delete
    for name, job in JOBS.items():
        function = "".join(part.capitalize() for part in name.split("-"))
        [event] = functions[function]["Properties"]["Events"].values()
        assert event["Properties"]["Schedule"] == "rate(%d minutes)" % job.every_minutes
    variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["CHAT_TABLE_PREFIX"] == "integreat-chat-"


def test_the_chatbot_worker_consumes_its_queue_with_a_dead_letter_queue(package):
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    queue = resources["ChatbotQueue"]["Properties"]
    assert queue["QueueName"] == "integreat-chat-chatbot"
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ChatbotDeadLetterQueue", "Arn"]}
    worker = resources["ChatbotWorker"]
    assert worker["DependsOn"] == ["ChatbotQueue"]
    [event] = worker["Properties"]["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["BatchSize"] == 1
    # app.py's answer names the failed messages; without this the mapping would ignore it
    # and take the batch as done.
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["Queue"]["Fn::Sub"].endswith(":integreat-chat-chatbot")
    # Longer than the worker may run (AWS advises six times), so no job runs twice at once.
    assert queue["VisibilityTimeout"] >= 6 * worker["Properties"]["Timeout"]
    api_queue = json.loads(policies.policy_path("prod").read_text())["Statement"][3]
    assert api_queue["Action"] == ["sqs:GetQueueUrl", "sqs:SendMessage"]
    assert api_queue["Resource"] == "arn:aws:sqs:*:*:integreat-chat-chatbot"


def test_the_zip_ships_the_app_and_chalicelib_only(package):
    names = zipfile.ZipFile(package / "deployment.zip").namelist()
    assert "app.py" in names and "chalicelib/api.py" in names
    assert not any(n.startswith(("functions/", "tests/")) for n in names)
    assert "chalice/app.py" in names or any(n.startswith("chalice/") for n in names)
    # Compiled for Lambda's Linux (nh3 is Rust), and the OpenAPI document served at run time.
    assert "nh3/nh3.abi3.so" in names and "chalicelib/openapi.json" in names
    assert "chalicelib/__pycache__/stale.cpython-311.pyc" not in names  # no local bytecode


def test_the_zip_carries_bytecode_of_its_own_sources_for_the_runtimes_python(package):
    """Lambda cannot write bytecode into /var/task: without it every cold start compiles."""
    import importlib.util

    template = json.loads((package / "sam.json").read_text())
    runtimes = {
        r["Properties"]["Runtime"]
        for r in template["Resources"].values()
        if "Runtime" in r.get("Properties", {})
    }
    assert runtimes == {"python%d.%d" % sys.version_info[:2]}  # the Python the bytecode is for
    with zipfile.ZipFile(package / "deployment.zip") as deployment:
        names = set(deployment.namelist())
        ours = [n for n in names if n.endswith(".py") and n.startswith(("app.py", "chalicelib/"))]
        for source in ours:
            bytecode = importlib.util.cache_from_source(source)
            assert bytecode in names, bytecode
            header = deployment.read(bytecode)[:16]
            assert header[:4] == importlib.util.MAGIC_NUMBER
            # PEP 552 flags: hash-based (1), not checked against the source (no 2).
            assert int.from_bytes(header[4:8], "little") == 1
            source_hash = importlib.util.source_hash(deployment.read(source))
            assert header[8:16] == source_hash, "%s is not compiled from %s" % (bytecode, source)
        pycs = [n for n in names if n.endswith(".pyc")]
        assert all(n.count("__pycache__/") == 1 and ".cpython-311." in n for n in pycs)


def test_the_zip_holds_no_in_memory_twin(package):
    # The twins are test doubles (tests/support/memory/): a deployed function has no use for them.
    with zipfile.ZipFile(package / "deployment.zip") as deployment:
        ours = [
            n for n in deployment.namelist() if n.endswith(".py") and n.startswith(("chalicelib/", "app.py"))
        ]
        twins = [n for n in ours if re.search(rb"^class Memory\w*", deployment.read(n), re.M)]
    assert len(ours) > 50 and not twins, twins


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("kind", ["api", "jobs", "chatbot"])
def test_the_committed_policy_files_match_the_models(stage, kind):
    committed = json.loads(policies.policy_path(stage, kind).read_text())
    expected = policies.policy(stage_prefix(stage), kind)
    assert committed == expected, "run `make policy` after changing the table models"


def test_the_jobs_are_named_in_the_config():
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    for stage in ("dev", "prod"):
        functions = config["stages"][stage]["lambda_functions"]
        assert sorted(functions) == sorted((*policies.JOB_FUNCTIONS, policies.WORKER_FUNCTION))


def test_throttling_waf_and_cloudfront_are_in_the_template(package):
    template = json.loads((package / "sam.json").read_text())
    resources = template["Resources"]
    [throttle] = resources["RestAPI"]["Properties"]["MethodSettings"]
    assert throttle["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    throttled = resources["GatewayResponseThrottled"]["Properties"]
    assert throttled["StatusCode"] == "429"
    assert json.loads(throttled["ResponseTemplates"]["application/json"]) == {
        "error": "Too many requests. Please try again later."
    }
    # Optional parts, switched on by stack parameters (cfn-lint checks the whole above).
    acl = resources["RateLimitWebAcl"]
    assert acl["Condition"] == "HasWaf"
    [rule] = acl["Properties"]["Rules"]
    assert rule["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    body = acl["Properties"]["CustomResponseBodies"]["too-many"]
    assert json.loads(body["Content"]) == json.loads(throttled["ResponseTemplates"]["application/json"])
    distribution = resources["ChatDistribution"]
    assert distribution["Condition"] == "HasCloudFront"
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "cms"
    assert [b["TargetOriginId"] for b in config["CacheBehaviors"]] == ["chat"] * 4 + ["realtime"]
    # The real-time channel: its path rewritten to the WebSocket API's stage, nothing cached.
    realtime = config["CacheBehaviors"][-1]
    assert realtime["PathPattern"] == "/api/v3/realtime/"
    assert realtime["CachePolicyId"] == edge.CACHING_DISABLED
    [association] = realtime["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function = resources[association["FunctionARN"]["Fn::GetAtt"][0]]
    assert "event.request.uri = '/api'" in function["Properties"]["FunctionCode"]
    [origin] = [o for o in config["Origins"] if o["Id"] == "realtime"]
    assert "${WebsocketAPI}" in origin["DomainName"]["Fn::Sub"] and "OriginPath" not in origin
    assert template["Parameters"]["CmsOriginDomain"]["Default"] == ""  # off unless asked for


SAMPLE_PATHS = {  # path: served by this backend beside the CMS?
    "/api/v3/augsburg/de/chat/0f8fad5b-d9cb-469f-a165-70867728950e/": True,
    "/api/v3/augsburg/zh-CN/chat/device_1": True,
    "/api/v3/augsburg/de/chat/device_1/attachments/": True,  # an upload form (docs/files.md)
    "/api/v3/augsburg/de/chat/device_1/attachments/57/3/": True,  # a file's link
    "/api/v3/webhook/zammad/": True,
    "/api/v3/webhook/zammad": True,
    "/api/v3/author-chat/messages": True,
    "/api/v3/realtime/": True,  # the WebSocket channel (docs/realtime.md)
    "/api/v3/realtime/other": False,
    "/api/v3/regions/": False,
    "/api/v3/augsburg/0f8fad5b/is_chat_enabled/": False,
    "/api/v3/augsburg/de/pages/": False,
    "/api/v3/admin/regions": False,
    "/api/v3/admin/health": False,  # operators ask the backend's own host (docs/operating.md, Health)
    "/api/v3/health": False,
    "/metrics": False,  # Prometheus scrapes the backend from inside the network
    "/augsburg/de/willkommen/": False,
}


def test_cloudfront_and_nginx_send_the_same_paths_to_the_backend():
    import fnmatch

    locations = (PROJECT / "deploy" / "nginx" / "integreat-chat.locations.conf").read_text()
    regexes = [re.compile(pattern) for pattern in re.findall(r'location ~ "([^"]+)"', locations)]
    prefixes = re.findall(r"location \^~ (\S+)", locations)
    exact = re.findall(r"location = (\S+)", locations)
    patterns = (*edge.CHAT_PATH_PATTERNS, edge.REALTIME_PATH)
    for path, to_backend in SAMPLE_PATHS.items():
        by_nginx = (
            any(r.search(path) for r in regexes) or any(path.startswith(p) for p in prefixes) or path in exact
        )
        by_cloudfront = any(fnmatch.fnmatchcase(path, p) for p in patterns)
        assert (by_nginx, by_cloudfront) == (to_backend, to_backend), path


def test_the_files_bucket_is_private_encrypted_and_forgets(package):
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    bucket = resources["FilesBucket"]["Properties"]
    assert bucket["BucketName"] == {"Fn::Sub": "integreat-chat-files-${AWS::AccountId}-${AWS::Region}"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["Fn::If"][2] == {
        "SSEAlgorithm": "AES256"
    }  # no key given
    days = {
        rule.get("Prefix"): rule.get("ExpirationInDays") for rule in bucket["LifecycleConfiguration"]["Rules"]
    }
    assert days["uploads/"] == 1 and days["files/"] == 31  # the retention (30 days) and a day
    tls = resources["FilesBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for function in ("APIHandler", "ForgetExpiredChats"):
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        assert variables["ATTACHMENT_BUCKET"] == {"Fn::If": ["HasFiles", {"Ref": "FilesBucket"}, ""]}
    api = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert "TRUSTED_IP_HEADER" in api  # the edge's variables are kept beside the bucket's
    jobs_s3 = json.loads(policies.policy_path("prod", "jobs").read_text())["Statement"]
    assert {a for s in jobs_s3 if s["Sid"].startswith("Files") for a in s["Action"]} == {
        "s3:DeleteObject",
        "s3:ListBucket",
    }


def test_a_customer_managed_key_encrypts_tables_queue_and_bucket_when_given(package):
    template = json.loads((package / "sam.json").read_text())
    assert template["Parameters"]["KmsKeyArn"]["Default"] == ""  # off unless given
    resources = template["Resources"]
    kms = {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "KmsKeyArn"}}
    for model in ALL_MODELS:
        table = resources[tables.logical_id(model)]["Properties"]
        assert table["SSESpecification"] == {"Fn::If": ["HasKmsKey", kms, {"SSEEnabled": True}]}
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    for queue in ("ChatbotQueue", "ChatbotDeadLetterQueue"):
        assert resources[queue]["Properties"]["KmsMasterKeyId"]["Fn::If"][1] == {"Ref": "KmsKeyArn"}
    [rule] = resources["FilesBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["Fn::If"][1]["SSEAlgorithm"] == "aws:kms"
    for kind in ("api", "jobs", "chatbot"):
        statements = json.loads(policies.policy_path("prod", kind).read_text())["Statement"]
        assert (
            statements[-1]["Sid"] == "CustomerKey"
            and "kms:ViaService" in statements[-1]["Condition"]["StringLike"]
        )


def test_the_functions_that_send_events_know_the_websocket_endpoint_and_may_post(package):
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    assert resources["WebsocketAPIStage"]["Properties"]["StageName"] == "api"
    for name in realtime.SENDING_FUNCTIONS:
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["WEBSOCKET_ENDPOINT"] == realtime.WEBSOCKET_ENDPOINT
    functions = [name for name, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"]
    quiet = set(functions) - set(realtime.SENDING_FUNCTIONS)
    assert quiet and not [n for n in quiet if "WEBSOCKET_ENDPOINT" in str(resources[n]["Properties"])]
    for kind, sends in (("api", True), ("chatbot", True), ("jobs", False)):
        sids = [s["Sid"] for s in json.loads(policies.policy_path("prod", kind).read_text())["Statement"]]
        assert ("WebsocketConnections" in sids) is sends


CLIENTS = """
import sys
sys.path.insert(0, sys.argv[1])
import botocore.session
from botocore.exceptions import UnknownServiceError
assert botocore.__file__.startswith(sys.argv[1]), botocore.__file__
session = botocore.session.get_session()
for service in sys.argv[2:]:
    session.create_client(service, region_name="eu-central-1")
try:
    session.create_client("lambda", region_name="eu-central-1")
except UnknownServiceError:
    print("trimmed")
"""


def test_every_client_the_code_makes_loads_from_the_trimmed_zip(package, tmp_path):
    # The services named in the code: each botocore_client("...") call, and pynamodb's DynamoDB.
    named = set()
    for path in (PROJECT / "chalicelib").rglob("*.py"):
        named.update(re.findall(r'botocore_client\(\s*"([a-z0-9-]+)"', path.read_text()))
    assert named and named | {"dynamodb"} == set(AWS_SERVICES)
    with zipfile.ZipFile(package / "deployment.zip") as deployment:
        deployment.extractall(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    result = subprocess.run(
        [sys.executable, "-I", "-c", CLIENTS, str(tmp_path), *AWS_SERVICES],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.strip() == "trimmed", result.stdout + result.stderr
    assert (package / "deployment.zip").stat().st_size < 12_000_000  # 24.5 MB untrimmed


HANDLERS = """
import importlib, inspect, json, sys
root = sys.argv[1]
sys.path.insert(0, root)
for handler in json.loads(sys.argv[2]):
    module_name, _, name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    assert module.__file__.startswith(root), module.__file__
    function = getattr(module, name)  # Runtime.HandlerNotFound on Lambda when missing
    inspect.signature(function).bind({}, None)  # Lambda calls it with (event, context)
print("resolved")
"""


def test_every_handler_in_the_template_resolves_from_the_zip_alone(package, tmp_path):
    """As the Lambda runtime finds a handler: the module from the unpacked zip (here with
    nothing but the standard library besides it), the name on it, called with (event, context)."""
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    handlers = sorted(
        {r["Properties"]["Handler"] for r in resources.values() if r["Type"] == "AWS::Serverless::Function"}
    )
    assert len(handlers) == 9, handlers  # the API, four jobs, the worker, three WebSocket routes
    with zipfile.ZipFile(package / "deployment.zip") as deployment:
        deployment.extractall(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "eu-central-1", "AWS_LAMBDA_FUNCTION_NAME": "x"}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", HANDLERS, str(tmp_path), json.dumps(handlers)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.stdout.strip() == "resolved", result.stdout + result.stderr
