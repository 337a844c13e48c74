"""The API's edge: API Gateway's own answers in our error shape, throttling (the stage's
limits, an optional AWS WAF rule per IP) and the optional CloudFront distribution that serves
the chat paths beside the CMS on one host (the paths of deploy/nginx/)."""

import json
from typing import Any

GATEWAY_ERRORS = {  # API Gateway's own answers (no Lambda involved), in our error shape
    "MISSING_AUTHENTICATION_TOKEN": ("404", "Not found."),
    "DEFAULT_4XX": (None, "Bad request."),
    "DEFAULT_5XX": (None, "Internal server error."),
}
# CloudFront's managed policies (the same IDs in every account).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
# The paths CloudFront sends to this backend; everything else goes to the CMS. The same
# paths as deploy/nginx/integreat-chat.locations.conf.
CHAT_PATH_PATTERNS = (
    "/api/v3/*/*/chat/*",
    "/api/v3/webhook/zammad*",
    "/api/v3/author-chat/*",
    "/api/v3/push/*",
)
# The real-time channel on the same host (docs/realtime.md). API Gateway's WebSocket API
# refuses any path past its stage, so a CloudFront Function makes the path the stage's.
REALTIME_PATH = "/api/v3/realtime/"
REALTIME_PATH_CODE = "function handler(event) { event.request.uri = '/api'; return event.request; }"
TOO_MANY = json.dumps({"error": "Too many requests. Please try again later."})


