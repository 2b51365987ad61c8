"""Aurora creates the master user with the cluster; the plugin creates it in the MariaDB
that stands in for the clusters, so the functions can log in with the secret's
credentials. Needs the MariaDB of `make local-up` (DEPLOY_TEST_MYSQL_URL)."""

import os
import subprocess
import uuid
from urllib.parse import urlparse

import pytest

from moto_plugin.rds_database import create_master_user_in_stand_in


@pytest.fixture
def mariadb(monkeypatch):
    url = urlparse(os.environ.get("DEPLOY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3307/"))
    address = f"{url.hostname}:{url.port or 3306}"
    ok = subprocess.run(["mariadb", "--no-defaults", "--protocol=tcp", "-h", url.hostname,
                         "-P", str(url.port or 3306), "-uroot", "-e", "SELECT 1"],
                        capture_output=True)
    assert ok.returncode == 0, f"MariaDB at {address} is not reachable: run `make local-up`"
    monkeypatch.setenv("MOTO_PLUGIN_MARIADB", address)
    return url


def run_as(url, user, password, sql):
    return subprocess.run(["mariadb", "--no-defaults", "--protocol=tcp", "-h", url.hostname,
                           "-P", str(url.port or 3306), f"-u{user}", f"-p{password}", "-N", "-e", sql],
                          capture_output=True, text=True)


def test_the_master_user_can_log_in_with_the_secrets_password(mariadb):
    user = "m" + uuid.uuid4().hex[:8]
    password = "p'a%ss;wo`rd-" + uuid.uuid4().hex  # a quote must not break the SQL
    database = "db_" + user
    create_master_user_in_stand_in(user, password, database)
    answer = run_as(mariadb, user, password, f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{database}'")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == database

    # A new password (a replaced secret) replaces the old one.
    create_master_user_in_stand_in(user, password + "x", None)
    assert run_as(mariadb, user, password + "x", "SELECT 1").returncode == 0
    assert run_as(mariadb, user, password, "SELECT 1").returncode != 0
    run_as(mariadb, user, password + "x", f"DROP DATABASE `{database}`; DROP USER '{user}'@'%'")


def test_without_a_stand_in_nothing_is_done(monkeypatch):
    monkeypatch.delenv("MOTO_PLUGIN_MARIADB", raising=False)
    create_master_user_in_stand_in("nobody", "secret", None)  # no MariaDB needed
