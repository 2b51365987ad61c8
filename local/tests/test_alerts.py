"""The alerts half of the pipeline stack through CloudFormation: AWS::CloudWatch::Alarm,
AWS::SNS::Subscription, AWS::SNS::TopicPolicy and AWS::EC2::SecurityGroupEgress, which
moto 5.2.5 skipped while reporting the stack created; and a type the stand-in does not
implement failing the stack instead of vanishing."""

import json

from conftest import deploy

TEMPLATE = """
Parameters:
  WriterRegion: {Type: String}
  ExistingTopic: {Type: String, Default: ""}
Conditions:
  HoldsTheWriter: !Equals [!Ref WriterRegion, !Ref "AWS::Region"]
  ReplicatesFromTheWriter: !Not [!Condition HoldsTheWriter]
  OwnTopic: !Equals [!Ref ExistingTopic, ""]
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: app-alerts
  TopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: cloudwatch.amazonaws.com}
            Action: sns:Publish
            Resource: !Ref Topic
  Mail:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref Topic, Protocol: email, Endpoint: oncall@example.com}
  Hook:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref Topic, Protocol: https, Endpoint: https://hooks.example.com/a}
  LagAlarm:
    Type: AWS::CloudWatch::Alarm
    Condition: ReplicatesFromTheWriter
    Properties:
      AlarmName: app-replication-lag
      Namespace: AWS/RDS
      MetricName: AuroraGlobalDBReplicationLag
      Dimensions: [{Name: DBClusterIdentifier, Value: app-us-east-1}]
      Statistic: SampleCount
      Period: 60
      EvaluationPeriods: 5
      DatapointsToAlarm: 5
      Threshold: 1
      ComparisonOperator: LessThanThreshold
      TreatMissingData: breaching
      AlarmActions: [!If [OwnTopic, !Ref Topic, !Ref ExistingTopic]]
      OKActions: [!If [OwnTopic, !Ref Topic, !Ref ExistingTopic]]
Outputs:
  Topic: {Value: !Ref Topic}
"""


def test_alarms_follow_the_writer_and_notify_the_topic(client):
    cfn, cloudwatch, sns = client("cloudformation"), client("cloudwatch"), client("sns")
    stack = deploy(cfn, "app-pipeline", TEMPLATE, {"WriterRegion": "us-east-2"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", [
        e.get("ResourceStatusReason") for e in
        cfn.describe_stack_events(StackName="app-pipeline")["StackEvents"]]
    topic = stack["Outputs"][0]["OutputValue"]
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["app-replication-lag"])["MetricAlarms"]
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["Statistic"] == "SampleCount" and alarm["DatapointsToAlarm"] == 5

    # Both subscriptions wait for their owners to confirm them, as on AWS.
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted((s["Protocol"], s["Endpoint"]) for s in subscriptions) == [
        ("email", "oncall@example.com"),
        ("https", "https://hooks.example.com/a"),
    ]
    for subscription in subscriptions:
        attributes = sns.get_subscription_attributes(
            SubscriptionArn=subscription["SubscriptionArn"]
        )["Attributes"]
        assert attributes["PendingConfirmation"] == "true", attributes
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}

    # The writer moves here: the lag alarm leaves this Region.
    stack = deploy(cfn, "app-pipeline", TEMPLATE, {"WriterRegion": "us-east-1"},
                   change_set_type="UPDATE")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack
    assert cloudwatch.describe_alarms(AlarmNames=["app-replication-lag"])["MetricAlarms"] == []

    cfn.delete_stack(StackName="app-pipeline")
    assert sns.list_subscriptions()["Subscriptions"] == []


def test_an_alarm_cannot_notify_a_topic_in_another_region(client):
    cfn = client("cloudformation")
    stack = deploy(cfn, "app-pipeline", TEMPLATE, {
        "WriterRegion": "us-east-2",
        "ExistingTopic": "arn:aws:sns:us-west-2:123456789012:ops",
    })
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName="app-pipeline")["StackEvents"]
        if e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert any(
        "Invalid region us-west-2 specified. Only us-east-1 is supported." in r for r in reasons
    ), reasons


def test_a_subscription_endpoint_of_the_wrong_form_is_refused(client):
    cfn = client("cloudformation")
    template = TEMPLATE.replace("Endpoint: oncall@example.com", "Endpoint: oncall")
    stack = deploy(cfn, "app-pipeline", template, {"WriterRegion": "us-east-1"})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName="app-pipeline")["StackEvents"]
    ]
    assert any("Invalid parameter: Email address" in r for r in reasons), reasons


EGRESS = """
Resources:
  Functions:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: functions}
  Database:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: database}
  ToDatabase:
    Type: AWS::EC2::SecurityGroupEgress
    Properties:
      GroupId: !GetAtt Functions.GroupId
      DestinationSecurityGroupId: !GetAtt Database.GroupId
      IpProtocol: tcp
      FromPort: 3306
      ToPort: 3306
Outputs:
  Functions: {Value: !GetAtt Functions.GroupId}
  Database: {Value: !GetAtt Database.GroupId}
"""


def test_an_egress_rule_is_authorised_on_its_group(client):
    cfn, ec2 = client("cloudformation"), client("ec2")
    stack = deploy(cfn, "app-network", EGRESS)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    (group,) = ec2.describe_security_groups(GroupIds=[out["Functions"]])["SecurityGroups"]
    rules = [r for r in group["IpPermissionsEgress"] if r.get("FromPort") == 3306]
    assert rules and rules[0]["UserIdGroupPairs"][0]["GroupId"] == out["Database"], group


def test_a_type_the_stand_in_lacks_fails_the_stack(client):
    cfn = client("cloudformation")
    template = """
Resources:
  Rule:
    Type: AWS::CloudWatch::CompositeAlarm
    Properties: {AlarmName: any, AlarmRule: "ALARM(other)"}
"""
    stack = deploy(cfn, "app-other", template)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName="app-other")["StackEvents"]
    ]
    assert any("does not implement AWS::CloudWatch::CompositeAlarm" in r for r in reasons), reasons
