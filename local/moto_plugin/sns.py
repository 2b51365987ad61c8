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
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.sns.exceptions import SNSInvalidParameter
from moto.sns.models import sns_backends

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


class CfnSubscription(CloudFormationModel):
    """AWS::SNS::Subscription. Ref: the subscription's ARN."""

    __module__ = "moto.sns.models"

    def __init__(self, account_id: str, region_name: str, arn: str):
        self.account_id = account_id
        self.region_name = region_name
        self.arn = arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnSubscription:
        props = cloudformation_json["Properties"]
        topic_arn, protocol, endpoint = props["TopicArn"], props["Protocol"], props["Endpoint"]
        # The topic's Region, which may not be the stack's (AWS::SNS::Subscription's
        # Region property); ours are always the stack's.
        backend = sns_backends[account_id][topic_arn.split(":")[3]]
        _checked_endpoint(protocol, endpoint)
        subscription = backend.subscribe(topic_arn, endpoint, protocol)
        if protocol in ("email", "email-json", "http", "https"):
            subscription.confirmed = False
            subscription.attributes["PendingConfirmation"] = "true"
        return cls(account_id, region_name, subscription.arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: CfnSubscription,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> CfnSubscription:
        # Endpoint, Protocol and TopicArn: "Update requires: Replacement".
        replacement = cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )
        original_resource.delete(account_id, region_name)
        return replacement

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[account_id][self.arn.split(":")[3]].unsubscribe(self.arn)

    def is_created(self) -> bool:
        return True


class CfnTopicPolicy(CloudFormationModel):
    """AWS::SNS::TopicPolicy: the policy document of each topic in `Topics`."""

    __module__ = "moto.sns.models"

    def __init__(self, account_id: str, region_name: str, topics: list[str], name: str):
        self.account_id = account_id
        self.region_name = region_name
        self.topics = topics
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def _apply(account_id: str, region_name: str, props: dict[str, Any]) -> list[str]:
        backend = sns_backends[account_id][region_name]
        document = props["PolicyDocument"]
        policy = document if isinstance(document, str) else json.dumps(document)
        topics = list(props["Topics"])
        for topic_arn in topics:
            backend.set_topic_attribute(topic_arn, "policy", policy)
        return topics

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnTopicPolicy:
        topics = cls._apply(account_id, region_name, cloudformation_json["Properties"])
        return cls(account_id, region_name, topics, resource_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: CfnTopicPolicy,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> CfnTopicPolicy:
        topics = cls._apply(account_id, region_name, cloudformation_json["Properties"])
        for dropped in set(original_resource.topics) - set(topics):
            _restore_default_policy(account_id, region_name, dropped)
        original_resource.topics = topics
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        for topic_arn in self.topics:
            _restore_default_policy(account_id, region_name, topic_arn)

    def is_created(self) -> bool:
        return True


def _restore_default_policy(account_id: str, region_name: str, topic_arn: str) -> None:
    backend = sns_backends[account_id][region_name]
    topic = backend.topics.get(topic_arn)
    if topic is None:  # deleted with its stack before the policy
        return
    name = topic_arn.split(":")[-1]
    topic._policy_json = topic._create_default_topic_policy(region_name, account_id, name)
