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
from .cfn_model import CfnModel, Request
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


class CfnSchedule(CfnModel, CloudFormationModel):
    """AWS::Scheduler::Schedule in the default group. Ref: the name; GetAtt Arn."""

    __module__ = "moto.scheduler.models"
    TYPE = "AWS::Scheduler::Schedule"
    NAME_PROPERTY = "Name"
    PHYSICAL_ID = "name"
    ATTRIBUTES = {
        "Arn": lambda schedule: schedule._backend().get_schedule(schedule.group, schedule.name).arn,
    }

    def __init__(self, account_id: str, region_name: str, name: str, group: str | None):
        super().__init__(account_id, region_name)
        self.name = name
        self.group = group

    def _backend(self) -> Any:
        return scheduler_backends[self.account_id][self.region_name]

    @classmethod
    def create(cls, request: Request) -> CfnSchedule:
        props = request.properties
        name = props.get("Name") or request.name
        group = props.get("GroupName")
        request.backend(scheduler_backends).create_schedule(
            name=name,
            group_name=group,
            action_after_completion=None,
            **_checked(props, request.region_name, request.account_id),
        )
        return cls(request.account_id, request.region_name, name, group)

    @classmethod
    def update(cls, original: CfnSchedule, request: Request) -> CfnSchedule:
        props = request.properties
        name = props.get("Name") or original.name
        if name != original.name or props.get("GroupName") != original.group:
            # Name and GroupName: "Update requires: Replacement".
            return cls.replace(original, request)
        request.backend(scheduler_backends).update_schedule(
            group_name=original.group,
            name=name,
            **_checked(props, request.region_name, request.account_id),
        )
        return original

    @classmethod
    def delete_named(cls, request: Request) -> None:
        request.backend(scheduler_backends).delete_schedule(
            request.properties.get("GroupName"), request.name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().delete_schedule(self.group, self.name)