def gateway_responses() -> dict[str, Any]:
    resources = {}
    for response_type, (status, message) in GATEWAY_ERRORS.items():
        properties: dict[str, Any] = {
            "RestApiId": {"Ref": "RestAPI"},
            "ResponseType": response_type,
            "ResponseTemplates": {"application/json": json.dumps({"error": message})},
        }
        if status:
            properties["StatusCode"] = status
        name = "GatewayResponse" + "".join(part.capitalize() for part in response_type.split("_"))
        resources[name] = {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": properties}
    return resources


def edge_template() -> dict[str, Any]:
    """Our error shape at the gateway, throttling, and the optional WAF rule and CloudFront
    distribution (stack parameters switch the options on)."""
    parameters = {
        "ApiThrottlingRateLimit": {
            "Type": "Number",
            "Default": 200,
            "MinValue": 1,
            "Description": "API Gateway: steady requests per second for the whole API",
        },
        "ApiThrottlingBurstLimit": {
            "Type": "Number",
            "Default": 400,
            "MinValue": 1,
            "Description": "API Gateway: burst of requests above the steady rate",
        },
        "WafRequestsPerIpPer5Minutes": {
            "Type": "Number",
            "Default": 0,
            "MinValue": 0,
            "Description": "AWS WAF: block an IP above this many requests in 5 minutes (0: no WAF; else 10+)",
        },
        "CmsOriginDomain": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^([a-z0-9.-]+)?$",
            "Description": "The CMS's origin host (e.g. cms-origin.integreat-app.de); set: a CloudFront "
            "distribution serves the CMS with the chat paths beside it",
        },
    }
    conditions = {
        "HasWaf": {"Fn::Not": [{"Fn::Equals": [{"Ref": "WafRequestsPerIpPer5Minutes"}, 0]}]},
        "HasCloudFront": {"Fn::Not": [{"Fn::Equals": [{"Ref": "CmsOriginDomain"}, ""]}]},
    }
    stage_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/api"
    }
    behaviour = {
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
        "CachedMethods": ["GET", "HEAD"],
        "CachePolicyId": CACHING_DISABLED,
        "Compress": True,
    }
    resources: dict[str, Any] = {
        **gateway_responses(),
        # Chalice's API: stage-wide throttling (API Gateway answers 429 itself beyond it).
        "RestAPI": {
            "Properties": {
                "MethodSettings": [
                    {
                        "ResourcePath": "/*",
                        "HttpMethod": "*",
                        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
                        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
                    }
                ]
            }
        },
        "GatewayResponseThrottled": {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "RestApiId": {"Ref": "RestAPI"},
                "ResponseType": "THROTTLED",
                "StatusCode": "429",
                "ResponseTemplates": {"application/json": TOO_MANY},
            },
        },
        "RateLimitWebAcl": {
            "Type": "AWS::WAFv2::WebACL",
            "Condition": "HasWaf",
            "Properties": {
                "Scope": "REGIONAL",
                "DefaultAction": {"Allow": {}},
                "CustomResponseBodies": {
                    "too-many": {"ContentType": "APPLICATION_JSON", "Content": TOO_MANY}
                },
                "Rules": [
                    {
                        "Name": "requests-per-ip",
                        "Priority": 0,
                        "Statement": {
                            "RateBasedStatement": {
                                "Limit": {"Ref": "WafRequestsPerIpPer5Minutes"},
                                "AggregateKeyType": "IP",
                            }
                        },
                        "Action": {
                            "Block": {
                                "CustomResponse": {"ResponseCode": 429, "CustomResponseBodyKey": "too-many"}
                            }
                        },
                        "VisibilityConfig": {
                            "SampledRequestsEnabled": True,
                            "CloudWatchMetricsEnabled": True,
                            "MetricName": "integreat-chat-requests-per-ip",
                        },
                    }
                ],
                "VisibilityConfig": {
                    "SampledRequestsEnabled": True,
                    "CloudWatchMetricsEnabled": True,
                    "MetricName": "integreat-chat",
                },
            },
        },
        "RateLimitWebAclAssociation": {
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Condition": "HasWaf",
            "DependsOn": ["RestAPIapiStage"],
            "Properties": {"ResourceArn": stage_arn, "WebACLArn": {"Fn::GetAtt": ["RateLimitWebAcl", "Arn"]}},
        },
        "ChatDistribution": {
            "Type": "AWS::CloudFront::Distribution",
            "Condition": "HasCloudFront",
            "Properties": {
                "DistributionConfig": {
                    "Enabled": True,
                    "Comment": "The Integreat CMS, with Integreat Chat's paths beside it",
                    "HttpVersion": "http2and3",
                    "PriceClass": "PriceClass_100",
                    "Origins": [
                        {
                            "Id": "cms",
                            "DomainName": {"Ref": "CmsOriginDomain"},
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "OriginSSLProtocols": ["TLSv1.2"],
                            },
                        },
                        {
                            "Id": "realtime",
                            "DomainName": {
                                "Fn::Sub": "${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
                            },
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "OriginSSLProtocols": ["TLSv1.2"],
                            },
                        },
                        {
                            "Id": "chat",
                            "DomainName": {
                                "Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
                            },
                            "OriginPath": "/api",  # the stage
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "OriginSSLProtocols": ["TLSv1.2"],
                            },
                        },
                    ],
                    "DefaultCacheBehavior": dict(
                        behaviour, TargetOriginId="cms", OriginRequestPolicyId=ALL_VIEWER
                    ),
                    "CacheBehaviors": [
                        dict(
                            behaviour,
                            PathPattern=pattern,
                            TargetOriginId="chat",
                            OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST,
                        )
                        for pattern in CHAT_PATH_PATTERNS
                    ]
                    + [
                        {
                            "PathPattern": REALTIME_PATH,
                            "TargetOriginId": "realtime",
                            "ViewerProtocolPolicy": "https-only",
                            "AllowedMethods": ["GET", "HEAD"],
                            "CachedMethods": ["GET", "HEAD"],
                            "CachePolicyId": CACHING_DISABLED,
                            "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,  # Sec-WebSocket-*
                            "FunctionAssociations": [
                                {
                                    "EventType": "viewer-request",
                                    "FunctionARN": {"Fn::GetAtt": ["RealtimePathFunction", "FunctionARN"]},
                                }
                            ],
                        }
                    ],
                }
            },
        },
        "RealtimePathFunction": {
            "Type": "AWS::CloudFront::Function",
            "Condition": "HasCloudFront",
            "Properties": {
                "Name": {"Fn::Sub": "${AWS::StackName}-realtime-path"},
                "AutoPublish": True,
                "FunctionConfig": {
                    "Comment": "The real-time channel's path, as API Gateway's stage",
                    "Runtime": "cloudfront-js-2.0",
                },
                "FunctionCode": REALTIME_PATH_CODE,
            },
        },
        # Behind the distribution, CloudFront appends the viewer's address to
        # X-Forwarded-For and the edge-optimized API's own CloudFront appends ours.
        "APIHandler": {
            "Properties": {
                "Environment": {
                    "Variables": {
                        "TRUSTED_IP_HEADER": {"Fn::If": ["HasCloudFront", "X-Forwarded-For", ""]},
                        "TRUSTED_PROXY_COUNT": {"Fn::If": ["HasCloudFront", "2", "1"]},
                    }
                }
            }
        },
    }
    outputs = {
        "DistributionDomainName": {
            "Condition": "HasCloudFront",
            "Description": "Point the CMS's host name (CNAME) here, or use it as the app's base URL",
            "Value": {"Fn::GetAtt": ["ChatDistribution", "DomainName"]},
        },
        "RealtimeUrl": {
            "Condition": "HasCloudFront",
            "Description": "The real-time channel on the distribution (docs/realtime.md)",
            "Value": {"Fn::Sub": "wss://${ChatDistribution.DomainName}" + REALTIME_PATH},
        },
    }
    return {"Parameters": parameters, "Conditions": conditions, "Resources": resources, "Outputs": outputs}
