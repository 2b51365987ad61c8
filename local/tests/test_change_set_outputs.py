"""Stacks deployed through change sets report their Outputs, exports and parameters."""

from conftest import deploy, outputs

TEMPLATE = """
Parameters:
  Suffix: {Type: String}
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "data-${Suffix}"
Outputs:
  BucketName:
    Value: !Ref Bucket
    Export: {Name: !Sub "${AWS::StackName}-bucket"}
  BucketArn:
    Value: !GetAtt Bucket.Arn
"""


def test_create_change_set_reports_outputs(client):
    cfn = client("cloudformation")
    stack = deploy(cfn, "app-outputs", TEMPLATE, {"Suffix": "one"})
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(stack) == {
        "BucketName": "data-one",
        "BucketArn": "arn:aws:s3:::data-one",
    }
    exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
    assert exports == {"app-outputs-bucket": "data-one"}


def test_update_change_set_refreshes_outputs(client):
    cfn = client("cloudformation")
    deploy(cfn, "app-outputs", TEMPLATE, {"Suffix": "one"})
    stack = deploy(cfn, "app-outputs", TEMPLATE, {"Suffix": "two"}, change_set_type="UPDATE")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs(stack)["BucketName"] == "data-two"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Suffix": "two"
    }
    exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
    assert exports == {"app-outputs-bucket": "data-two"}


def test_no_change_update_is_reported_as_moto_does(client):
    """Pins the two no-change answers the deploy engine must accept."""
    import botocore.exceptions
    import pytest

    cfn = client("cloudformation")
    deploy(cfn, "app-outputs", TEMPLATE, {"Suffix": "one"})
    with pytest.raises(botocore.exceptions.ClientError) as error:
        cfn.create_change_set(
            StackName="app-outputs", ChangeSetName="same", TemplateBody=TEMPLATE,
            ChangeSetType="UPDATE",
            Parameters=[{"ParameterKey": "Suffix", "ParameterValue": "one"}],
        )
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "No updates are to be performed." in str(error.value)
