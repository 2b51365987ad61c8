"""EventBridge Scheduler for CloudFormation: AWS::Scheduler::Schedule, which moto 5.2.5
skips (it has the Scheduler API, not the resource type).

The schedule lands in moto's Scheduler backend, so GetSchedule and ListSchedules show what
CloudFormation made (state, expression, time zone, target). Refused as CreateSchedule
refuses them: a ScheduleExpressionTimezone that is not an IANA name, and, while IAM is
enforced, an execution role that EventBridge Scheduler may not assume (a trust policy
without scheduler.amazonaws.com). What the role may do is not checked when the schedule is
created, on AWS either: a role that cannot start the target fails each invocation, which
goes to the dead-letter queue. moto never invokes the targets."""

from __future__ import annotations

import zoneinfo
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.scheduler.exceptions import ValidationException
from moto.scheduler.models import scheduler_backends

from . import iam
from .util import cfn_int

SCHEDULER = "scheduler.amazonaws.com"

_ZONES = zoneinfo.available_timezones() | {"UTC"}


def _retry_policy(target: dict[str, Any]) -> dict[str, Any]:
    policy = dict(target.get("RetryPolicy") or {})
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in policy:
            policy[key] = cfn_int(policy[key])
    return policy


def _checked(props: dict[str, Any], region: str, account_id: str) -> dict[str, Any]:
    zone = props.get("ScheduleExpressionTimezone") or "UTC"
    if zone not in _ZONES:
        raise ValidationException(f"Invalid ScheduleExpressionTimezone: {zone}")
    target = dict(props["Target"])
    if target.get("RetryPolicy") is not None:
        target["RetryPolicy"] = _retry_policy(target)
    if iam.enforcing():
        try:
            iam.service_credentials(
                target["RoleArn"], SCHEDULER, "scheduler-validation", region
            )
        except iam.ServiceRoleError:
            raise ValidationException(
                "The execution role you provide must allow AWS EventBridge Scheduler to assume the role."
            ) from None
    return {
        "description": props.get("Description"),
        "end_date": props.get("EndDate"),
        "flexible_time_window": props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
        "kms_key_arn": props.get("KmsKeyArn"),
        "schedule_expression": props["ScheduleExpression"],
        "schedule_expression_timezone": zone,
        "start_date": props.get("StartDate"),
        "state": props.get("State") or "ENABLED",
        "target": target,
    }


class CfnSchedule(CloudFormationModel):
    """AWS::Scheduler::Schedule in the default group. Ref: the name; GetAtt Arn."""

    __module__ = "moto.scheduler.models"

    def __init__(self, account_id: str, region_name: str, name: str, group: str | None):
        self.account_id = account_id
        self.region_name = region_name
        self.name = name
        self.group = group

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::Schedule"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def _backend(self) -> Any:
        return scheduler_backends[self.account_id][self.region_name]

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Arn":
            return self._backend().get_schedule(self.group, self.name).arn
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CfnSchedule:
        props = cloudformation_json["Properties"]
        name = props.get("Name") or resource_name
        group = props.get("GroupName")
        scheduler_backends[account_id][region_name].create_schedule(
            name=name,
            group_name=group,
            action_after_completion=None,
            **_checked(props, region_name, account_id),
        )
        return cls(account_id, region_name, name, group)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: CfnSchedule,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> CfnSchedule:
        props = cloudformation_json["Properties"]
        name = props.get("Name") or original_resource.name
        if name != original_resource.name or props.get("GroupName") != original_resource.group:
            # Name and GroupName: "Update requires: Replacement".
            replacement = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return replacement
        scheduler_backends[account_id][region_name].update_schedule(
            group_name=original_resource.group,
            name=name,
            **_checked(props, region_name, account_id),
        )
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> None:
        props = cloudformation_json.get("Properties") or {}
        scheduler_backends[account_id][region_name].delete_schedule(
            props.get("GroupName"), resource_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().delete_schedule(self.group, self.name)

    def is_created(self) -> bool:
        return True
