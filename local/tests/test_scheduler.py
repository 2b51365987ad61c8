"""AWS::Scheduler::Schedule through CloudFormation: in moto's Scheduler backend, its
state following a parameter through a condition, and CreateSchedule's refusals."""

import pytest

from conftest import aws_client, deploy

TEMPLATE = """
Parameters:
  WriterRegion: {Type: String}
  Zone: {Type: String, Default: Europe/Paris}
  Trusted: {Type: String, Default: scheduler.amazonaws.com}
Conditions:
  HoldsTheWriter: !Equals [!Ref WriterRegion, !Ref "AWS::Region"]
Resources:
  Machine:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: target
  DeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: schedule-dlq
      SqsManagedSseEnabled: true
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: !Ref Trusted}
            Action: sts:AssumeRole
  Schedule:
    Type: AWS::Scheduler::Schedule
    Properties:
      Name: app-pipeline
      ScheduleExpression: cron(0 3 * * ? *)
      ScheduleExpressionTimezone: !Ref Zone
      FlexibleTimeWindow: {Mode: "OFF"}
      State: !If [HoldsTheWriter, ENABLED, DISABLED]
      Target:
        Arn: !GetAtt Machine.Arn
        RoleArn: !GetAtt Role.Arn
        Input: '{"trigger": "schedule", "scheduled_time": "<aws.scheduler.scheduled-time>"}'
        RetryPolicy: {MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 3600}
        DeadLetterConfig: {Arn: !GetAtt DeadLetters.Arn}
Outputs:
  Name: {Value: !Ref Schedule}
  Arn: {Value: !GetAtt Schedule.Arn}
"""


def test_the_schedule_follows_a_parameter_through_its_condition(client):
    cfn, scheduler = client("cloudformation"), client("scheduler")
    stack = deploy(cfn, "app-pipeline", TEMPLATE, {"WriterRegion": "us-east-1"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    schedule = scheduler.get_schedule(Name="app-pipeline")
    assert schedule["State"] == "ENABLED"
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["Target"]["RetryPolicy"] == {
        "MaximumRetryAttempts": 5,
        "MaximumEventAgeInSeconds": 3600,
    }
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith(":schedule-dlq")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["Arn"] == schedule["Arn"]

    # The same template, only the parameter changed: the condition flips the state.
    stack = deploy(
        cfn, "app-pipeline", TEMPLATE, {"WriterRegion": "us-east-2"}, change_set_type="UPDATE"
    )
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack
    assert scheduler.get_schedule(Name="app-pipeline")["State"] == "DISABLED"

    cfn.delete_stack(StackName="app-pipeline")
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name="app-pipeline")


def test_a_time_zone_that_is_not_iana_fails_the_stack(client):
    cfn = client("cloudformation")
    stack = deploy(
        cfn, "app-pipeline", TEMPLATE, {"WriterRegion": "us-east-1", "Zone": "Europe/Pariss"}
    )
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="app-pipeline")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["ResourceStatus"].endswith("FAILED")]
    assert any("Invalid ScheduleExpressionTimezone: Europe/Pariss" in r for r in reasons), reasons


def test_a_role_scheduler_cannot_assume_is_refused_while_iam_is_enforced(moto_auth_url):
    cfn = aws_client(moto_auth_url, "cloudformation")
    stack = deploy(
        cfn,
        "app-pipeline",
        TEMPLATE,
        {"WriterRegion": "us-east-1", "Trusted": "lambda.amazonaws.com"},
    )
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="app-pipeline")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["ResourceStatus"].endswith("FAILED")]
    assert any("must allow AWS EventBridge Scheduler to assume the role" in r for r in reasons), reasons

    # The same stack with a role that trusts Scheduler is created.
    stack = deploy(cfn, "app-pipeline-ok", TEMPLATE, {"WriterRegion": "us-east-1"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack


LIST_TEMPLATE = """
Parameters:
  Subnets: {Type: "List<String>"}
  WriterRegion: {Type: String}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Join ["-", [q, !Select [0, !Ref Subnets], !Ref WriterRegion]]
"""


def test_a_list_parameter_kept_with_use_previous_value_stays_a_list(client):
    """What `deploy switchover` submits: the deployed template, one parameter changed and
    the others kept (UsePreviousValue)."""
    cfn = client("cloudformation")
    deploy(cfn, "app-list", LIST_TEMPLATE, {"Subnets": "a,b", "WriterRegion": "one"})
    cfn.create_change_set(
        StackName="app-list",
        ChangeSetName="keep",
        ChangeSetType="UPDATE",
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "Subnets", "UsePreviousValue": True},
            {"ParameterKey": "WriterRegion", "ParameterValue": "two"},
        ],
    )
    cfn.execute_change_set(StackName="app-list", ChangeSetName="keep")
    stack = cfn.describe_stacks(StackName="app-list")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack
    # (moto's DescribeStacks shows a list parameter as Python's repr of the list.)
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert values["WriterRegion"] == "two"
