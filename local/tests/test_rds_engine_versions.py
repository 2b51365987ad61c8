"""DescribeDBEngineVersions, which moto 5.2.5 lacks and `deploy up`'s preflight calls to
check that the pinned Aurora MySQL version exists in every Region."""


def test_a_known_version_is_described_in_every_region(client):
    for region in ("us-east-1", "us-east-2"):
        versions = client("rds", region).describe_db_engine_versions(
            Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.08.2"
        )["DBEngineVersions"]
        assert [v["EngineVersion"] for v in versions] == ["8.0.mysql_aurora.3.08.2"]
        assert versions[0]["DBParameterGroupFamily"] == "aurora-mysql8.0"


def test_an_unknown_version_gets_an_empty_answer(client):
    versions = client("rds").describe_db_engine_versions(
        Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.99.9"
    )["DBEngineVersions"]
    assert versions == []


def test_without_a_version_every_aurora_mysql_version_is_listed(client):
    versions = client("rds").describe_db_engine_versions(Engine="aurora-mysql")["DBEngineVersions"]
    assert "5.7.mysql_aurora.2.11.2" in [v["EngineVersion"] for v in versions]
    assert all(v["Engine"] == "aurora-mysql" for v in versions)


def test_major_versions_carry_their_support_dates(client):
    """DescribeDBMajorEngineVersions, which moto 5.2.5 lacks: `deploy up` warns when the
    engine's major version is past the end of standard support."""
    majors = client("rds").describe_db_major_engine_versions(
        Engine="aurora-mysql", MajorEngineVersion="5.7"
    )["DBMajorEngineVersions"]
    assert [m["MajorEngineVersion"] for m in majors] == ["5.7"]
    standard = [lc for lc in majors[0]["SupportedEngineLifecycles"]
                if lc["LifecycleSupportName"] == "open-source-rds-standard-support"]
    assert standard[0]["LifecycleSupportEndDate"].isoformat().startswith("2024-10-31")
    eight = client("rds").describe_db_major_engine_versions(
        Engine="aurora-mysql", MajorEngineVersion="8.0"
    )["DBMajorEngineVersions"]
    assert eight[0]["SupportedEngineLifecycles"] == []
