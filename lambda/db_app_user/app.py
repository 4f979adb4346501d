"""CloudFormation custom resource: the app's own MySQL user on one database instance.

Signed in with the master credentials, it creates the user named in the app secret (if
it does not exist yet) with that secret's password and grants it `PRIVILEGES` on the app
database and nothing else: no global privilege, no GRANT OPTION. Secrets Manager's
multi-user rotation later clones that user (`<name>_clone`, same grants) and alternates
between the two, so an update grants the privileges to both names and never resets a
password: the secret's current user keeps working. Delete leaves the users in place: a
retained or snapshotted database keeps serving whoever still holds its secret.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pymysql
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

# What the service does on its database: read and write rows, and apply its own schema
# migrations (CREATE TABLE, ALTER, indexes, foreign keys).
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX", "REFERENCES")
CLONE_SUFFIX = "_clone"
# The CA bundle of the Lambda runtime, which holds the RDS certificate authorities (the
# path AWS's own RDS rotation functions verify against).
DEFAULT_CA_FILE = "/etc/pki/tls/cert.pem"

logger = Logger()


def read_secret(arn: str) -> dict[str, Any]:
    client = boto3.client("secretsmanager")
    return json.loads(client.get_secret_value(SecretId=arn)["SecretString"])


def connect(master: dict[str, Any], ca_file: str | None) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=master["host"],
        port=int(master["port"]),
        user=master["username"],
        password=master["password"],
        connect_timeout=5,
        autocommit=True,
        ssl={"ca": ca_file} if ca_file else None,
    )


def base_name(username: str) -> str:
    return username.removesuffix(CLONE_SUFFIX)


def ensure_app_user(conn: pymysql.connections.Connection, *, username: str, password: str, database: str) -> list[str]:
    """Create `username` if missing and grant PRIVILEGES on `database` to it and to its
    rotation twin if that exists. Returns the users that now hold the grants."""
    database_ident = database.replace("`", "``")
    grants = ", ".join(PRIVILEGES)
    with conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (username, password))
        base = base_name(username)
        cur.execute("SELECT User FROM mysql.user WHERE User IN (%s, %s) AND Host = '%%'", (base, base + CLONE_SUFFIX))
        users = sorted(row[0] for row in cur.fetchall())
        for user in users:
            cur.execute(f"GRANT {grants} ON `{database_ident}`.* TO %s@'%%'", (user,))
    return users


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    props = event["ResourceProperties"]
    app = read_secret(props["AppSecretArn"])
    physical_id = f"{base_name(app['username'])}@{props['DatabaseName']}"
    if event["RequestType"] == "Delete":
        logger.info("leaving the database users in place", extra={"user": physical_id})
        return {"PhysicalResourceId": physical_id}
    master = read_secret(props["MasterSecretArn"])
    conn = connect(master, os.environ.get("DB_TLS_CA_FILE", DEFAULT_CA_FILE))
    try:
        users = ensure_app_user(
            conn, username=app["username"], password=app["password"], database=props["DatabaseName"]
        )
    finally:
        conn.close()
    logger.info("app users hold their grants", extra={"users": users, "database": props["DatabaseName"]})
    return {"PhysicalResourceId": physical_id}
