"""The one place that reads CDK context and decides what a stage contains.

Everything else asks the `StageConfig` object a question ("does this stage have a
cache?") instead of comparing stage numbers, so that moving a feature to another stage
is a one-line change here and the stacks never disagree about it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

MIN_STAGE = 0
MAX_STAGE = 6
# The MySQL major versions the databases can run (constructs_lib/database.py maps them to engines).
MYSQL_VERSIONS = ("8.4", "8.0")

STAGE_NAMES: Mapping[int, str] = {
    0: "single box",
    1: "Users+",
    2: "Users++",
    3: "Users+++",
    4: "Users++++",
    5: "Users+++++",
    6: "microservices",
}

# Offline defaults: synth must work without credentials, and `cdk.context.json`
# carries the availability zones for exactly this account/region pair.
OFFLINE_ACCOUNT = "123456789012"
OFFLINE_REGION = "us-east-1"

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)([a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z]{2}(-[a-z]+)+-\d):\d{12}:certificate/[0-9a-f-]{36}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
# The hosts that run the service install it from a bundle of arm64 wheels.
_GRAVITON_TYPE = re.compile(r"^([a-z]+\d+g[a-z]*|a1)\.[a-z0-9]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CACHE_NODE = re.compile(r"^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
_PEAK = re.compile(r"^(?P<start>([01]\d|2[0-3]):[0-5]\d)-(?P<end>([01]\d|2[0-3]):[0-5]\d)$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,30}$")
_HOST_IMAGE = re.compile(r"^al2023-ami-2023\.\d+\.\d{8}\.\d+-kernel-\d+\.\d+$")
# An Amazon Linux 2023 release (AMI name without its architecture suffix). Hosts boot it
# until someone changes this on purpose: the name is looked up once per account and region
# and the AMI id cached in cdk.context.json, so no deploy picks up a newer image by itself.
DEFAULT_HOST_IMAGE = "al2023-ami-2023.9.20260915.0-kernel-6.1"


class ConfigError(ValueError):
    """A context value that cannot be used; the message is the one line users see."""


@dataclass(frozen=True, kw_only=True)
class Capacity:
    """Auto Scaling group size."""

    min: int
    max: int
    desired: int

    @property
    def elastic(self) -> bool:
        return self.max > self.min


# -- reading one value ------------------------------------------------------------------

Parse = Callable[[str, Any], Any]
"""Reads a key's raw value (never None) into the value StageConfig keeps, or raises ConfigError."""


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    value = str(raw).strip()
    return value or None


def _match(key: str, raw: Any, pattern: re.Pattern[str], allowed: str) -> str | None:
    value = _text(raw)
    if value is not None and not pattern.match(value):
        raise ConfigError(f"context key '{key}': {value!r} is not allowed; expected {allowed}")
    return value


def _int(key: str, raw: Any, low: int, high: int) -> int:
    if isinstance(raw, bool):
        raise ConfigError(f"context key '{key}': {raw!r} is not allowed; expected a whole number from {low} to {high}")
    text = str(raw).strip()
    if not re.fullmatch(r"-?\d+", text) or not low <= int(text) <= high:
        raise ConfigError(f"context key '{key}': {text!r} is not allowed; expected a whole number from {low} to {high}")
    return int(text)


def _capacity(key: str, raw: Any, low: int = 2, high: int = 100) -> Capacity:
    text = str(raw).strip()
    allowed = f"N or MIN-MAX or MIN-MAX:DESIRED, with {low} <= MIN <= DESIRED <= MAX <= {high}"
    found = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", text)
    if not found:
        raise ConfigError(f"context key '{key}': {text!r} is not allowed; expected {allowed}")
    low_v = int(found.group(1))
    high_v = int(found.group(2) or low_v)
    desired = int(found.group(3) or low_v)
    if not low <= low_v <= desired <= high_v <= high:
        raise ConfigError(f"context key '{key}': {text!r} is not allowed; expected {allowed}")
    return Capacity(min=low_v, max=high_v, desired=desired)


def _bool(key: str, raw: Any) -> bool:
    # -c key=false arrives as the string "false", which Python would call true.
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in ("true", "false"):
        raise ConfigError(f"context key '{key}': {raw!r} is not allowed; expected true or false")
    return text == "true"


