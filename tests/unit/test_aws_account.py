"""The emulated account's template handling (devtools/aws_account.py): what moto does not
model is taken out, and every way the rest of the template names it reads a placeholder."""

from devtools.aws_account import NOT_MODELLED, expand, for_moto, placeholder

TEMPLATE = {
    "Resources": {
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": "a"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
        "Board": {
            "Type": "AWS::Lambda::Function",
            "DependsOn": ["Alarm", "Queue"],
            "Properties": {
                "Description": {"Ref": "Alarm"},
                "Role": {"Fn::GetAtt": ["Alarm", "Arn"]},
                "Handler": {"Fn::GetAtt": "Alarm.Arn"},
                "Environment": {
                    "Variables": {
                        "ONE": {"Fn::Sub": "https://${Alarm}.example/${Queue}/${AWS::Region}"},
                        "TWO": {"Fn::Sub": ["${Alarm.Arn}-${Mine}", {"Mine": {"Ref": "Alarm"}}]},
                    }
                },
            },
        },
    },
    "Outputs": {"Where": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}}},
}


def test_what_moto_does_not_model_is_taken_out_and_named_by_a_placeholder():
    assert "AWS::CloudWatch::Alarm" in NOT_MODELLED and "AWS::SQS::Queue" not in NOT_MODELLED
    ready = for_moto(TEMPLATE)
    assert set(ready["Resources"]) == {"Queue", "Board"}
    board = ready["Resources"]["Board"]
    assert board["DependsOn"] == ["Queue"]
    properties = board["Properties"]
    assert properties["Description"] == placeholder("Alarm")
    assert properties["Role"] == properties["Handler"] == placeholder("Alarm", "Arn")
    variables = properties["Environment"]["Variables"]
    assert variables["ONE"] == {"Fn::Sub": "https://not-modelled-Alarm.example/${Queue}/${AWS::Region}"}
    assert variables["TWO"] == {
        "Fn::Sub": ["arn:aws:not-modelled:::Alarm/Arn-${Mine}", {"Mine": placeholder("Alarm")}]
    }
    assert ready["Outputs"]["Where"]["Value"] == placeholder("Alarm", "Arn")
    assert TEMPLATE["Resources"]["Board"]["DependsOn"] == ["Alarm", "Queue"]  # the input is left as it was


def test_a_template_without_the_transform_is_taken_as_it_is():
    assert expand(TEMPLATE) is TEMPLATE


def test_the_sam_transform_makes_a_function_of_a_serverless_one():
    sam = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Job": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Runtime": "python3.11", "Handler": "app.job", "CodeUri": "s3://code/key"},
            }
        },
    }
    resources = expand(sam)["Resources"]
    assert resources["Job"]["Type"] == "AWS::Lambda::Function"
    assert resources["Job"]["Properties"]["Code"] == {"S3Bucket": "code", "S3Key": "key"}
    assert sam["Resources"]["Job"]["Type"] == "AWS::Serverless::Function"
