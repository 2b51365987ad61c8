"""VPC endpoints as AWS refuses and removes them (moto_plugin/ec2.py)."""

import pytest
from botocore.exceptions import ClientError

from conftest import deploy


def vpc_with_route_table(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "RouteTables"][0]["RouteTableId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    return vpc, table, subnet


def test_a_second_s3_gateway_endpoint_on_the_same_route_table_is_refused(client):
    ec2 = client("ec2")
    vpc, table, _ = vpc_with_route_table(ec2)
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
                            VpcEndpointType="Gateway", RouteTableIds=[table])
    with pytest.raises(ClientError) as refused:
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
                                VpcEndpointType="Gateway", RouteTableIds=[table])
    assert refused.value.response["Error"]["Code"] == "RouteAlreadyExists"


def test_a_second_private_dns_interface_endpoint_is_refused(client):
    ec2 = client("ec2")
    vpc, _, subnet = vpc_with_route_table(ec2)
    name = "com.amazonaws.us-east-1.secretsmanager"
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=name, VpcEndpointType="Interface",
                            SubnetIds=[subnet], PrivateDnsEnabled=True)
    with pytest.raises(ClientError) as refused:
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=name, VpcEndpointType="Interface",
                                SubnetIds=[subnet], PrivateDnsEnabled=True)
    assert "conflicting DNS domain" in refused.value.response["Error"]["Message"]
    # Without private DNS a second one is fine, as on AWS.
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=name, VpcEndpointType="Interface",
                            SubnetIds=[subnet], PrivateDnsEnabled=False)


def test_a_stacks_endpoint_is_deleted_with_it(client):
    ec2, cfn = client("ec2"), client("cloudformation")
    vpc, table, _ = vpc_with_route_table(ec2)
    template = f"""
Resources:
  S3Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: {vpc}
      ServiceName: com.amazonaws.us-east-1.s3
      VpcEndpointType: Gateway
      RouteTableIds: [{table}]
"""
    deploy(cfn, "endpoints", template)
    states = lambda: [e["State"].lower() for e in ec2.describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]]
    assert states() == ["available"]
    cfn.delete_stack(StackName="endpoints")
    assert states() == ["deleted"]
    # And the route table takes a new one.
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
                            VpcEndpointType="Gateway", RouteTableIds=[table])
