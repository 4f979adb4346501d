"""Settings from plain environment variables; each capability is on only when its
variables are present. Secrets arrive as ``*_SECRET_ARN`` and are read from
Secrets Manager at start-up; local runs may give plain values instead."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from service import shardmap

ROLES = ("all", "users", "posts")
# CloudFront's API behaviour keeps a response at most this long (constructs_lib/cdn.py), whatever
# max-age the service sends.
PUBLIC_READ_MAX_AGE_LIMIT_SECONDS = 60


class ConfigError(ValueError):
    """A configuration problem; its message never contains a secret value."""


@dataclass(frozen=True)
class DbEndpoint:
    host: str
    port: int
    user: str
    database: str
    password: str = field(repr=False, default="")
    # A CA bundle to verify the server with over TLS (RDS requires TLS); None: plain TCP.
    tls_ca_file: str | None = None
    # Where user and password came from; the service re-reads it when they rotate.
    secret_arn: str | None = None


@dataclass(frozen=True)
class CacheConfig:
    host: str
    port: int
    tls: bool
    password: str | None = field(repr=False, default=None)
    key_prefix: str = ""


@dataclass(frozen=True)
class Shard:
    id: str
    endpoint: DbEndpoint


@dataclass(frozen=True)
class Settings:
    stage: int = 0
    role: str = "all"
    port: int = 8080
    instance_id: str = "local"
    region: str | None = None
    writer: DbEndpoint | None = None
    readers: tuple[DbEndpoint, ...] = ()
    cache: CacheConfig | None = None
    shard_map: dict[str, Any] | None = field(default=None, repr=False)
    shards: tuple[Shard, ...] = ()
    posts_table: str | None = None
    media_bucket: str | None = None
    queue_url: str | None = None
    users_service_url: str | None = None
    db_pool_size: int = 10
    cache_ttl_seconds: int = 300
    feed_cache_ttl_seconds: int = 30
    read_your_writes_seconds: int = 5
    # How long CloudFront and browsers may keep a public read to a signed-out visitor; 0: never.
    public_read_max_age_seconds: int = 5
    session_ttl_seconds: int = 7 * 24 * 3600
    migrate_on_start: bool = True
    # Mark the session cookie Secure whatever the request says (set behind CloudFront).
    session_cookie_secure: bool = False
    # How often database secrets are re-read (also at once when a password is refused).
    credentials_max_age_seconds: float = 300
    secret_reader: Callable[[str], str] | None = field(default=None, repr=False, compare=False)
    placement_poll_seconds: float = 5.0
    session_db_fallback: bool = True
    migrate_data_on_start: bool = True

    @property
    def serves_users(self) -> bool:
        return self.role in ("all", "users")

    @property
    def serves_posts(self) -> bool:
        return self.role in ("all", "posts")

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        secret_reader: Callable[[str], str] | None = None,
    ) -> Settings:
        env = os.environ if env is None else env
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        read_secret = secret_reader or _secrets_manager_reader(region)

        role = env.get("SERVICE_ROLE", "all")
        if role not in ROLES:
            raise ConfigError(f"SERVICE_ROLE must be one of {', '.join(ROLES)}")

        database = env.get("DB_NAME", "app")
        ca_file = env.get("DB_TLS_CA_FILE") or None
        writer = readers = None
        if env.get("DB_WRITER_HOST"):
            user, password = _db_credentials(env, read_secret)
            port = _int(env, "DB_PORT", 3306)
            secret_arn = env.get("DB_SECRET_ARN") or None
            writer = DbEndpoint(env["DB_WRITER_HOST"], port, user, database, password, ca_file, secret_arn)
            readers = tuple(
                _reader(item.strip(), port, writer) for item in env.get("DB_READER_HOST", "").split(",") if item.strip()
            )

        cache = None
        if env.get("CACHE_HOST"):
            cache_password = env.get("CACHE_PASSWORD") or None
            if env.get("CACHE_AUTH_SECRET_ARN"):
                cache_password = secret_field(read_secret(env["CACHE_AUTH_SECRET_ARN"]), "password")
            cache = CacheConfig(
                env["CACHE_HOST"],
                _int(env, "CACHE_PORT", 6379),
                _bool(env, "CACHE_TLS", False),
                cache_password,
                env.get("CACHE_KEY_PREFIX", ""),
            )

        shard_map = _shard_map(env, region)
        shards: tuple[Shard, ...] = ()
        if shard_map is not None:
            if writer is None:
                raise ConfigError("sharding needs DB_WRITER_HOST for the user directory")
            shards = tuple(_shard(entry, database, writer, read_secret) for entry in shard_map["shards"])

        return cls(
            stage=_int(env, "APP_STAGE", 0),
            role=role,
            port=_int(env, "PORT", 8080),
            instance_id=env.get("INSTANCE_ID") or socket.gethostname(),
            region=region,
            writer=writer,
            readers=readers or (),
            cache=cache,
            shard_map=shard_map,
            shards=shards,
            posts_table=env.get("POSTS_TABLE") or None,
            media_bucket=env.get("MEDIA_BUCKET") or None,
            queue_url=env.get("QUEUE_URL") or None,
            users_service_url=(env.get("USERS_SERVICE_URL") or "").rstrip("/") or None,
            db_pool_size=_int(env, "DB_POOL_SIZE", 10),
            cache_ttl_seconds=_int(env, "CACHE_TTL_SECONDS", 300),
            feed_cache_ttl_seconds=_int(env, "FEED_CACHE_TTL_SECONDS", 30),
            read_your_writes_seconds=_int(env, "READ_YOUR_WRITES_SECONDS", 5),
            public_read_max_age_seconds=_bounded_int(
                env, "PUBLIC_READ_MAX_AGE_SECONDS", 5, 0, PUBLIC_READ_MAX_AGE_LIMIT_SECONDS
            ),
            session_ttl_seconds=_int(env, "SESSION_TTL_SECONDS", 7 * 24 * 3600),
            migrate_on_start=_bool(env, "MIGRATE_ON_START", True),
            session_cookie_secure=_bool(env, "SESSION_COOKIE_SECURE", False),
            credentials_max_age_seconds=_seconds(env, "DB_CREDENTIALS_MAX_AGE_SECONDS", 300, high=86400),
            secret_reader=read_secret,
            placement_poll_seconds=_seconds(env, "PLACEMENT_POLL_SECONDS", 5.0),
            session_db_fallback=_bool(env, "SESSION_DB_FALLBACK", True),
            migrate_data_on_start=_bool(env, "MIGRATE_DATA_ON_START", True),
        )

    def capabilities(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "database": self.writer is not None,
            "read_replicas": len(self.readers),
            "cache": self.cache is not None,
            "sessions": "redis" if self.cache else "database",
            "shards": [s.id for s in self.shards],
            "posts_store": "dynamodb" if self.posts_table else "mysql",
            "media_uploads": self.media_bucket is not None,
            "queue": self.queue_url is not None,
            "users_service": self.users_service_url is not None,
        }


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer") from None


def _bounded_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _int(env, name, default)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be an integer from {low} to {high}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, *, low: float = 0.1, high: float = 300) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low:g} to {high:g} seconds")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be true or false")


def _reader(item: str, port: int, writer: DbEndpoint) -> DbEndpoint:
    """A reader is ``host`` or ``host:port``; the port defaults to DB_PORT. Replicas
    replicate the writer's users, so a reader signs in with the writer's credentials."""
    host, _, explicit = item.partition(":")
    if explicit and not re.fullmatch(r"[0-9]{1,5}", explicit):
        raise ConfigError("DB_READER_HOST entries must be host or host:port")
    return replace(writer, host=host, port=int(explicit) if explicit else port)


def secret_field(raw: str, key: str) -> str:
    """Secrets Manager values are JSON objects (RDS, generated) or plain strings."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(parsed, dict):
        if key not in parsed:
            raise ConfigError(f"secret has no {key!r} key")
        return str(parsed[key])
    return raw