def _choice(key: str, raw: Any, allowed: tuple[str, ...]) -> str:
    text = str(raw).strip()
    if text not in allowed:
        raise ConfigError(f"context key '{key}': {text!r} is not allowed; expected one of {', '.join(allowed)}")
    return text


def _peak(key: str, raw: Any) -> tuple[str, str] | None:
    value = _match(key, raw, _PEAK, "HH:MM-HH:MM in UTC with the start before the end, such as 08:00-18:00")
    if value is None:
        return None
    start, end = value.split("-")
    if start >= end:
        raise ConfigError(
            f"context key '{key}': {value!r} is not allowed; expected HH:MM-HH:MM in UTC with the start before the end"
        )
    return start, end


def _on_demand(key: str, raw: Any) -> bool:
    return _choice(key, raw, ("on-demand", "provisioned")) == "on-demand"


def _whole(low: int, high: int) -> Parse:
    return lambda key, raw: _int(key, raw, low, high)


def _pattern(pattern: re.Pattern[str], allowed: str) -> Parse:
    return lambda key, raw: _match(key, raw, pattern, allowed)


def _one_of(allowed: tuple[str, ...]) -> Parse:
    return lambda key, raw: _choice(key, raw, allowed)


_GRAVITON = "a Graviton (arm64) EC2 instance type such as m7g.large: the service's bundle carries arm64 wheels"


@dataclass(frozen=True, kw_only=True)
class ContextKey:
    """A documented context key: its default and what it means (rendered in the README), and
    how its value becomes the StageConfig field of the same name, or of the name in `sets`."""

    name: str
    default: Any
    meaning: str
    # None for the keys build_config reads together with others: account and region fall back
    # to the environment, the domain's names and certificates are checked against each other,
    # and active_shards against shards.
    parse: Parse | None = None
    sets: str = ""

    @property
    def field_name(self) -> str:
        return self.sets or self.name

    def read(self, raw: Any) -> Any:
        """The value for StageConfig: an absent key, or blank text, means the default."""
        if self.parse is None:
            return self.default if raw is None else raw
        value = None if raw is None else self.parse(self.name, raw)
        if value is None and self.default is not None:
            return self.parse(self.name, self.default)
        return value


