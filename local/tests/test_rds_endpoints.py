"""The endpoint gateway (moto_plugin/rds_endpoints.py): each aurora-mysql cluster's writer
and reader endpoints listen in front of MariaDB with Aurora's rules for the cluster's role.

The rules themselves are pure functions, tested first without a server. The rest runs
against this module's own moto server, started with MOTO_PLUGIN_MARIADB (the gateway is
active only then), and the MariaDB of `make local-up` (DEPLOY_TEST_MYSQL_URL); each test
uses a database of its own, so tests can share that MariaDB."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlparse

import pymysql
import pytest
from conftest import LOCAL_DIR, _free_port, _server_log, deploy, outputs, start_server
from pymysql.constants import CLIENT
from stacks import ENGINE_VERSION, GLOBAL, PRIMARY, SECONDARY

from moto_plugin import rds_endpoints as gw

MYSQL_URL = urlparse(os.environ.get("DEPLOY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3307/"))
MARIADB = f"{MYSQL_URL.hostname}:{MYSQL_URL.port or 3306}"
SWITCHOVER_OUTAGE = 2.0
READ_ONLY = 1290
NOT_FORWARDED = 1235


# --- The rules, without a server ------------------------------------------------------------


@pytest.mark.parametrize("sql, words", [
    ("  insert into t values (1)", ["INSERT", "INTO", "T"]),
    ("/* a comment */ UPDATE t SET a = 1", ["UPDATE", "T", "SET"]),
    ("-- line comment\n# another\nDELETE FROM t", ["DELETE", "FROM", "T"]),
    ("/*!40101 SET NAMES utf8 */", ["SET", "NAMES", "UTF8"]),
    ("--not-a-comment", []),
    ("(SELECT 1)", []),
    ("", []),
])
def test_leading_words_skip_whitespace_and_comments(sql, words):
    assert gw.leading_words(sql, 3) == words


@pytest.mark.parametrize("sql, kind, name", [
    ("SELECT * FROM t", gw.READ, "SELECT"),
    ("select * from t for update", gw.READ, "SELECT"),
    ("SHOW TABLES", gw.READ, "SHOW"),
    ("START TRANSACTION", gw.READ, "START"),
    ("COMMIT", gw.READ, "COMMIT"),
    ("ROLLBACK", gw.READ, "ROLLBACK"),
    ("USE db", gw.READ, "USE"),
    ("INSERT INTO t VALUES (1)", gw.WRITE, "INSERT"),
    ("replace into t values (1)", gw.WRITE, "REPLACE"),
    ("/* x */ update t set a = 1", gw.WRITE, "UPDATE"),
    ("DELETE FROM t", gw.WRITE, "DELETE"),
    ("CREATE TABLE t (a int)", gw.DDL, "CREATE TABLE"),
    ("CREATE TEMPORARY TABLE t (a int)", gw.DDL, "CREATE TEMPORARY TABLE"),
    ("create or replace view v as select 1", gw.DDL, "CREATE OR REPLACE VIEW"),
    ("ALTER TABLE t ADD b int", gw.DDL, "ALTER TABLE"),
    ("DROP DATABASE d", gw.DDL, "DROP DATABASE"),
    ("RENAME TABLE a TO b", gw.DDL, "RENAME TABLE"),
    ("TRUNCATE t", gw.DDL, "TRUNCATE"),
    ("CREATE USER 'u'@'%' IDENTIFIED BY 'p'", gw.DDL, "CREATE USER"),
    ("GRANT ALL ON *.* TO u", gw.DDL, "GRANT"),
    ("REVOKE ALL ON *.* FROM u", gw.DDL, "REVOKE"),
    ("LOAD DATA LOCAL INFILE 'x' INTO TABLE t", gw.DDL, "LOAD DATA"),
    ("SET PASSWORD = PASSWORD('x')", gw.DDL, "SET PASSWORD"),
    ("LOCK TABLES t WRITE", gw.SESSION_ONLY, "LOCK TABLES"),
    ("UNLOCK TABLES", gw.READ, "UNLOCK"),
    ("XA START 'x'", gw.SESSION_ONLY, "XA START"),
    ("SAVEPOINT s1", gw.SESSION_ONLY, "SAVEPOINT"),
    ("RELEASE SAVEPOINT s1", gw.SESSION_ONLY, "RELEASE SAVEPOINT"),
    ("ROLLBACK TO s1", gw.SESSION_ONLY, "ROLLBACK TO SAVEPOINT"),
    ("rollback work to savepoint s1", gw.SESSION_ONLY, "ROLLBACK TO SAVEPOINT"),
    ("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", gw.SESSION_ONLY,
     "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"),
    ("SET GLOBAL TRANSACTION ISOLATION LEVEL SERIALIZABLE", gw.SESSION_ONLY,
     "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
    ("set transaction read only, isolation level read uncommitted", gw.SESSION_ONLY,
     "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED"),
    ("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", gw.READ, "SET TRANSACTION"),
    ("SET TRANSACTION READ ONLY", gw.READ, "SET TRANSACTION"),
    ("SET SESSION transaction_isolation = 'READ-COMMITTED'", gw.SESSION_ONLY,
     "SET transaction_isolation = 'READ-COMMITTED'"),
    ("SET @@tx_isolation = 'SERIALIZABLE'", gw.SESSION_ONLY, "SET tx_isolation = 'SERIALIZABLE'"),
    ("SET @@session.transaction_isolation = 'REPEATABLE-READ'", gw.READ, "SET"),
    ("SET NAMES utf8mb4, SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE'", gw.READ, "SET"),
    ("SET autocommit = 1", gw.READ, "SET"),
    ("PREPARE s FROM 'INSERT INTO t VALUES (1)'", gw.WRITE, "INSERT"),
    ("PREPARE s FROM 'SELECT 1'", gw.READ, "SELECT"),
    ("PREPARE s FROM @sql", gw.READ, "PREPARE"),
    ("EXECUTE s", gw.READ, "EXECUTE"),
])
def test_classify(sql, kind, name):
    statement = gw.classify(sql)
    assert (statement.kind, statement.name) == (kind, name)


@pytest.mark.parametrize("sql, value", [
    ("SET aurora_replica_read_consistency = 'SESSION'", "SESSION"),
    ("set session aurora_replica_read_consistency='eventual'", "EVENTUAL"),
    ('SET @@session.aurora_replica_read_consistency = "global";', "GLOBAL"),
    ("SET @@aurora_replica_read_consistency := 'Session'", "SESSION"),
    ("/* c */ SET LOCAL AURORA_REPLICA_READ_CONSISTENCY = ''", ""),
    ("SET aurora_replica_read_consistency = SESSION", "SESSION"),
    ("SET `aurora_replica_read_consistency` = DEFAULT", ""),
])
def test_the_consistency_variable_is_recognised(sql, value):
    assert gw.classify(sql) == gw.Statement(gw.CONSISTENCY, "SET aurora_replica_read_consistency", value)


def test_a_bad_consistency_value_is_an_error():
    statement = gw.classify("SET aurora_replica_read_consistency = 'STRONG'")
    assert (statement.kind, statement.value) == (gw.BAD_CONSISTENCY, "STRONG")
    answer = gw.judge(gw.MODE_WRITER, statement, "")
    assert (answer.code, answer.sqlstate) == (1231, "42000")
    assert answer.message == "Variable 'aurora_replica_read_consistency' can't be set to the value of 'STRONG'"
    # Mixed with other assignments, or GLOBAL: left to MariaDB, which refuses it.
    assert gw.classify("SET autocommit = 1, aurora_replica_read_consistency = 'SESSION'").kind == gw.READ
    assert gw.classify("SET GLOBAL aurora_replica_read_consistency = 'SESSION'").kind == gw.READ


def test_judge_by_mode():
    write, ddl = gw.classify("INSERT INTO t VALUES (1)"), gw.classify("CREATE TABLE t (a int)")
    savepoint, read = gw.classify("SAVEPOINT a"), gw.classify("SELECT 1")
    consistency = gw.classify("SET aurora_replica_read_consistency = 'SESSION'")
    for mode in (gw.MODE_WRITER, gw.MODE_READ_ONLY, gw.MODE_FORWARDING):
        assert gw.judge(mode, consistency, "") == gw.Answer(0, consistency="SESSION")
        assert gw.judge(mode, read, "") is None
    for statement in (write, ddl, savepoint):
        assert gw.judge(gw.MODE_WRITER, statement, "") is None
    assert gw.judge(gw.MODE_READ_ONLY, write, "SESSION").code == READ_ONLY
    assert gw.judge(gw.MODE_READ_ONLY, ddl, "SESSION").code == READ_ONLY
    assert gw.judge(gw.MODE_READ_ONLY, savepoint, "") is None
    assert gw.judge(gw.MODE_FORWARDING, write, "").code == READ_ONLY
    assert gw.judge(gw.MODE_FORWARDING, write, "SESSION") is None
    answer = gw.judge(gw.MODE_FORWARDING, ddl, "SESSION")
    assert (answer.code, answer.sqlstate) == (NOT_FORWARDED, "42000")
    assert "CREATE TABLE" in answer.message and "write forwarding" in answer.message
    assert gw.judge(gw.MODE_FORWARDING, savepoint, "SESSION").code == NOT_FORWARDED


def test_several_statements_are_judged_together():
    sql = "SELECT ';' AS `a;b`; /* ; */ INSERT INTO t VALUES ('x;y')"
    assert gw.split_statements(sql) == ["SELECT ';' AS `a;b`", " /* ; */ INSERT INTO t VALUES ('x;y')"]
    statements = gw.classify_query(sql, complete=True, multi_statements=True)
    assert [s.kind for s in statements] == [gw.READ, gw.WRITE]
    assert gw.judge_all(gw.MODE_READ_ONLY, statements, "").code == READ_ONLY
    # Without CLIENT_MULTI_STATEMENTS (or beyond the prefix read) only the first counts.
    assert [s.kind for s in gw.classify_query(sql, complete=True, multi_statements=False)] == [gw.READ]
    assert [s.kind for s in gw.classify_query(sql, complete=False, multi_statements=True)] == [gw.READ]
    assert gw.split_statements("SELECT 'it''s; fine', \"a\\\";b\"") == ["SELECT 'it''s; fine', \"a\\\";b\""]


def test_packets():
    assert gw.packet(1, gw.ok_payload(False)) == bytes.fromhex("0700000100000002000000")
    assert gw.ok_payload(True) == bytes.fromhex("0000000200000000")
    assert gw.err_payload(1290, "HY000", "ro") == b"\xff\x0a\x05#HY000ro"


def test_the_greeting_loses_ssl_compression_and_query_attributes():
    capabilities = 0xF7FF | gw.CLIENT_SSL | gw.CLIENT_COMPRESS
    upper = (gw.CLIENT_QUERY_ATTRIBUTES | gw.CLIENT_ZSTD_COMPRESSION | gw.CLIENT_SESSION_TRACK) >> 16
    greeting = (
        b"\x0a" + b"10.11.6-MariaDB\x00" + (42).to_bytes(4, "little") + b"abcdefgh" + b"\x00"
        + capabilities.to_bytes(2, "little") + b"\x2d" + b"\x02\x00" + upper.to_bytes(2, "little")
        + b"\x15" + b"\x00" * 10 + b"ijklmnopqrst\x00" + b"mysql_native_password\x00"
    )
    patched = gw.patch_greeting(greeting)
    at = len(b"\x0a10.11.6-MariaDB\x00") + 4 + 8 + 1
    lower = int.from_bytes(patched[at:at + 2], "little")
    high = int.from_bytes(patched[at + 5:at + 7], "little") << 16
    assert not lower & (gw.CLIENT_SSL | gw.CLIENT_COMPRESS)
    assert lower == capabilities & ~(gw.CLIENT_SSL | gw.CLIENT_COMPRESS) & 0xFFFF
    assert high == gw.CLIENT_SESSION_TRACK
    assert len(patched) == len(greeting) and patched[at + 7:] == greeting[at + 7:]
    assert gw.patch_greeting(b"\xff\x10\x04Too many connections") == b"\xff\x10\x04Too many connections"


# --- Against moto and MariaDB ---------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory):
    """This module's moto server (overriding conftest's): the gateway in front of MariaDB,
    switchovers costing SWITCHOVER_OUTAGE seconds, no extra Describe count-down."""
    log_path = tmp_path_factory.mktemp("moto-endpoints") / "moto.log"
    previous_log = list(_server_log)
    _server_log[:] = [log_path]
    server, url = start_server(log_path, {
        "MOTO_PLUGIN_MARIADB": MARIADB,
        "MOTO_PLUGIN_SWITCHOVER_OUTAGE_SECONDS": str(SWITCHOVER_OUTAGE),
        "MOTO_PLUGIN_OPERATION_DESCRIBES": "0",
    })
    yield url
    server.terminate()
    server.wait(timeout=10)
    _server_log[:] = previous_log


@pytest.fixture
def database():
    """A database of this test's own in the shared MariaDB (dropped afterwards)."""
    try:
        admin = pymysql.connect(host=MYSQL_URL.hostname, port=MYSQL_URL.port or 3306,
                                user=MYSQL_URL.username or "root", password=MYSQL_URL.password or "",
                                autocommit=True, connect_timeout=5)
    except pymysql.MySQLError as error:
        pytest.fail(f"MariaDB at {MARIADB} is not reachable ({error}): run `make local-up`")
    name = "gw_" + uuid.uuid4().hex[:10]
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
        cursor.execute(f"CREATE TABLE `{name}`.t (id INT AUTO_INCREMENT PRIMARY KEY, v LONGTEXT)")
    yield name
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


