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
    secret's credentials. Only when `MOTO_PLUGIN_MARIADB` (HOST:PORT, root without a
    password, as `make local-up` starts it) is set."""
    address = os.environ.get("MOTO_PLUGIN_MARIADB")
    if not address:
        return
    host, port = address.rsplit(":", 1)

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
    done = subprocess.run(
        ["mariadb", "--no-defaults", "--protocol=tcp", "-h", host, "-P", port, "-uroot"],
        input=sql, text=True, capture_output=True, timeout=30,
    )
    if done.returncode != 0:
        # Never echo the SQL: it holds the password.
        raise InvalidParameterValue(
            f"the stand-in database at {address} refused the master user: {done.stderr.strip()}"
        )
