"""An emulated AWS account for rehearsing `make deploy` (tests/rehearsal/): moto's server,
made to deploy a template as CloudFormation would, as far as moto models AWS.

    python -m devtools.aws_account --port 5000     # then AWS_ENDPOINT_URL=http://localhost:5000

CloudFormation applies the SAM transform that Chalice's template declares; moto (5.2.5) does
not, and skips the serverless types with a warning, so a stack would come up without its
functions. This server applies it with AWS's own translator (aws-sam-translator) to every
template it is given, CreateStack's and CreateChangeSet's alike (`expand`). Then it takes out
what moto does not model (`NOT_MODELLED`: moto would skip each with a warning, or fail on it),
putting a placeholder where the rest of the template names them (`for_moto`), so that what
moto does model is created and can be compared with the template, resource by resource.

Use `http://localhost:<port>`, not 127.0.0.1, as the endpoint: moto finds the bucket of a
template uploaded by `aws cloudformation deploy --s3-bucket` only in a URL naming localhost.
"""

import argparse
import copy
import re
from typing import Any

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

# The types of the expanded template that moto's CloudFormation does not create, and why. Each
# is held otherwise: cfn-lint checks the whole template against CloudFormation's schemas, and
# the test named here checks its properties (tests/rehearsal/test_stack.py keeps the names true).
NOT_MODELLED: dict[str, tuple[str, str]] = {
    "AWS::ApiGateway::RestApi": (
        "moto creates no resources from an OpenAPI Body (nor a swagger one) and needs a Name",
        "tests/rehearsal/test_stack.py::test_every_api_path_reaches_the_api_function",
    ),
    "AWS::ApiGateway::Deployment": (
        "fails on an API without methods (see RestApi)",
        "tests/rehearsal/test_stack.py::test_every_api_path_reaches_the_api_function",
    ),
    "AWS::ApiGateway::Stage": (
        "not modelled",
        "tests/integration/test_package.py::test_throttling_waf_and_cloudfront_are_in_the_template",
    ),
    "AWS::ApiGateway::GatewayResponse": (
        "not modelled",
        "tests/integration/test_package.py::test_the_gateway_answers_unknown_paths_in_our_error_shape",
    ),
    "AWS::ApiGatewayV2::Api": (
        "no ApiGatewayV2 type is modelled",
        "tests/rehearsal/test_stack.py::test_each_websocket_route_reaches_its_function",
    ),
    "AWS::ApiGatewayV2::Integration": (
        "no ApiGatewayV2 type is modelled",
        "tests/rehearsal/test_stack.py::test_each_websocket_route_reaches_its_function",
    ),
    "AWS::ApiGatewayV2::Route": (
        "no ApiGatewayV2 type is modelled",
        "tests/rehearsal/test_stack.py::test_each_websocket_route_reaches_its_function",
    ),
    "AWS::ApiGatewayV2::Deployment": (
        "no ApiGatewayV2 type is modelled",
        "tests/rehearsal/test_stack.py::test_each_websocket_route_reaches_its_function",
    ),
    "AWS::ApiGatewayV2::Stage": (
        "no ApiGatewayV2 type is modelled",
        "tests/integration/test_package.py::test_the_functions_that_send_events_know_the_websocket_endpoint_and_may_post",
    ),
    "AWS::CloudWatch::Alarm": (
        "not modelled (and the dashboard's references to alarms fail moto's validation)",
        "tests/unit/test_monitoring.py::test_every_alarm_on_our_namespace_names_a_metric_the_code_writes_with_its_dimensions",
    ),
    "AWS::CloudWatch::Dashboard": (
        "not modelled",
        "tests/unit/test_monitoring.py::test_the_dashboard_shows_the_alarms_and_searches_only_metrics_the_code_writes",
    ),
    "AWS::CloudFront::Distribution": (
        "not modelled",
        "tests/integration/test_package.py::test_throttling_waf_and_cloudfront_are_in_the_template",
    ),
    "AWS::CloudFront::Function": (
        "not modelled",
        "tests/integration/test_package.py::test_throttling_waf_and_cloudfront_are_in_the_template",
    ),
    "AWS::S3::BucketPolicy": (
        "not modelled",
        "tests/integration/test_package.py::test_the_files_bucket_is_private_encrypted_and_forgets",
    ),
    "AWS::SQS::QueuePolicy": (
        "not modelled",
        "tests/rehearsal/test_stack.py::test_the_bucket_tells_the_queue_of_uploads_and_may",
    ),
    "AWS::WAFv2::WebACL": (
        "not modelled",
        "tests/integration/test_package.py::test_throttling_waf_and_cloudfront_are_in_the_template",
    ),
    "AWS::WAFv2::WebACLAssociation": (
        "not modelled",
        "tests/integration/test_package.py::test_throttling_waf_and_cloudfront_are_in_the_template",
    ),
}


