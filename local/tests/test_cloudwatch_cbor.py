"""CloudWatch over Smithy RPC v2 CBOR, as the AWS SDK for Rust calls it: the plugin
routes it to moto's CloudWatch and answers in CBOR with tagged timestamps. Also the
AWS::CloudWatch::Dashboard resource, which moto's CloudFormation creates and deletes."""

import json
import time
import urllib.error
import urllib.request

from conftest import PRIMARY, SECONDARY, deploy
from moto_plugin.cloudwatch import Tagged, decode, encode


def call(moto_url: str, operation: str, payload: dict, region: str = PRIMARY):
    """One rpc-v2-cbor request, signed only as far as moto looks (the credential scope)."""
    request = urllib.request.Request(
        f"{moto_url}/service/GraniteServiceVersion20100801/operation/{operation}",
        data=encode(payload),
        method="POST",
        headers={
            "Content-Type": "application/cbor",
            "Accept": "application/cbor",
            "smithy-protocol": "rpc-v2-cbor",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/"
            f"{region}/monitoring/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request) as response:
            assert response.headers["smithy-protocol"] == "rpc-v2-cbor"
            assert response.headers["Content-Type"] == "application/cbor"
            return response.status, decode(response.read())
    except urllib.error.HTTPError as error:
        return error.code, decode(error.read())


def test_codec_round_trips_what_the_sdk_sends():
    value = {"a": [1, -2, 2**40, 1.5, "é", b"\x00", True, None], "b": {"c": []}}
    assert decode(encode(value)) == value
    # A tagged epoch timestamp decodes to its number; half and single floats decode too.
    assert decode(encode(Tagged(1, 1700000000.5))) == 1700000000.5
    assert decode(bytes.fromhex("f93e00")) == 1.5
    assert decode(bytes.fromhex("fa3fc00000")) == 1.5
    # Indefinite-length map and string, as some encoders write them.
    assert decode(bytes.fromhex("bf6161017f6162ff02ff")) == {"a": 1, "b": 2}


def test_metric_data_in_one_region_is_read_back_with_tagged_timestamps(moto_url):
    now = time.time()
    dimension = [{"Name": "DBClusterIdentifier", "Value": "app-env-us-east-2"}]
    status, _ = call(moto_url, "PutMetricData", {
        "Namespace": "AWS/RDS",
        "MetricData": [{
            "MetricName": "AuroraGlobalDBReplicationLag",
            "Dimensions": dimension,
            "Value": 187.0,
            "Unit": "Milliseconds",
            "Timestamp": Tagged(1, now),
        }],
    }, region=SECONDARY)
    assert status == 200
    query = {
        "MetricDataQueries": [{
            "Id": "lag",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/RDS",
                    "MetricName": "AuroraGlobalDBReplicationLag",
                    "Dimensions": dimension,
                },
                "Period": 60,
                "Stat": "Maximum",
            },
        }],
        "StartTime": Tagged(1, now - 600),
        "EndTime": Tagged(1, now + 60),
    }
    status, body = call(moto_url, "GetMetricData", query, region=SECONDARY)
    assert status == 200
    [result] = body["MetricDataResults"]
    assert result["Values"] == [187.0]
    assert len(result["Timestamps"]) == 1
    # Only the secondary Region has it.
    status, body = call(moto_url, "GetMetricData", query, region=PRIMARY)
    assert body["MetricDataResults"][0]["Values"] == []


def test_timestamps_in_answers_carry_tag_1(moto_url):
    call(moto_url, "PutDashboard", {"DashboardName": "d", "DashboardBody": '{"widgets": []}'})
    request = urllib.request.Request(
        f"{moto_url}/service/GraniteServiceVersion20100801/operation/ListDashboards",
        data=encode({}),
        method="POST",
        headers={
            "Content-Type": "application/cbor",
            "smithy-protocol": "rpc-v2-cbor",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/"
            f"{PRIMARY}/monitoring/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    raw = urllib.request.urlopen(request).read()
    # `LastModified` then 0xc1 (tag 1) then a float64 (0xfb).
    assert b"LastModified\xc1\xfb" in raw


def test_errors_come_back_as_cbor_with_their_type(moto_url):
    status, body = call(moto_url, "GetDashboard", {"DashboardName": "missing"})
    assert status >= 400
    assert "ResourceNotFound" in body["__type"]


def test_the_dashboard_resource_is_created_and_deleted_with_its_stack(moto_url, client):
    template = json.dumps({
        "Parameters": {"Cluster": {"Type": "String"}},
        "Resources": {"Dashboard": {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": "app-env",
                "DashboardBody": {"Fn::Sub": '{"widgets": [{"type": "metric", "properties": '
                                  '{"region": "us-east-2", "metrics": [["AWS/RDS", '
                                  '"AuroraGlobalDBReplicationLag", "DBClusterIdentifier", '
                                  '"${Cluster}"]]}}]}'},
            },
        }},
        "Outputs": {"DashboardName": {"Value": {"Ref": "Dashboard"}}},
    })
    cfn = client("cloudformation")
    stack = deploy(cfn, "monitoring", template, {"Cluster": "app-env-us-east-2"})
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {
        "DashboardName": "app-env"
    }
    status, body = call(moto_url, "GetDashboard", {"DashboardName": "app-env"})
    assert status == 200
    widget = json.loads(body["DashboardBody"])["widgets"][0]
    assert widget["properties"]["metrics"][0][3] == "app-env-us-east-2"
    cfn.delete_stack(StackName="monitoring")
    status, body = call(moto_url, "GetDashboard", {"DashboardName": "app-env"})
    assert status >= 400