CONTEXT_KEYS: tuple[ContextKey, ...] = (
    ContextKey(
        name="stage",
        parse=_whole(MIN_STAGE, MAX_STAGE),
        default=0,
        meaning="Stage to build, 0 (single box) to 6 (microservices).",
    ),
    ContextKey(
        name="app_name",
        parse=_pattern(_NAME, "a letter then up to 30 letters, digits or '-'"),
        default="scaling",
        meaning="Prefix of every stack name.",
    ),
    ContextKey(
        name="account",
        default=None,
        meaning=f"AWS account id; else CDK_DEFAULT_ACCOUNT; else {OFFLINE_ACCOUNT} (offline synth).",
    ),
    ContextKey(
        name="region",
        default=None,
        meaning=f"AWS region; else CDK_DEFAULT_REGION; else {OFFLINE_REGION} (offline synth).",
    ),
    ContextKey(
        name="domain_name",
        default=None,
        meaning=(
            "DNS name users reach, e.g. www.example.com. Needs hosted_zone_id and hosted_zone_name, "
            "and cloudfront_certificate_arn from stage 1."
        ),
    ),
    ContextKey(name="hosted_zone_id", default=None, meaning="Route 53 public hosted zone id for domain_name."),
    ContextKey(name="hosted_zone_name", default=None, meaning="Name of that hosted zone, e.g. example.com."),
    ContextKey(
        name="certificate_arn",
        default=None,
        meaning="ACM certificate in the app's region. At stages 0-1 the single box serves it to viewers: "
        "it must be a public certificate with export enabled, covering domain_name, which the box exports. "
        "From stage 1 the site ALB serves it to CloudFront: it must cover <label>-origin.<parent> of "
        "domain_name (www-origin.example.com), as *.example.com does.",
    ),
    ContextKey(
        name="cloudfront_certificate_arn",
        default=None,
        meaning="ACM certificate in us-east-1 for CloudFront's viewer TLS (stage 1+).",
    ),
    ContextKey(
        name="alarm_email",
        parse=_pattern(_EMAIL, "an e-mail address"),
        default=None,
        meaning="E-mail subscribed to the alarm topic.",
    ),
    ContextKey(
        name="box_instance_type",
        parse=_pattern(_GRAVITON_TYPE, _GRAVITON),
        default="t4g.small",
        meaning="Instance type of the stage 0-1 single box (Graviton).",
    ),
    ContextKey(
        name="web_instance_type",
        parse=_pattern(_INSTANCE_TYPE, "an EC2 instance type such as t4g.small"),
        default="t4g.small",
        meaning="Web tier (reverse proxy) instance type, stage 2+.",
    ),
    ContextKey(
        name="app_instance_type",
        parse=_pattern(_GRAVITON_TYPE, _GRAVITON),
        default="m8g.large",
        meaning="App tier instance type, stage 2+ (first of the Spot types at stage 4+).",
    ),
    ContextKey(
        name="host_image",
        parse=_pattern(
            _HOST_IMAGE, f"an Amazon Linux 2023 AMI name without its architecture, such as {DEFAULT_HOST_IMAGE}"
        ),
        default=DEFAULT_HOST_IMAGE,
        meaning="Amazon Linux 2023 AMI name, without -arm64/-x86_64, that every EC2 host boots; looked up once "
        "and cached in cdk.context.json. Changing it rolls the hosts.",
    ),
    ContextKey(
        name="db_instance_type",
        parse=_pattern(_INSTANCE_TYPE, "an RDS class without 'db.', such as m7g.large"),
        sets="db_instance_type_override",
        default=None,
        meaning="RDS class without the db. prefix; default t4g.micro at stages 0-1, "
        "m8g.large (dedicated, Graviton4) from stage 2.",
    ),
    ContextKey(
        name="mysql_version",
        parse=_one_of(MYSQL_VERSIONS),
        default="8.4",
        meaning="MySQL major version of every database: 8.4 (LTS). 8.0 only keeps a running 8.0 system "
        "on it until its in-place upgrade (see README).",
    ),
    ContextKey(
        name="db_allocated_storage_gib",
        parse=_whole(20, 16384),
        default=20,
        meaning="Initial RDS storage in GiB (autoscaling up to 5x).",
    ),
    ContextKey(
        name="nat_gateways",
        parse=_whole(1, 2),
        default=1,
        meaning="NAT gateways from stage 2, 1 (cheaper) or 2 (one per AZ).",
    ),
    ContextKey(
        name="read_replicas",
        parse=_whole(1, 15),
        sets="read_replicas_requested",
        default=2,
        meaning="MySQL read replicas from stage 3, 1 to 15.",
    ),
    ContextKey(
        name="cache_node_type",
        parse=_pattern(_CACHE_NODE, "an ElastiCache node type such as cache.t4g.medium"),
        sets="cache_node_type_override",
        default=None,
        meaning="ElastiCache node type from stage 3; default cache.t4g.medium at stages 3-4, cache.m7g.xlarge "
        "from stage 5 (every cached read crosses the primary's network: see docs/capacity.md).",
    ),
    ContextKey(
        name="spot_percentage",
        parse=_whole(0, 100),
        default=70,
        meaning="Share (0-100) of the app tier above its on-demand base that runs on Spot, stage 4+.",
    ),
    ContextKey(
        name="on_demand_base", parse=_whole(0, 100), default=1, meaning="App tier instances always on demand, stage 4+."
    ),
    ContextKey(name="web_spot", parse=_bool, default=False, meaning="Run the web tier on Spot as well (stage 4+)."),
    ContextKey(
        name="scheduled_peak",
        parse=_peak,
        default=None,
        meaning="Optional business-hours peak, 'HH:MM-HH:MM' UTC on weekdays, raising both tiers to their max.",
    ),
    ContextKey(
        name="aws_config", parse=_bool, default=False, meaning="Add an AWS Config recorder and managed rules (opt-in)."
    ),
    ContextKey(
        name="shards",
        parse=_whole(1, 16),
        sets="shards_requested",
        default=2,
        meaning="MySQL shards from stage 5, 1 to 16.",
    ),
    ContextKey(
        name="active_shards",
        sets="active_shards_requested",
        default=None,
        meaning="Shards that own user buckets in the published shard map; default all. To grow, raise "
        "shards first, then active_shards; the service's data migration moves the buckets that change shard.",
    ),
    ContextKey(
        name="dynamodb_capacity",
        parse=_on_demand,
        sets="dynamodb_on_demand",
        default="on-demand",
        meaning="DynamoDB billing from stage 5: 'on-demand' or 'provisioned' (with auto scaling).",
    ),
    ContextKey(
        name="web_capacity",
        parse=_capacity,
        sets="web_capacity_requested",
        default="2-6",
        meaning="Web tier ASG size MIN-MAX[:DESIRED] or N; stages 2-3 run DESIRED (default MIN) "
        "fixed, stage 4+ scales in the range.",
    ),
    ContextKey(
        name="posts_max_tasks",
        parse=_whole(2, 200),
        default=60,
        meaning="Most tasks the stage-6 posts service scales to (2-200); its CPU limits the top stage "
        "(docs/capacity.md).",
    ),
    ContextKey(
        name="app_capacity",
        parse=_capacity,
        sets="app_capacity_requested",
        default="2-10",
        meaning="App tier ASG size MIN-MAX[:DESIRED] or N; stages 2-3 run DESIRED (default MIN) "
        "fixed, stage 4+ scales in the range.",
    ),
)