def connect(address: str, port: int, database: str | None = None, **kwargs) -> pymysql.Connection:
    user = kwargs.pop("user", MYSQL_URL.username or "root")
    password = kwargs.pop("password", MYSQL_URL.password or "")
    return pymysql.connect(host=address, port=port, user=user, password=password,
                           database=database, autocommit=True, connect_timeout=3,
                           read_timeout=20, write_timeout=20, **kwargs)


def run(connection: pymysql.Connection, sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def refused(connection: pymysql.Connection, sql: str) -> tuple[int, str]:
    with pytest.raises(pymysql.MySQLError) as error:
        run(connection, sql)
    return error.value.args[0], error.value.args[1]


def cannot_connect(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return False
    except OSError:
        return True


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other side closed `sock` (after whatever it had sent)."""
    sock.settimeout(3)
    try:
        while sock.recv(1 << 16):
            pass
        return True
    except ConnectionError:
        return True
    except socket.timeout:
        return False
    finally:
        sock.close()


def listing(moto_url: str) -> dict[str, dict]:
    answer = json.load(urllib.request.urlopen(f"{moto_url}/moto-api/plugin/rds/endpoints"))
    assert answer["active"] is True
    return {e["cluster"]: e for e in answer["endpoints"]}


def post_outage(moto_url: str, body: dict) -> float:
    request = urllib.request.Request(
        f"{moto_url}/moto-api/plugin/rds/outage", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    return json.load(urllib.request.urlopen(request))["until"]


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def cluster(client, region: str, identifier: str) -> dict:
    return client("rds", region).describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]


def global_database(client, forwarding: bool = True) -> tuple[dict, dict]:
    """A global cluster with a primary in us-east-1 and a secondary in us-east-2, through
    the RDS API; their DescribeDBClusters answers."""
    rds, rds2 = client("rds"), client("rds", "us-east-2")
    rds.create_global_cluster(GlobalClusterIdentifier="gw-global", Engine="aurora-mysql",
                              EngineVersion=ENGINE_VERSION)
    rds.create_db_cluster(DBClusterIdentifier="gw-primary", Engine="aurora-mysql",
                          EngineVersion=ENGINE_VERSION, MasterUsername="admin",
                          MasterUserPassword="not-used-here", GlobalClusterIdentifier="gw-global",
                          EnableGlobalWriteForwarding=forwarding)
    rds2.create_db_cluster(DBClusterIdentifier="gw-secondary", Engine="aurora-mysql",
                           EngineVersion=ENGINE_VERSION, GlobalClusterIdentifier="gw-global",
                           EnableGlobalWriteForwarding=forwarding)
    return cluster(client, "us-east-1", "gw-primary"), cluster(client, "us-east-2", "gw-secondary")


def test_endpoints_by_role(client, moto_url):
    primary, secondary = global_database(client)
    # The writer: both endpoints are loopback addresses of its own, listening.
    assert primary["Endpoint"] == "127.77.1.1"
    assert primary["ReaderEndpoint"] == "127.77.1.2"
    assert secondary["ReaderEndpoint"] == "127.77.2.2"
    assert isinstance(primary["Port"], int)
    for address, port in ((primary["Endpoint"], primary["Port"]),
                          (primary["ReaderEndpoint"], primary["Port"]),
                          (secondary["ReaderEndpoint"], secondary["Port"])):
        assert not cannot_connect(address, port), f"{address}:{port} does not listen"
    # The secondary's writer endpoint is inactive: an Aurora-style name that resolves
    # nowhere, and its loopback address has no listener either.
    name = secondary["Endpoint"]
    assert name.startswith("gw-secondary.cluster-") and name.endswith(".us-east-2.rds.amazonaws.com")
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(name, secondary["Port"])
    with pytest.raises(pymysql.err.OperationalError) as error:
        connect(name, secondary["Port"])
    assert error.value.args[0] == 2003
    endpoints = listing(moto_url)
    assert endpoints["gw-primary"]["role"] == "writer"
    assert endpoints["gw-primary"]["listening"] == ["reader", "writer"]
    assert endpoints["gw-secondary"]["role"] == "secondary"
    assert endpoints["gw-secondary"]["listening"] == ["reader"]
    assert endpoints["gw-secondary"]["endpoint"] == name
    assert cannot_connect(endpoints["gw-secondary"]["writer_address"], secondary["Port"])

    # A cluster in no global cluster is a writer too.
    client("rds", "us-west-2").create_db_cluster(
        DBClusterIdentifier="gw-alone", Engine="aurora-mysql", EngineVersion=ENGINE_VERSION,
        MasterUsername="admin", MasterUserPassword="not-used-here")
    alone = cluster(client, "us-west-2", "gw-alone")
    assert (alone["Endpoint"], alone["ReaderEndpoint"]) == ("127.77.3.1", "127.77.3.2")
    assert listing(moto_url)["gw-alone"]["role"] == "standalone"
    assert not cannot_connect(alone["Endpoint"], alone["Port"])


def test_the_primary_writer_takes_ddl_and_dml_and_its_reader_refuses_writes(client, database):
    primary, _ = global_database(client)
    writer = connect(primary["Endpoint"], primary["Port"], database)
    run(writer, "CREATE TABLE w (id INT PRIMARY KEY)")
    run(writer, "INSERT INTO w VALUES (1)")
    run(writer, "UPDATE w SET id = 2")
    run(writer, "START TRANSACTION")
    run(writer, "SAVEPOINT s")
    run(writer, "INSERT INTO w VALUES (3)")
    run(writer, "ROLLBACK TO SAVEPOINT s")
    run(writer, "COMMIT")
    # Aurora takes the variable on the writer too.
    run(writer, "SET aurora_replica_read_consistency = 'SESSION'")
    assert run(writer, "SELECT id FROM w") == ((2,),)

    reader = connect(primary["ReaderEndpoint"], primary["Port"], database)
    code, message = refused(reader, "INSERT INTO w VALUES (4)")
    assert code == READ_ONLY
    assert message == gw.READ_ONLY_MESSAGE
    assert refused(reader, "CREATE TABLE x (a INT)")[0] == READ_ONLY
    assert refused(reader, "DELETE FROM w")[0] == READ_ONLY
    # Even with the variable: the writer cluster's reader endpoint forwards nothing.
    run(reader, "SET aurora_replica_read_consistency = 'SESSION'")
    assert refused(reader, "INSERT INTO w VALUES (4)")[0] == READ_ONLY
    assert run(reader, "SELECT id FROM w") == ((2,),)  # reads pass


def test_the_secondary_reader_forwards_writes_as_aurora_does(client, database):
    primary, secondary = global_database(client)
    reader = connect(secondary["ReaderEndpoint"], secondary["Port"], database)
    assert run(reader, "SELECT COUNT(*) FROM t") == ((0,),)
    code, message = refused(reader, "INSERT INTO t (v) VALUES ('a')")
    assert (code, message) == (READ_ONLY, gw.READ_ONLY_MESSAGE)

    run(reader, "SET aurora_replica_read_consistency = 'SESSION'")
    run(reader, "INSERT INTO t (v) VALUES ('a')")
    run(reader, "UPDATE t SET v = 'b'")
    run(reader, "START TRANSACTION")
    run(reader, "SELECT * FROM t FOR UPDATE")
    run(reader, "INSERT INTO t (v) VALUES ('c')")
    run(reader, "COMMIT")
    writer = connect(primary["Endpoint"], primary["Port"], database)
    assert run(writer, "SELECT v FROM t ORDER BY id") == (("b",), ("c",))

    for sql, name in [
        ("CREATE TABLE u (a INT)", "CREATE TABLE"),
        ("CREATE TEMPORARY TABLE u (a INT)", "CREATE TEMPORARY TABLE"),
        ("ALTER TABLE t ADD COLUMN b INT", "ALTER TABLE"),
        ("DROP TABLE t", "DROP TABLE"),
        ("TRUNCATE TABLE t", "TRUNCATE TABLE"),
        ("SAVEPOINT s1", "SAVEPOINT"),
        ("LOAD DATA LOCAL INFILE '/dev/null' INTO TABLE t", "LOAD DATA"),
        ("LOCK TABLES t WRITE", "LOCK TABLES"),
        ("XA START 'x1'", "XA START"),
        ("CREATE USER 'gw_nobody'@'%'", "CREATE USER"),
        ("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
         "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"),
        ("SET SESSION transaction_isolation = 'READ-COMMITTED'",
         "SET transaction_isolation = 'READ-COMMITTED'"),
    ]:
        code, message = refused(reader, sql)
        assert code == NOT_FORWARDED, sql
        assert name in message and "write forwarding" in message, message
    run(reader, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    run(reader, "SET NAMES utf8mb4, SESSION sql_mode = 'STRICT_TRANS_TABLES'")
    assert run(reader, "SELECT COUNT(*) FROM t") == ((2,),)

    # Setting it back to empty stops forwarding again; a bad value is refused.
    run(reader, "SET @@session.aurora_replica_read_consistency = ''")
    assert refused(reader, "DELETE FROM t")[0] == READ_ONLY
    code, message = refused(reader, "SET aurora_replica_read_consistency = 'strong'")
    assert code == 1231 and "'strong'" in message
    # A new connection starts without it.
    run(reader, "SET aurora_replica_read_consistency = 'EVENTUAL'")
    other = connect(secondary["ReaderEndpoint"], secondary["Port"], database)
    assert refused(other, "INSERT INTO t (v) VALUES ('d')")[0] == READ_ONLY
    run(reader, "INSERT INTO t (v) VALUES ('d')")


def test_a_secondary_without_write_forwarding_refuses_writes(client, database):
    _, secondary = global_database(client, forwarding=False)
    assert secondary["GlobalWriteForwardingStatus"] == "disabled"
    reader = connect(secondary["ReaderEndpoint"], secondary["Port"], database)
    run(reader, "SET aurora_replica_read_consistency = 'SESSION'")
    assert refused(reader, "INSERT INTO t (v) VALUES ('a')")[0] == READ_ONLY
    assert refused(reader, "CREATE TABLE u (a INT)")[0] == READ_ONLY
    assert run(reader, "SELECT COUNT(*) FROM t") == ((0,),)


def test_hidden_writes_are_judged_too(client, database):
    primary, secondary = global_database(client)
    reader = connect(primary["ReaderEndpoint"], primary["Port"], database,
                     client_flag=CLIENT.MULTI_STATEMENTS)
    # Several statements in one query, a write among them.
    assert refused(reader, "SELECT 1; INSERT INTO t (v) VALUES ('a')")[0] == READ_ONLY
    # An executable comment and a prepared statement.
    assert refused(reader, "/*!40000 INSERT INTO t (v) VALUES ('a') */")[0] == READ_ONLY
    assert refused(reader, "PREPARE s FROM 'INSERT INTO t (v) VALUES (1)'")[0] == READ_ONLY
    assert run(reader, "SELECT COUNT(*) FROM t") == ((0,),)


def test_large_statements_stream_through_and_refusals_leave_the_connection_usable(client, database):
    primary, secondary = global_database(client)
    value = "x" * (4 * 1024 * 1024)
    writer = connect(primary["Endpoint"], primary["Port"], database)
    run(writer, f"INSERT INTO t (v) VALUES ('{value}')")
    reader = connect(primary["ReaderEndpoint"], primary["Port"], database,
                     max_allowed_packet=64 * 1024 * 1024)
    assert refused(reader, f"INSERT INTO t (v) VALUES ('{value}')")[0] == READ_ONLY
    # Longer than one protocol packet (16 MiB): the rest is discarded too.
    assert refused(reader, f"INSERT INTO t (v) VALUES ('{value * 5}')")[0] == READ_ONLY
    assert run(reader, "SELECT LENGTH(v) FROM t") == ((len(value),),)
    forwarding = connect(secondary["ReaderEndpoint"], secondary["Port"], database)
    run(forwarding, "SET aurora_replica_read_consistency = 'SESSION'")
    run(forwarding, f"INSERT INTO t (v) VALUES ('{value}')")
    assert run(writer, "SELECT COUNT(*), SUM(LENGTH(v)) FROM t") == ((2, 2 * len(value)),)


def test_an_outage_refuses_connections_and_drops_open_ones(client, moto_url, database):
    primary, secondary = global_database(client)
    address, port = primary["Endpoint"], primary["Port"]
    writer = connect(address, port, database)
    reader = connect(secondary["ReaderEndpoint"], secondary["Port"], database)
    until = post_outage(moto_url, {"seconds": 1.5, "global_cluster": "gw-global"})
    assert until > time.time()
    assert listing(moto_url)["gw-primary"]["outage"] is True
    assert listing(moto_url)["gw-primary"]["listening"] == []
    for connection in (writer, reader):
        with pytest.raises(pymysql.err.OperationalError):
            run(connection, "SELECT 1")
    with pytest.raises(pymysql.err.OperationalError) as error:
        connect(address, port, database)
    assert error.value.args[0] == 2003  # refused
    wait_until(lambda: time.time() > until + 0.2)
    assert run(connect(address, port, database), "SELECT 1") == ((1,),)
    assert run(connect(secondary["ReaderEndpoint"], secondary["Port"], database), "SELECT 1") == ((1,),)
    assert listing(moto_url)["gw-primary"]["outage"] is False

    # Without global_cluster: every cluster; an unknown one is a 404.
    post_outage(moto_url, {"seconds": 0.5})
    assert cannot_connect(secondary["ReaderEndpoint"], secondary["Port"])
    with pytest.raises(urllib.error.HTTPError) as http_error:
        post_outage(moto_url, {"seconds": 1, "global_cluster": "nope"})
    assert http_error.value.code == 404


def test_a_switchover_swaps_which_writer_endpoint_listens(client, moto_url, database):
    primary, secondary = global_database(client)
    old_writer = connect(primary["Endpoint"], primary["Port"], database)
    started = time.time()
    client("rds").switchover_global_cluster(
        GlobalClusterIdentifier="gw-global", TargetDbClusterIdentifier=secondary["DBClusterArn"])
    # The writer is unavailable for a while, and the operation shows as under way.
    [under_way] = client("rds").describe_global_clusters(GlobalClusterIdentifier="gw-global")["GlobalClusters"]
    assert under_way["Status"] == "switching-over"
    assert under_way["FailoverState"]["ToDbClusterArn"] == secondary["DBClusterArn"]
    with pytest.raises(pymysql.err.OperationalError):
        run(old_writer, "SELECT 1")
    assert cannot_connect("127.77.1.1", primary["Port"])
    assert cannot_connect("127.77.2.2", secondary["Port"])
    outage = listing(moto_url)["gw-primary"]
    assert outage["outage"] is True
    assert outage["outage_until"] == pytest.approx(started + SWITCHOVER_OUTAGE, abs=1.0)

    def settled():
        [gc] = client("rds").describe_global_clusters(GlobalClusterIdentifier="gw-global")["GlobalClusters"]
        return gc["Status"] == "available"

    wait_until(settled, timeout=SWITCHOVER_OUTAGE + 5)
    assert time.time() - started >= SWITCHOVER_OUTAGE - 0.1
    # After it: the new writer's writer endpoint listens, the old one's is inactive.
    new_primary = cluster(client, "us-east-2", "gw-secondary")
    old_primary = cluster(client, "us-east-1", "gw-primary")
    assert new_primary["Endpoint"] == "127.77.2.1"
    assert old_primary["Endpoint"].startswith("gw-primary.cluster-")
    assert old_primary["ReaderEndpoint"] == "127.77.1.2"
    assert cannot_connect("127.77.1.1", old_primary["Port"])
    writer = connect(new_primary["Endpoint"], new_primary["Port"], database)
    run(writer, "CREATE TABLE after_switchover (a INT)")
    run(writer, "INSERT INTO t (v) VALUES ('new writer')")
    # The old primary is a secondary now, forwarding (it had asked for it).
    reader = connect(old_primary["ReaderEndpoint"], old_primary["Port"], database)
    assert refused(reader, "INSERT INTO t (v) VALUES ('x')")[0] == READ_ONLY
    run(reader, "SET aurora_replica_read_consistency = 'GLOBAL'")
    run(reader, "INSERT INTO t (v) VALUES ('forwarded')")
    assert refused(reader, "DROP TABLE after_switchover")[0] == NOT_FORWARDED
    # The new writer's reader endpoint is the read-only one.
    new_reader = connect(new_primary["ReaderEndpoint"], new_primary["Port"], database)
    assert refused(new_reader, "INSERT INTO t (v) VALUES ('x')")[0] == READ_ONLY
    roles = {name: e["role"] for name, e in listing(moto_url).items()}
    assert roles == {"gw-primary": "secondary", "gw-secondary": "writer"}


def test_reset_and_deletion_stop_the_listeners(client, moto_url):
    primary, secondary = global_database(client)
    open_connection = socket.create_connection((primary["Endpoint"], primary["Port"]), timeout=2)
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    for address, port in ((primary["Endpoint"], primary["Port"]),
                          (primary["ReaderEndpoint"], primary["Port"]),
                          (secondary["ReaderEndpoint"], secondary["Port"])):
        assert cannot_connect(address, port)
    assert closed_by_peer(open_connection)
    assert listing(moto_url) == {}

    # A cluster created after the reset gets listeners again, numbered from 1.
    client("rds").create_db_cluster(
        DBClusterIdentifier="gw-again", Engine="aurora-mysql", EngineVersion=ENGINE_VERSION,
        MasterUsername="admin", MasterUserPassword="not-used-here")
    again = cluster(client, "us-east-1", "gw-again")
    assert again["Endpoint"] == "127.77.1.1"
    assert run(connect(again["Endpoint"], again["Port"]), "SELECT 1") == ((1,),)
    client("rds").delete_db_cluster(DBClusterIdentifier="gw-again", SkipFinalSnapshot=True)
    assert cannot_connect(again["Endpoint"], again["Port"])
    assert cannot_connect(again["ReaderEndpoint"], again["Port"])
    assert listing(moto_url) == {}


def test_a_taken_port_moves_the_cluster_to_a_free_one(client):
    # After the reset the next cluster is number 1: take its writer address on its Port.
    taken = socket.socket()
    taken.bind(("127.77.1.1", 0))
    taken.listen(1)
    wanted = taken.getsockname()[1]
    try:
        client("rds").create_db_cluster(
            DBClusterIdentifier="gw-port", Engine="aurora-mysql", EngineVersion=ENGINE_VERSION,
            MasterUsername="admin", MasterUserPassword="not-used-here", Port=wanted)
        moved = cluster(client, "us-east-1", "gw-port")
        assert moved["Endpoint"] == "127.77.1.1"
        assert moved["Port"] != wanted
        assert run(connect(moved["Endpoint"], moved["Port"]), "SELECT 1") == ((1,),)
    finally:
        taken.close()


def test_cloudformation_clusters_get_endpoints_and_the_master_user(client, moto_url):
    """Through CfnDBCluster, as `deploy` creates them: GetAtt Endpoint.Address/Port lead to
    the writer, and the master user (created in MariaDB) logs in there with the secret."""
    user = "gw" + uuid.uuid4().hex[:8]
    name = "gw_db_" + user
    deploy(client("cloudformation"), "app-global", GLOBAL)
    primary = deploy(client("cloudformation"), "app-db",
                     PRIMARY.replace('"username": "admin"', f'"username": "{user}"')
                     .replace("DatabaseName: reviews", f"DatabaseName: {name}"),
                     {"GlobalClusterId": "app-global"})
    secondary = deploy(client("cloudformation", "us-east-2"), "app-db-us-east-2", SECONDARY,
                       {"GlobalClusterId": "app-global"})
    assert primary["StackStatus"] == "CREATE_COMPLETE", primary
    p, s = outputs(primary), outputs(secondary)
    assert p["Endpoint"] == "127.77.1.1" and p["ReadEndpoint"] == "127.77.1.2"
    assert s["Endpoint"].startswith("app-secondary.cluster-")
    secret = json.loads(client("secretsmanager").get_secret_value(SecretId=p["SecretArn"])["SecretString"])
    assert secret["username"] == user
    writer = connect(p["Endpoint"], int(p["Port"]), name, user=user, password=secret["password"])
    try:
        run(writer, "CREATE TABLE t (a INT)")
        run(writer, "INSERT INTO t VALUES (1)")
        endpoints = listing(moto_url)["app-secondary"]
        reader = connect(endpoints["reader_address"], endpoints["port"], name,
                         user=user, password=secret["password"])
        assert refused(reader, "INSERT INTO t VALUES (2)")[0] == READ_ONLY
        run(reader, "SET aurora_replica_read_consistency = 'SESSION'")
        run(reader, "INSERT INTO t VALUES (2)")
        assert run(writer, "SELECT a FROM t ORDER BY a") == ((1,), (2,))
    finally:
        run(writer, f"DROP DATABASE `{name}`")
        run(writer, f"DROP USER '{user}'@'%'")
