"""A deleted cluster's data goes with it, and a new cluster starts empty, as on AWS: the
MariaDB that stands in for every cluster drops the database the last cluster holding it
held, so `deploy destroy` then `deploy up` starts empty, and a database no cluster holds
(left by a moto that was stopped) is not a new cluster's. Needs the MariaDB of
`make local-up` (DEPLOY_TEST_MYSQL_URL)."""

import os
import subprocess
from urllib.parse import urlparse

import pytest
from conftest import _start_enforcing_server, _stop, aws_client, deploy
from stacks import GLOBAL, PRIMARY, SECONDARY

DATABASE = "reviews"  # stacks.PRIMARY's DatabaseName


def sql(url, statement: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["mariadb", "--no-defaults", "--protocol=tcp", "-h", url.hostname,
         "-P", str(url.port or 3306), "-uroot", "-N", "-e", statement],
        capture_output=True, text=True,
    )


def database_exists(url) -> bool:
    answer = sql(url, f"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{DATABASE}'")
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.strip() == "1"


@pytest.fixture
def stand_in(tmp_path_factory):
    url = urlparse(os.environ.get("DEPLOY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3307/"))
    assert sql(url, "SELECT 1").returncode == 0, "MariaDB is not reachable: run `make local-up`"
    sql(url, f"DROP DATABASE IF EXISTS `{DATABASE}`")
    server, moto = _start_enforcing_server(
        tmp_path_factory, "moto_cluster_data",
        {"MOTO_PLUGIN_MARIADB": f"{url.hostname}:{url.port or 3306}"},
    )
    yield url, lambda service, region="us-east-1": aws_client(moto, service, region)
    _stop(server)
    sql(url, f"DROP DATABASE IF EXISTS `{DATABASE}`")


def test_the_last_cluster_holding_a_database_takes_its_data_along(stand_in):
    url, client = stand_in
    primary_cfn, secondary_cfn = client("cloudformation"), client("cloudformation", "us-east-2")
    deploy(primary_cfn, "app-global", GLOBAL)
    deploy(primary_cfn, "app-db", PRIMARY, {"GlobalClusterId": "app-global"})
    deploy(secondary_cfn, "app-db-us-east-2", SECONDARY, {"GlobalClusterId": "app-global"})
    assert database_exists(url)  # created with the primary (DatabaseName)
    created = sql(url, f"CREATE TABLE `{DATABASE}`.rows_kept (id INT PRIMARY KEY); "
                       f"INSERT INTO `{DATABASE}`.rows_kept VALUES (1)")
    assert created.returncode == 0, created.stderr

    # The secondary goes first (deploy destroy's order): the primary still holds the data.
    secondary_cfn.delete_stack(StackName="app-db-us-east-2")
    assert sql(url, f"SELECT id FROM `{DATABASE}`.rows_kept").stdout.strip() == "1"

    # The primary was the last cluster holding it: a cluster created again starts empty.
    primary_cfn.delete_stack(StackName="app-db")
    assert not database_exists(url)
    deploy(primary_cfn, "app-db", PRIMARY, {"GlobalClusterId": "app-global"})
    assert database_exists(url)
    assert sql(url, f"SHOW TABLES IN `{DATABASE}`").stdout.strip() == ""


def test_a_new_cluster_starts_empty_where_a_stopped_moto_left_data(stand_in):
    url, client = stand_in
    # What a moto stopped with its cluster alive leaves behind: the database, no cluster.
    left = sql(url, f"CREATE DATABASE `{DATABASE}`; CREATE TABLE `{DATABASE}`.rows_left (id INT); "
                    f"INSERT INTO `{DATABASE}`.rows_left VALUES (1)")
    assert left.returncode == 0, left.stderr
    primary_cfn, secondary_cfn = client("cloudformation"), client("cloudformation", "us-east-2")
    deploy(primary_cfn, "app-global", GLOBAL)
    deploy(primary_cfn, "app-db", PRIMARY, {"GlobalClusterId": "app-global"})
    assert database_exists(url)
    assert sql(url, f"SHOW TABLES IN `{DATABASE}`").stdout.strip() == ""

    # The secondary joins the primary's data: nothing is dropped.
    created = sql(url, f"CREATE TABLE `{DATABASE}`.rows_kept (id INT)")
    assert created.returncode == 0, created.stderr
    deploy(secondary_cfn, "app-db-us-east-2", SECONDARY, {"GlobalClusterId": "app-global"})
    assert sql(url, f"SHOW TABLES IN `{DATABASE}`").stdout.strip() == "rows_kept"