_KEYS: Mapping[str, ContextKey] = {key.name: key for key in CONTEXT_KEYS}


def _default(key: str) -> Any:
    """A StageConfig field's default: what its context key's default reads as."""
    return _KEYS[key].read(None)


_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    """Typed, validated configuration for one synthesis of the app."""

    stage: int = _default("stage")
    app_name: str = _default("app_name")
    account: str
    region: str
    domain_name: str | None = _default("domain_name")
    hosted_zone_id: str | None = _default("hosted_zone_id")
    hosted_zone_name: str | None = _default("hosted_zone_name")
    certificate_arn: str | None = _default("certificate_arn")
    cloudfront_certificate_arn: str | None = _default("cloudfront_certificate_arn")
    alarm_email: str | None = _default("alarm_email")
    box_instance_type: str = _default("box_instance_type")
    web_instance_type: str = _default("web_instance_type")
    app_instance_type: str = _default("app_instance_type")
    host_image: str = _default("host_image")
    db_instance_type_override: str | None = _default("db_instance_type")
    mysql_version: str = _default("mysql_version")
    db_allocated_storage_gib: int = _default("db_allocated_storage_gib")
    nat_gateways: int = _default("nat_gateways")
    # Capacity is frozen, so every config can share one default instance.
    web_capacity_requested: Capacity = field(default=_default("web_capacity"))
    app_capacity_requested: Capacity = field(default=_default("app_capacity"))
    read_replicas_requested: int = _default("read_replicas")
    cache_node_type_override: str | None = _default("cache_node_type")
    spot_percentage: int = _default("spot_percentage")
    on_demand_base: int = _default("on_demand_base")
    web_spot: bool = _default("web_spot")
    scheduled_peak: tuple[str, str] | None = _default("scheduled_peak")
    aws_config: bool = _default("aws_config")
    shards_requested: int = _default("shards")
    active_shards_requested: int | None = _default("active_shards")
    dynamodb_on_demand: bool = _default("dynamodb_capacity")
    posts_max_tasks: int = _default("posts_max_tasks")

    @property
    def stage_name(self) -> str:
        return STAGE_NAMES[self.stage]

    # -- what the stage contains ------------------------------------------------------
    @property
    def has_single_box(self) -> bool:
        """Stages 0-1 serve from one EC2 instance; stage 2 replaces it with two tiers."""
        return self.stage < 2

    @property
    def has_edge(self) -> bool:
        return self.stage >= 1

    @property
    def has_tiers(self) -> bool:
        return self.stage >= 2

    @property
    def has_nat(self) -> bool:
        return self.has_tiers

    @property
    def db_multi_az(self) -> bool:
        return self.stage >= 2

    @property
    def db_instance_type(self) -> str:
        if self.db_instance_type_override:
            return self.db_instance_type_override
        # Graviton4 (8g) is the newest generation RDS and EC2 offer in the default region;
        # t4g stays the burstable class, which has no newer Graviton generation.
        return "m8g.large" if self.stage >= 2 else "t4g.micro"

    @property
    def has_dns(self) -> bool:
        return self.domain_name is not None

    @property
    def alb_https(self) -> bool:
        return self.certificate_arn is not None

    @property
    def box_certificate_arn(self) -> str | None:
        """The certificate the single box serves HTTPS with itself (certificate_arn), or None: it
        is the public web server at stage 0, and at stage 1 it answers the viewers whose DNS still
        names its address until the record has moved to CloudFront."""
        return self.certificate_arn if self.has_single_box else None

    @property
    def origin_domain_name(self) -> str | None:
        """The name CloudFront asks the site load balancer for over HTTPS: one label beside
        domain_name (www.example.com -> www-origin.example.com), so the certificate that covers
        the site's parent domain with a wildcard (*.example.com) covers it too."""
        if not (self.alb_https and self.domain_name):
            return None
        if self.domain_name == self.hosted_zone_name:
            return f"origin.{self.domain_name}"
        label, parent = self.domain_name.split(".", 1)
        return f"{label}-origin.{parent}"

    @property
    def elastic_compute(self) -> bool:
        """Stage 4 makes the tiers scale; before it they stay at their desired size."""
        return self.stage >= 4

    @property
    def web_capacity(self) -> Capacity:
        return self._effective(self.web_capacity_requested)

    @property
    def app_capacity(self) -> Capacity:
        return self._effective(self.app_capacity_requested)

    def _effective(self, requested: Capacity) -> Capacity:
        if self.elastic_compute:
            return requested
        return Capacity(min=requested.desired, max=requested.desired, desired=requested.desired)

    @property
    def has_cache(self) -> bool:
        return self.stage >= 3

    @property
    def cache_node_type(self) -> str:
        if self.cache_node_type_override:
            return self.cache_node_type_override
        return "cache.m7g.xlarge" if self.stage >= 5 else "cache.t4g.medium"

    @property
    def read_replicas(self) -> int:
        """Read replicas of the primary; 0 before stage 3."""
        return self.read_replicas_requested if self.stage >= 3 else 0

    @property
    def has_spot(self) -> bool:
        return self.elastic_compute

    @property
    def has_full_observability(self) -> bool:
        """Dashboards and the full alarm set from stage 4; basic alarms exist always."""
        return self.stage >= 4

    @property
    def has_tracing(self) -> bool:
        """OpenTelemetry traces and shipped JSON logs from stage 4. Before it one box or two
        fixed tiers serve requests whose path is plain to see from the load balancer and the
        database; stage 4's elastic, partly Spot fleet over cache, replicas and (later) shards
        and queues is where a slow request needs a trace to say which hop was slow, and where
        it pays for the collectors and X-Ray (sampled)."""
        return self.stage >= 4

    @property
    def has_aws_config(self) -> bool:
        """The opt-in AWS Config recorder and rules come with stage 4's observability."""
        return self.aws_config and self.has_full_observability

    @property
    def has_async(self) -> bool:
        return self.stage >= 5

    @property
    def shards(self) -> int:
        """MySQL shards beside the primary; 0 before stage 5."""
        return self.shards_requested if self.stage >= 5 else 0

    @property
    def active_shards(self) -> int:
        """Shards that own logical buckets in the shard map; 0 before stage 5."""
        if self.active_shards_requested is None:
            return self.shards
        return min(self.active_shards_requested, self.shards)

    @property
    def has_microservices(self) -> bool:
        return self.stage >= 6

    @property
    def next_stage(self) -> int | None:
        """The stage to move up to when this one runs out of room; None at the last stage."""
        return self.stage + 1 if self.stage < MAX_STAGE else None

    @property
    def stack_prefix(self) -> str:
        return self.app_name