# Types moto creates without some of their properties: what it leaves out is held the same way.
PARTLY_MODELLED: dict[str, tuple[str, str]] = {
    "AWS::DynamoDB::Table": (
        "TimeToLiveSpecification is ignored (TTL stays off)",
        "tests/integration/test_package.py::test_the_template_creates_every_table_with_ttl",
    ),
    "AWS::S3::Bucket": (
        "NotificationConfiguration and LifecycleConfiguration are ignored",
        "tests/integration/test_package.py::test_the_files_bucket_is_private_encrypted_and_forgets",
    ),
}


class _NoManagedPolicies:
    """The translator's loader of AWS managed policy ARNs by name: our template names none
    (every role's policy is inline), so a name would fail the transform, as it should here."""

    def load(self) -> dict[str, str]:
        return {}


def expand(template: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation runs it: with the SAM transform applied, if it declares it
    (the pseudo parameters' region is AWS_DEFAULT_REGION's)."""
    transform = template.get("Transform")
    declared = transform if isinstance(transform, list) else [transform]
    if SAM_TRANSFORM not in declared:
        return template
    from samtranslator.translator.transform import transform as sam_transform

    expanded: dict[str, Any] = sam_transform(copy.deepcopy(template), {}, _NoManagedPolicies())
    return expanded


def placeholder(logical_id: str, attribute: str | None = None) -> str:
    """What a reference to a resource moto does not model reads as."""
    if attribute is None:
        return "not-modelled-%s" % logical_id
    return "arn:aws:not-modelled:::%s/%s" % (logical_id, attribute)


def for_moto(template: dict[str, Any]) -> dict[str, Any]:
    """The expanded template without the types moto does not model, and every Ref, Fn::GetAtt,
    Fn::Sub variable and DependsOn naming one of them replaced by a placeholder."""
    resources = template.get("Resources", {})
    gone = {name for name, resource in resources.items() if resource.get("Type") in NOT_MODELLED}

    def bridged(value: Any) -> Any:
        if isinstance(value, list):
            return [bridged(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"} and value["Ref"] in gone:
            return placeholder(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            name, attribute = target if isinstance(target, list) else target.split(".", 1)
            if name in gone:
                return placeholder(name, attribute)
        if set(value) == {"Fn::Sub"}:
            text, variables = (
                (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
            )

            def variable(match: re.Match) -> str:
                name, _, attribute = match.group(1).partition(".")
                if name in gone and name not in variables:
                    return placeholder(name, attribute or None)
                return match.group(0)

            text = re.sub(r"\$\{([A-Za-z0-9:.]+)\}", variable, text)
            return {"Fn::Sub": text if not variables else [text, bridged(variables)]}
        return {key: bridged(item) for key, item in value.items()}

    kept: dict[str, Any] = {}
    for name, resource in resources.items():
        if name in gone:
            continue
        resource = bridged(resource)
        depends = resource.get("DependsOn")
        if depends is not None:
            depends = [depends] if isinstance(depends, str) else depends
            resource["DependsOn"] = [d for d in depends if d not in gone]
            if not resource["DependsOn"]:
                del resource["DependsOn"]
        kept[name] = resource
    ready = {key: bridged(value) for key, value in template.items() if key != "Resources"}
    ready["Resources"] = kept
    return ready


def _deploy_as_cloudformation(parse: Any) -> Any:
    def parse_template(template: str) -> dict[str, Any]:
        return for_moto(expand(parse(template)))

    return parse_template


def patch_moto() -> None:
    """moto's CloudFormation, from here on, reads every template through expand and for_moto,
    and a stack made by a change set has its Outputs."""
    from moto.cloudformation import models

    parse = models.Stack.parse_template
    models.Stack.parse_template = staticmethod(_deploy_as_cloudformation(parse))  # type: ignore[method-assign]

    def change_set_template(change_set: Any) -> None:
        change_set.template_dict = models.Stack.parse_template(change_set.template)

    models.ChangeSet._parse_template = change_set_template  # type: ignore[method-assign,assignment]
    apply = models.ChangeSet.apply

    def apply_with_outputs(change_set: Any) -> None:
        # moto leaves a stack made by a change set without Outputs (it reads them at CreateStack).
        apply(change_set)
        change_set.stack.template_dict = change_set.template_dict
        change_set.stack.output_map = change_set.stack._create_output_map()

    models.ChangeSet.apply = apply_with_outputs  # type: ignore[method-assign,assignment]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.aws_account", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    patch_moto()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    print("Emulated AWS account at http://localhost:%d" % port, flush=True)
    try:
        import threading

        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
