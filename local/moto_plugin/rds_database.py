"""The MariaDB that stands in for every Aurora cluster's database (`make local-up` starts
it; MOTO_PLUGIN_MARIADB says where). The clusters' endpoints in front of it are
rds_endpoints'."""

from __future__ import annotations

import os
import subprocess

from moto.rds.exceptions import InvalidParameterValue


def create_master_user_in_stand_in(username: str, password: str, database: str | None) -> None:
    """Aurora creates the master user (and DatabaseName) with the cluster; the MariaDB that
    stands in for every cluster gets the same user, so the functions can log in with the
    secret's credentials. Only with a stand-in MariaDB (`_run_as_root`)."""

    def literal(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

    user = f"{literal(username)}@'%'"
    sql = (
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {literal(password)};\n"
        f"ALTER USER {user} IDENTIFIED BY {literal(password)};\n"
        f"GRANT ALL PRIVILEGES ON *.* TO {user} WITH GRANT OPTION;\n"
    )
    if database:
        sql += f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4;\n"
    _run_as_root(sql, "refused the master user", timeout=30)


def drop_database_in_stand_in(database: str) -> None:
    """Deleting an Aurora cluster deletes its data (a final snapshot is a copy kept outside
    it, restored only by a new cluster made from it: Aurora user guide, "Deleting Aurora DB
    clusters and DB instances"), so a cluster created again starts empty. The MariaDB that
    stands in for every cluster drops the database that the deleted cluster held, or a
    `deploy destroy` then `deploy up` found the old rows and ledger there."""
    quoted = "`" + database.replace("`", "``") + "`"
    # A connection left in a transaction on it would hold the drop for lock_wait_timeout
    # (a day by default): 20 s, then the deletion fails and says why.
    _run_as_root(
        f"SET SESSION lock_wait_timeout = 20;\nDROP DATABASE IF EXISTS {quoted};\n",
        f"could not drop {database}", timeout=60,
    )


def _run_as_root(sql: str, failing: str, timeout: int) -> None:
    """Runs `sql` as root in the stand-in MariaDB (`MOTO_PLUGIN_MARIADB`, HOST:PORT, root
    without a password, as `make local-up` starts it); nothing without one."""
    address = os.environ.get("MOTO_PLUGIN_MARIADB")
    if not address:
        return
    host, port = address.rsplit(":", 1)
    done = subprocess.run(
        ["mariadb", "--no-defaults", "--protocol=tcp", "-h", host, "-P", port, "-uroot"],
        input=sql, text=True, capture_output=True, timeout=timeout,
    )
    if done.returncode != 0:
        # Never echo the SQL: it may hold a password.
        raise InvalidParameterValue(
            f"the stand-in database at {address} {failing}: {done.stderr.strip()}"
        )