def _db_credentials(env: Mapping[str, str], read_secret: Callable[[str], str]) -> tuple[str, str]:
    if env.get("DB_SECRET_ARN"):
        raw = read_secret(env["DB_SECRET_ARN"])
        return secret_field(raw, "username"), secret_field(raw, "password")
    if env.get("DB_USER"):
        return env["DB_USER"], env.get("DB_PASSWORD", "")
    raise ConfigError("DB_WRITER_HOST needs DB_SECRET_ARN or DB_USER (+ DB_PASSWORD)")


def _shard(
    entry: dict[str, Any],
    database: str,
    writer: DbEndpoint,
    read_secret: Callable[[str], str],
) -> Shard:
    if entry.get("secret_arn"):
        raw = read_secret(entry["secret_arn"])
        user, password = secret_field(raw, "username"), secret_field(raw, "password")
    else:
        user, password = entry.get("user", writer.user), entry.get("password", "")
    endpoint = DbEndpoint(
        str(entry["host"]),
        int(entry.get("port", 3306)),
        user,
        entry.get("database", database),
        password,
        writer.tls_ca_file,
        entry.get("secret_arn") or None,
    )
    return Shard(entry["id"], endpoint)


def _shard_map(env: Mapping[str, str], region: str | None) -> dict[str, Any] | None:
    if env.get("SHARD_MAP_PARAMETER"):
        import boto3

        ssm = boto3.client("ssm", region_name=region)
        raw = ssm.get_parameter(Name=env["SHARD_MAP_PARAMETER"])["Parameter"]["Value"]
    elif env.get("SHARD_MAP"):
        raw = env["SHARD_MAP"]
    else:
        return None
    try:
        parsed = json.loads(raw)
        shardmap.owners(parsed)
    except ValueError as exc:
        raise ConfigError(f"invalid shard map: {exc}") from None
    return parsed


def _secrets_manager_reader(region: str | None) -> Callable[[str], str]:
    def read(arn: str) -> str:
        import boto3

        client = boto3.client("secretsmanager", region_name=region)
        return client.get_secret_value(SecretId=arn)["SecretString"]

    return read