# -- parsing ----------------------------------------------------------------------------

_Context = Callable[[str], Any]


def build_config(context: _Context, environ: Mapping[str, str]) -> StageConfig:
    """Build the config from a context getter (`node.try_get_context`) and the environment."""
    alone = {key.field_name: key.read(context(key.name)) for key in CONTEXT_KEYS if key.parse is not None}
    account, region = _account_and_region(context, environ)
    config = StageConfig(
        **alone,
        account=account,
        region=region,
        **_domain_and_certificates(context, region),
        active_shards_requested=_active_shards(context, alone["shards_requested"]),
    )
    _check_servable_domain(config)
    return config


def _get(context: _Context, key: str) -> Any:
    return _KEYS[key].read(context(key))


def _account_and_region(context: _Context, environ: Mapping[str, str]) -> tuple[str, str]:
    """The context's account and region, else the CLI's (CDK_DEFAULT_*), else the offline pair."""

    def pick(key: str, variable: str, offline: str, pattern: re.Pattern[str], allowed: str) -> str:
        raw = _text(_get(context, key)) or _text(environ.get(variable)) or offline
        return _required(_match(key, raw, pattern, allowed))

    return (
        pick("account", "CDK_DEFAULT_ACCOUNT", OFFLINE_ACCOUNT, _ACCOUNT, "a 12-digit AWS account id"),
        pick("region", "CDK_DEFAULT_REGION", OFFLINE_REGION, _REGION, "an AWS region name such as eu-west-1"),
    )


