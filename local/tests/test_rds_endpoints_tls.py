"""TLS through the endpoint gateway (moto_plugin/rds_endpoints.py, "TLS"): with the
stand-in's CA (MOTO_PLUGIN_MARIADB_TLS_DIR, as local/up.sh sets it) the gateway offers
TLS with a certificate for the endpoint's addresses and opens TLS to MariaDB in turn, so
MariaDB applies REQUIRE SSL; a cluster whose parameter group sets require_secure_transport
refuses plain connections with Aurora's error 3159.

Needs the MariaDB of `make local-up` with TLS (DEPLOY_TEST_MYSQL_URL) and its CA: the
state directory's tls/ (DEPLOY_TEST_MYSQL_CA names another ca.pem)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pymysql
import pytest
from conftest import LOCAL_DIR, _server_log, deploy, start_server

from moto_plugin import rds_endpoints as gw

MYSQL_URL = urlparse(os.environ.get("DEPLOY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3307/"))
MARIADB = f"{MYSQL_URL.hostname}:{MYSQL_URL.port or 3306}"
CA = Path(os.environ.get("DEPLOY_TEST_MYSQL_CA", LOCAL_DIR.parent / ".local" / "tls" / "ca.pem"))
INSECURE_TRANSPORT = 3159
ACCESS_DENIED = 1045


def test_the_greeting_keeps_ssl_when_the_gateway_terminates_it():
    capabilities = 0xF7FF | gw.CLIENT_SSL | gw.CLIENT_COMPRESS
    greeting = (
        b"\x0a" + b"10.11.6-MariaDB\x00" + (42).to_bytes(4, "little") + b"abcdefgh" + b"\x00"
        + capabilities.to_bytes(2, "little") + b"\x2d" + b"\x02\x00" + b"\x00\x00"
        + b"\x15" + b"\x00" * 10 + b"ijklmnopqrst\x00" + b"mysql_native_password\x00"
    )
    assert gw.greeting_capabilities(greeting) == capabilities & 0xFFFF
    kept = gw.greeting_capabilities(gw.patch_greeting(greeting, keep_ssl=True))
    assert kept & gw.CLIENT_SSL and not kept & gw.CLIENT_COMPRESS
    assert not gw.greeting_capabilities(gw.patch_greeting(greeting)) & gw.CLIENT_SSL


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory):
    """This module's moto server: the gateway in front of MariaDB, with the stand-in's CA.
    The endpoint certificates it issues go to a directory of its own (a copy of the CA)."""
    if not CA.is_file():
        pytest.fail(f"no {CA}: start the stand-in with TLS (`make local-down local-up`) "
                    "or set DEPLOY_TEST_MYSQL_CA")
    tls = tmp_path_factory.mktemp("tls")
    for name in ("ca.pem", "ca-key.pem"):
        (tls / name).write_bytes((CA.parent / name).read_bytes())
    log_path = tmp_path_factory.mktemp("moto-tls") / "moto.log"
    previous_log = list(_server_log)
    _server_log[:] = [log_path]
    server, url = start_server(log_path, {
        "MOTO_PLUGIN_MARIADB": MARIADB,
        "MOTO_PLUGIN_MARIADB_TLS_DIR": str(tls),
    })
    yield url
    server.terminate()
    server.wait(timeout=10)
    _server_log[:] = previous_log


@pytest.fixture
def app_user():
    """A REQUIRE SSL user of this test's own in MariaDB (dropped afterwards)."""
    admin = pymysql.connect(host=MYSQL_URL.hostname, port=MYSQL_URL.port or 3306,
                            user=MYSQL_URL.username or "root",
                            password=MYSQL_URL.password or "", autocommit=True,
                            connect_timeout=5)
    user, password = "tls_" + uuid.uuid4().hex[:8], "pw-" + uuid.uuid4().hex
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}' REQUIRE SSL")
    yield user, password
    with admin.cursor() as cursor:
        cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    admin.close()


