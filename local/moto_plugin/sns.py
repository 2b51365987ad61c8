"""SNS for CloudFormation: AWS::SNS::Subscription and AWS::SNS::TopicPolicy, which moto
5.2.5 skips (its AWS::SNS::Topic takes only the inline `Subscription` property).

A subscription lands in moto's SNS backend, so ListSubscriptionsByTopic shows what
CloudFormation made. As on AWS (SNS API reference, Subscribe), an `email` or `https`
subscription waits for its owner to confirm it (`PendingConfirmation` true, and
ListSubscriptions shows `PendingConfirmation` as its ARN); moto confirms at once. An
e-mail endpoint that is not an address, or an `https` endpoint that is not an https URL,
is refused with SNS's InvalidParameter. A topic policy replaces the topic's policy, and
deleting it restores the default one, as SNS does.
"""

from __future__ import annotations

import json
import re
from moto.core.common_models import CloudFormationModel
from moto.sns.exceptions import SNSInvalidParameter
from moto.sns.models import sns_backends

from .cfn_model import CfnModel, Request

# What SNS accepts as an e-mail endpoint is not documented beyond "an email address";
# this is the shape every mail system takes, and refuses what no mail system would.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _checked_endpoint(protocol: str, endpoint: str) -> None:
    if protocol in ("email", "email-json") and not _EMAIL.match(endpoint):
        raise SNSInvalidParameter("Invalid parameter: Email address")
    if protocol == "https" and not endpoint.startswith("https://"):
        raise SNSInvalidParameter("Invalid parameter: Endpoint")
    if protocol == "http" and not endpoint.startswith("http://"):
        raise SNSInvalidParameter("Invalid parameter: Endpoint")


class CfnSubscription(CfnModel, CloudFormationModel):
    """AWS::SNS::Subscription. Ref: the subscription's ARN."""

    __module__ = "moto.sns.models"
    TYPE = "AWS::SNS::Subscription"
    PHYSICAL_ID = "arn"

    def __init__(self, account_id: str, region_name: str, arn: str):
        super().__init__(account_id, region_name)
        self.arn = arn

    @classmethod
    def create(cls, request: Request) -> CfnSubscription:
        props = request.properties
        topic_arn, protocol, endpoint = props["TopicArn"], props["Protocol"], props["Endpoint"]
        # The topic's Region, which may not be the stack's (AWS::SNS::Subscription's
        # Region property); ours are always the stack's.
        backend = sns_backends[request.account_id][topic_arn.split(":")[3]]
        _checked_endpoint(protocol, endpoint)
        subscription = backend.subscribe(topic_arn, endpoint, protocol)
        if protocol in ("email", "email-json", "http", "https"):
            subscription.confirmed = False
            subscription.attributes["PendingConfirmation"] = "true"
        return cls(request.account_id, request.region_name, subscription.arn)

    @classmethod
    def update(cls, original: CfnSubscription, request: Request) -> CfnSubscription:
        # Endpoint, Protocol and TopicArn: "Update requires: Replacement".
        return cls.replace(original, request)

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[account_id][self.arn.split(":")[3]].unsubscribe(self.arn)


class CfnTopicPolicy(CfnModel, CloudFormationModel):
    """AWS::SNS::TopicPolicy: the policy document of each topic in `Topics`."""

    __module__ = "moto.sns.models"
    TYPE = "AWS::SNS::TopicPolicy"
    PHYSICAL_ID = "name"

    def __init__(self, account_id: str, region_name: str, topics: list[str], name: str):
        super().__init__(account_id, region_name)
        self.topics = topics
        self.name = name

    @staticmethod
    def _apply(request: Request) -> list[str]:
        backend = request.backend(sns_backends)
        props = request.properties
        document = props["PolicyDocument"]
        policy = document if isinstance(document, str) else json.dumps(document)
        topics = list(props["Topics"])
        for topic_arn in topics:
            backend.set_topic_attribute(topic_arn, "policy", policy)
        return topics

    @classmethod
    def create(cls, request: Request) -> CfnTopicPolicy:
        topics = cls._apply(request)
        return cls(request.account_id, request.region_name, topics, request.name)

    @classmethod
    def update(cls, original: CfnTopicPolicy, request: Request) -> CfnTopicPolicy:
        topics = cls._apply(request)
        for dropped in set(original.topics) - set(topics):
            _restore_default_policy(request.account_id, request.region_name, dropped)
        original.topics = topics
        return original

    def delete(self, account_id: str, region_name: str) -> None:
        for topic_arn in self.topics:
            _restore_default_policy(account_id, region_name, topic_arn)


def _restore_default_policy(account_id: str, region_name: str, topic_arn: str) -> None:
    backend = sns_backends[account_id][region_name]
    topic = backend.topics.get(topic_arn)
    if topic is None:  # deleted with its stack before the policy
        return
    name = topic_arn.split(":")[-1]
    topic._policy_json = topic._create_default_topic_policy(region_name, account_id, name)