class _Domain(TypedDict):
    """The StageConfig fields of the site's name, typed so that mypy checks what reaches them."""

    domain_name: str | None
    hosted_zone_id: str | None
    hosted_zone_name: str | None
    certificate_arn: str | None
    cloudfront_certificate_arn: str | None


def _domain_and_certificates(context: _Context, region: str) -> _Domain:
    """The site's DNS name, its hosted zone and certificates, which only make sense together."""

    def get(key: str) -> Any:
        return _get(context, key)

    domain = _match("domain_name", get("domain_name"), _DOMAIN, "a lower-case DNS name such as www.example.com")
    zone_id = _match(
        "hosted_zone_id", get("hosted_zone_id"), _ZONE_ID, "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ"
    )
    zone_name = _match(
        "hosted_zone_name", get("hosted_zone_name"), _DOMAIN, "a lower-case DNS name such as example.com"
    )
    if domain and not (zone_id and zone_name):
        raise ConfigError(f"context key 'domain_name': {domain!r} needs hosted_zone_id and hosted_zone_name as well")
    if domain and zone_name and not (domain == zone_name or domain.endswith("." + zone_name)):
        raise ConfigError(
            f"context key 'domain_name': {domain!r} is not allowed; expected a name inside hosted zone {zone_name!r}"
        )
    cert = _certificate("certificate_arn", get("certificate_arn"), region, "in the app's region")
    cf_cert = _certificate(
        "cloudfront_certificate_arn",
        get("cloudfront_certificate_arn"),
        "us-east-1",
        "in us-east-1, as CloudFront requires",
    )
    if (cert or cf_cert) and not domain:
        key = "certificate_arn" if cert else "cloudfront_certificate_arn"
        raise ConfigError(f"context key '{key}': a certificate needs domain_name to be set as well")
    return {
        "domain_name": domain,
        "hosted_zone_id": zone_id,
        "hosted_zone_name": zone_name,
        "certificate_arn": cert,
        "cloudfront_certificate_arn": cf_cert,
    }


def _active_shards(context: _Context, shards: int) -> int | None:
    raw = _get(context, "active_shards")
    return None if raw is None else _int("active_shards", raw, 1, shards)


def _check_servable_domain(config: StageConfig) -> None:
    """Refuse a domain that would deploy but not serve: from the stage with CloudFront, the
    site's DNS alias points at the distribution, which answers for the name only with a
    certificate covering it."""
    if config.has_edge and config.domain_name and not config.cloudfront_certificate_arn:
        raise ConfigError(
            f"context key 'domain_name': {config.domain_name!r} needs cloudfront_certificate_arn as well from "
            f"stage 1 (stage {config.stage} serves through CloudFront, which answers for a custom name only with "
            "a us-east-1 certificate for it)"
        )


def _required(value: _T | None) -> _T:
    assert value is not None, "a key with a default always has a value"
    return value


def _certificate(key: str, raw: Any, region: str, where: str) -> str | None:
    value = _match(key, raw, _CERT_ARN, f"an ACM certificate ARN {where}")
    if value is None:
        return None
    found = _CERT_ARN.match(value)
    assert found is not None
    if found.group("region") != region:
        raise ConfigError(
            f"context key '{key}': {value!r} is not allowed; expected an ACM certificate ARN {where} ({region})"
        )
    return value