def connect(host: str, port: int, user: str, password: str, tls: bool) -> pymysql.Connection:
    # PyMySQL uses TLS (unverified) whenever the server offers it, unless ssl_disabled.
    extra = ({"ssl_ca": str(CA), "ssl_verify_cert": True, "ssl_verify_identity": True}
             if tls else {"ssl_disabled": True})
    return pymysql.connect(host=host, port=port, user=user, password=password,
                           autocommit=True, connect_timeout=3, read_timeout=20, **extra)


def session_tls(connection: pymysql.Connection) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        return cursor.fetchone()[1]


def refused_login(host: str, port: int, user: str, password: str) -> tuple[int, str]:
    with pytest.raises(pymysql.MySQLError) as error:
        connect(host, port, user, password, tls=False)
    return error.value.args[0], error.value.args[1]


def test_tls_through_the_endpoint_reaches_mariadb_as_tls(client, app_user):
    cluster = client("rds").create_db_cluster(
        DBClusterIdentifier="tls-plain-pg", Engine="aurora-mysql",
        MasterUsername="admin", MasterUserPassword="Passw0rd-Passw0rd",
    )["DBCluster"]
    host, port = cluster["Endpoint"], cluster["Port"]
    user, password = app_user
    # The endpoint's certificate names its address (verified), and MariaDB's session is TLS.
    secure = connect(host, port, user, password, tls=True)
    assert session_tls(secure).startswith("TLSv1.")
    secure.close()
    # Plain: MariaDB itself refuses the REQUIRE SSL user; the default parameter group does
    # not require TLS, so root still logs in without it.
    code, message = refused_login(host, port, user, password)
    assert code == ACCESS_DENIED and f"Access denied for user '{user}'" in message
    plain = connect(host, port, MYSQL_URL.username or "root", MYSQL_URL.password or "", tls=False)
    assert session_tls(plain) == ""
    plain.close()


TLS_ONLY = """
Resources:
  ClusterParameterGroup:
    Type: AWS::RDS::DBClusterParameterGroup
    Properties:
      Description: TLS only
      Family: aurora-mysql8.0
      Parameters:
        require_secure_transport: "ON"
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties:
      DBClusterIdentifier: tls-only
      Engine: aurora-mysql
      EngineVersion: 8.0.mysql_aurora.3.08.2
      MasterUsername: admin
      MasterUserPassword: Passw0rd-Passw0rd
      DBClusterParameterGroupName:
        Ref: ClusterParameterGroup
Outputs:
  Group:
    Value:
      Ref: ClusterParameterGroup
  Endpoint:
    Value:
      Fn::GetAtt: [Cluster, Endpoint.Address]
  Port:
    Value:
      Fn::GetAtt: [Cluster, Endpoint.Port]
"""


def test_require_secure_transport_refuses_plain_connections_as_aurora(client, app_user):
    stack = deploy(client("cloudformation"), "tls-only", TLS_ONLY)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    rds = client("rds")
    assert rds.describe_db_clusters(DBClusterIdentifier="tls-only")["DBClusters"][0][
        "DBClusterParameterGroup"] == out["Group"]
    parameters = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=out["Group"])
    assert {p["ParameterName"]: p["ParameterValue"] for p in parameters["Parameters"]} == {
        "require_secure_transport": "ON"}
    host, port = out["Endpoint"], int(out["Port"])
    for user, password in (app_user, (MYSQL_URL.username or "root", MYSQL_URL.password or "")):
        code, message = refused_login(host, port, user, password)
        assert (code, message) == (
            INSECURE_TRANSPORT,
            "Connections using insecure transport are prohibited while --require_secure_transport=ON.",
        )
    secure = connect(host, port, *app_user, tls=True)
    assert session_tls(secure).startswith("TLSv1.")
    secure.close()
    # Deleting the stack deletes the group.
    client("cloudformation").delete_stack(StackName="tls-only")
    assert out["Group"] not in [g["DBClusterParameterGroupName"] for g in
                                rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]]
