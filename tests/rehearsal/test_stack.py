"""`make deploy` goes through on the emulated account, and the stack holds every resource of
the template as CloudFormation expands it: created there, or of a type moto does not model,
each such type named with the test that holds its properties."""

import ast
import json
from typing import Any

from devtools.aws_account import NOT_MODELLED, PARTLY_MODELLED
from tests.conftest import PROJECT
from tests.rehearsal.conftest import CODE_BUCKET, STACK


def condition_holds(template: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    """A template condition under the stack's parameters (their defaults unless given)."""

    def value(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            default = template["Parameters"][node["Ref"]].get("Default")
            return parameters.get(node["Ref"], default)
        if isinstance(node, dict):
            [(function, arguments)] = node.items()
            if function == "Condition":
                return value(template["Conditions"][arguments])
            if function == "Fn::Equals":
                left, right = (str(value(argument)) for argument in arguments)
                return left == right
            if function == "Fn::Not":
                return not value(arguments[0])
            if function == "Fn::And":
                return all(value(argument) for argument in arguments)
            if function == "Fn::Or":
                return any(value(argument) for argument in arguments)
            raise ValueError("condition function %s" % function)
        return node

    return bool(value(template["Conditions"][name]))


def test_make_deploy_goes_through_and_prints_the_stacks_outputs(deployed, account):
    assert "Successfully created/updated stack - %s" % STACK in deployed.output
    assert "APIHandlerArn" in deployed.output and "EndpointURL" in deployed.output  # the outputs table
    [stack] = account.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    # The code and the template (too large to send inline) both went by the bucket.
    keys = [o["Key"] for o in account.client("s3").list_objects_v2(Bucket=CODE_BUCKET)["Contents"]]
    assert any(key.endswith(".template") for key in keys) and len(keys) == 2, keys
    assert len((deployed.out / "packaged.yaml").read_bytes()) > 51_200  # what made it necessary


def test_every_resource_is_created_or_of_a_type_moto_does_not_model(deployed, account):
    template = deployed.template
    expected = {
        name: resource["Type"]
        for name, resource in template["Resources"].items()
        if "Condition" not in resource
        or condition_holds(template, resource["Condition"], deployed.parameters)
    }
    summaries = []
    for page in (
        account.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=STACK)
    ):
        summaries += page["StackResourceSummaries"]
    # moto lists its pseudo parameters (AWS::Region, ...) among them, without a logical id.
    created = {s["LogicalResourceId"]: s["ResourceType"] for s in summaries if s["LogicalResourceId"]}
    assert {s["ResourceStatus"] for s in summaries} == {"CREATE_COMPLETE"}
    assert {name: expected[name] for name in created} == created  # nothing made that is not asked for
    missing = {name: kind for name, kind in expected.items() if name not in created}
    unexplained = {name: kind for name, kind in missing.items() if kind not in NOT_MODELLED}
    assert not unexplained, "moto skipped these without a word: %s" % unexplained
    # The list stays short and true: each type on it is in the template and was left out.
    assert set(NOT_MODELLED) == set(missing.values())
    assert {"AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::SQS::Queue"} <= set(created.values())
    functions = [name for name, kind in created.items() if kind == "AWS::Lambda::Function"]
    assert len(functions) == 9, functions


def test_each_type_moto_does_not_model_is_held_by_a_test_that_exists():
    for kind, (_why, test) in {**NOT_MODELLED, **PARTLY_MODELLED}.items():
        path, _, name = test.partition("::")
        tree = ast.parse((PROJECT / path).read_text())
        names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert name in names, "%s is said to be held by %s, which does not exist" % (kind, test)


def _function_named(value: Any) -> str:
    """The function a Lambda integration URI names (Chalice's two ways of writing it)."""
    sub = value["Fn::Sub"]
    if isinstance(sub, list):
        return sub[1]["WebsocketHandler"]["Ref"]
    return sub.split("/functions/${", 1)[1].split(".Arn}", 1)[0]


def test_every_api_path_reaches_the_api_function(deployed):
    """What API Gateway imports from the REST API's body (moto does not): every method of
    every path is a proxy integration of the API function, which may be invoked by API Gateway."""
    resources = deployed.template["Resources"]
    body = resources["RestAPI"]["Properties"]["Body"]
    integrations = [
        method["x-amazon-apigateway-integration"]
        for methods in body["paths"].values()
        for verb, method in methods.items()
        if verb != "options" or "x-amazon-apigateway-integration" in method
    ]
    assert len(integrations) > 100  # 24 paths, seven methods each
    assert {(i["type"], i["httpMethod"]) for i in integrations} == {("aws_proxy", "POST")}
    assert {_function_named(i["uri"]) for i in integrations} == {"APIHandler"}
    permission = resources["APIHandlerInvokePermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["FunctionName"] == {"Ref": "APIHandler"}
    [stage] = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert stage["Properties"]["StageName"] == "api"


def test_each_websocket_route_reaches_its_function(deployed):
    resources = deployed.template["Resources"]
    routes = {
        r["Properties"]["RouteKey"]: r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    expected = {
        "$connect": "WebsocketConnect",
        "$default": "WebsocketMessage",
        "$disconnect": "WebsocketDisconnect",
    }
    assert set(routes) == set(expected)
    for key, function in expected.items():
        integration_id = routes[key]["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        integration = resources[integration_id]["Properties"]
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert _function_named(integration["IntegrationUri"]) == function
        permission = resources[function + "InvokePermission"]["Properties"]
        assert permission["Principal"] == "apigateway.amazonaws.com"
    [deployment] = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Deployment"]
    assert set(deployment["DependsOn"]) >= {name + "Route" for name in expected.values()}


def test_the_bucket_tells_the_queue_of_uploads_and_may(deployed):
    """S3's notification of an upload reaches the worker's queue (docs/files.md): the bucket
    names the queue for uploads/, and the queue's policy lets this bucket of this account send."""
    resources = deployed.template["Resources"]
    [notice] = resources["FilesBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notice["Queue"] == {"Fn::GetAtt": ["ChatbotQueue", "Arn"]}
    assert notice["Event"] == "s3:ObjectCreated:*"
    assert notice["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "uploads/"}]
    [policy] = [r for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert policy["Properties"]["Queues"] == [{"Ref": "ChatbotQueue"}]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (
        statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    )
    bucket_name = resources["FilesBucket"]["Properties"]["BucketName"]
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"][1]["Name"] == bucket_name
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # The bucket's notification needs the policy first, or CloudFormation cannot validate it.
    assert policy_first(resources)


def policy_first(resources: dict[str, Any]) -> bool:
    depends = resources["FilesBucket"].get("DependsOn", [])
    names = [depends] if isinstance(depends, str) else depends
    return any(resources[name]["Type"] == "AWS::SQS::QueuePolicy" for name in names)


def test_the_functions_have_the_template_s_settings(deployed, stack_functions):
    """What moto's Lambda holds is what the template asked for, intrinsic functions resolved."""
    sam = json.loads((deployed.out / "sam.json").read_text())["Resources"]
    for name, configuration in stack_functions.items():
        properties = sam[name]["Properties"]
        assert configuration["Handler"] == properties["Handler"]
        assert configuration["Runtime"] == "python3.11"
        assert (configuration["Timeout"], configuration["MemorySize"]) == (
            properties["Timeout"],
            properties["MemorySize"],
        )
        variables = configuration["Environment"]["Variables"]
        assert variables["CHAT_TABLE_PREFIX"] == "integreat-chat-"
        if "ATTACHMENT_BUCKET" in properties["Environment"]["Variables"]:
            assert variables["ATTACHMENT_BUCKET"].startswith("integreat-chat-files-")  # FilesEnabled=true
