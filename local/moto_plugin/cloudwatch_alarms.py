"""CloudWatch for CloudFormation: AWS::CloudWatch::Alarm, which moto 5.2.5 skips (its
CloudFormation knows only the dashboard), so a stack's alarms never existed on the stand-in.

The alarm lands in moto's CloudWatch backend, so DescribeAlarms shows what CloudFormation
made. Refused as PutMetricAlarm refuses them (CloudWatch API reference, PutMetricAlarm):
- an action on an SNS topic in another Region: `Invalid region <topic's> specified. Only
  <alarm's> is supported.` (CloudWatch's own ValidationError text, as AWS returns it);
- more than five actions of a kind;
- a Period that is not 10, 20, 30 or a multiple of 60, or periods that evaluate more than
  a day (EvaluationPeriods × Period);
- a TreatMissingData, ComparisonOperator or Statistic outside their enumerations;
- DatapointsToAlarm above EvaluationPeriods.
"""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel

from .cfn_model import CfnModel, Request
from .util import cfn_bool, cfn_int

_TREAT_MISSING = {"breaching", "notBreaching", "ignore", "missing"}
_OPERATORS = {
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
}
_STATISTICS = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
_MAX_ACTIONS = 5


def _checked_actions(kind: str, actions: list[str], region_name: str) -> list[str]:
    if len(actions) > _MAX_ACTIONS:
        raise ValidationError(
            f"The collection {kind} must not have more than {_MAX_ACTIONS} elements."
        )
    for action in actions:
        fields = action.split(":")
        if len(fields) > 3 and fields[2] == "sns" and fields[3] != region_name:
            raise ValidationError(
                f"Invalid region {fields[3]} specified. Only {region_name} is supported."
            )
    return actions


def _put(props: dict[str, Any], name: str, account_id: str, region_name: str) -> None:
    period = cfn_int(props.get("Period"))
    evaluation_periods = cfn_int(props["EvaluationPeriods"])
    datapoints = cfn_int(props.get("DatapointsToAlarm"))
    if period is not None and period not in (10, 20, 30) and period % 60 != 0:
        raise ValidationError(
            "Period must be 10, 20, 30 or a multiple of 60 seconds."
        )
    if period is not None and period * evaluation_periods > 86400:
        raise ValidationError(
            "The evaluation period must not exceed one day (EvaluationPeriods x Period <= 86400)."
        )
    if datapoints is not None and datapoints > evaluation_periods:
        raise ValidationError("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
    treat_missing = props.get("TreatMissingData")
    if treat_missing is not None and treat_missing not in _TREAT_MISSING:
        raise ValidationError(
            f"Option {treat_missing} is not supported. Supported options for parameter "
            "TreatMissingData are missing, ignore, breaching and notBreaching."
        )
    operator = props["ComparisonOperator"]
    if operator not in _OPERATORS:
        raise ValidationError(f"Invalid ComparisonOperator: {operator}")
    statistic = props.get("Statistic")
    if statistic is not None and statistic not in _STATISTICS:
        raise ValidationError(f"Invalid Statistic: {statistic}")
    actions = {
        kind: _checked_actions(kind, list(props.get(kind) or []), region_name)
        for kind in ("AlarmActions", "OKActions", "InsufficientDataActions")
    }
    cloudwatch_backends[account_id][region_name].put_metric_alarm(
        name=name,
        namespace=props.get("Namespace"),
        metric_name=props.get("MetricName"),
        comparison_operator=operator,
        evaluation_periods=evaluation_periods,
        period=period,
        threshold=float(props["Threshold"]) if props.get("Threshold") is not None else None,
        statistic=statistic,
        description=props.get("AlarmDescription"),
        dimensions=[
            {"Name": d["Name"], "Value": d["Value"]} for d in props.get("Dimensions") or []
        ],
        alarm_actions=actions["AlarmActions"],
        ok_actions=actions["OKActions"],
        insufficient_data_actions=actions["InsufficientDataActions"],
        datapoints_to_alarm=datapoints,
        unit=props.get("Unit"),
        actions_enabled=cfn_bool(props.get("ActionsEnabled", True)),
        treat_missing_data=treat_missing,
        extended_statistic=props.get("ExtendedStatistic"),
    )


class CfnAlarm(CfnModel, CloudFormationModel):
    """AWS::CloudWatch::Alarm (a single-metric alarm). Ref: the name; GetAtt Arn."""

    __module__ = "moto.cloudwatch.models"
    TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"
    PHYSICAL_ID = "name"
    ATTRIBUTES = {
        "Arn": lambda alarm: cloudwatch_backends[alarm.account_id][alarm.region_name]
        .alarms[alarm.name]
        .alarm_arn,
    }

    def __init__(self, account_id: str, region_name: str, name: str):
        super().__init__(account_id, region_name)
        self.name = name

    @classmethod
    def create(cls, request: Request) -> CfnAlarm:
        props = request.properties
        name = props.get("AlarmName") or request.name
        _put(props, name, request.account_id, request.region_name)
        return cls(request.account_id, request.region_name, name)

    @classmethod
    def update(cls, original: CfnAlarm, request: Request) -> CfnAlarm:
        props = request.properties
        name = props.get("AlarmName") or original.name
        if name != original.name:
            # AlarmName: "Update requires: Replacement".
            return cls.replace(original, request)
        # Anything else is PutMetricAlarm again.
        _put(props, name, request.account_id, request.region_name)
        return original

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])
