"""The ElastiCache cache: serverless (default) or a provisioned replication group, Valkey or Redis.

TLS in transit and encryption at rest always. Clients authenticate as an ElastiCache user in IAM mode: the function
signs a short-lived token with its role (``elasticache:Connect`` on the cache and the user); there is no password.
The security group admits only the security groups of the functions that use the cache.
"""

from __future__ import annotations

import hashlib
import math

from aws_cdk import ArnFormat, Names, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from constructs import Construct

from .nag import acknowledge
from .options import CacheOptions

_COLON = ArnFormat.COLON_RESOURCE_NAME
ENGINE_VERSIONS = {"valkey": "8", "redis": "7"}
SERVERLESS_PORT = 6379

#: Only the commands the handlers send, on the key prefixes they use (see runtime/cache.py), plus what redis-py's
#: cluster client needs to discover slots. Verified against a real redis-server ACL in the tests. (redis-py's
#: optional CLIENT SETINFO is left out on purpose: it tolerates the refusal.) WATCH/MULTI/EXEC/UNWATCH/DISCARD make
#: the single-flight unlock an atomic compare-and-delete without granting scripting (no EVAL).
ACCESS_STRING = (
    "on ~gen:* ~cat:* ~inv:* ~chg:* ~lock:* resetchannels -@all "
    "+get +set +mget +del +hgetall +hset +hsetnx +expire +pexpire +ping +hello +auth "
    "+watch +unwatch +multi +exec +discard "
    "+cluster|slots +cluster|shards +cluster|nodes +command +readonly"
)

#: The redis engine's mandatory ``default`` user: switched off, no command, no key (no connection authenticates as it).
DEFAULT_USER_ACCESS_STRING = "off -@all"


#: ECPUs one search may cost on a serverless cache, a miss being the costliest: measured for a 50-listing destination
#: over a month boundary (test/runtime/test_cache_timelines.py, INFO commandstats on redis-server): 23 commands of at
#: least 1 ECPU each (read, lock, re-read, WATCH, MGET, the fill's MULTI/DEL/HSET/PEXPIRE/EXEC, the unlock) and ~12 KB
#: out + ~6 KB in, >= 24 ECPU, so 30 (``tools/cost.py`` ``ecpu_per_miss``). A hit is 3 commands and ~6.4 KB: ~7.
ECPU_PER_SEARCH = 30
#: Stored size of one entry, upper bound (compressed, 100 listings).
ENTRY_BYTES = 4096
#: Caps sit this far above the expected peak; the 75 % alarms ring at 3.75x the expected peak, well before throttling.
HEADROOM = 5
#: AWS: "We recommend setting an alarm at 75% of the maximum limit you set."
ALARM_RATIO = 0.75
#: ElastiCache's accepted range for the ECPU/s maximum, and the data storage maximum in GB.
ECPU_RANGE = (1000, 15_000_000)
STORAGE_GB_RANGE = (1, 5000)


def serverless_limits(options: CacheOptions) -> tuple[int, int]:
    """The serverless cache's (ECPU/s cap, data storage cap in GB): the props when given, else derived from
    ``expected_peak_searches_per_second`` with ``HEADROOM``.

    ECPU/s = peak searches/s x ``ECPU_PER_SEARCH`` x headroom. Storage = every search at the peak writing a distinct
    entry that lives its whole TTL + jitter + stale window, x ``ENTRY_BYTES`` x headroom. Both clamped to what
    ElastiCache accepts.
    """
    peak = options.expected_peak_searches_per_second
    ecpu = options.max_ecpu_per_second
    if ecpu is None:
        ecpu = min(max(math.ceil(peak * ECPU_PER_SEARCH * HEADROOM), ECPU_RANGE[0]), ECPU_RANGE[1])
    storage = options.max_data_storage_gb
    if storage is None:
        ttl = options.ttl.to_seconds() if options.ttl else 300
        stale = options.stale_window.to_seconds() if options.stale_window else 600
        entries = peak * (ttl * 1.1 + stale)
        storage = min(max(math.ceil(entries * ENTRY_BYTES * HEADROOM / 1e9), STORAGE_GB_RANGE[0]), STORAGE_GB_RANGE[1])
    return ecpu, storage


def physical_id(scope: Construct, prefix: str, max_length: int = 40) -> str:
    """A lowercase name unique to the construct's path in its stack (for resources that require a name)."""
    return f"{prefix}{path_digest(scope)}"[:max_length]


def path_digest(scope: Construct) -> str:
    """SHA-256 (hex) of the stack name and the construct's unique id: the unique part of ``physical_id``."""
    stack = Stack.of(scope)
    return hashlib.sha256(f"{stack.stack_name}/{Names.unique_id(scope)}".encode()).hexdigest()


class Cache(Construct):
    """The cache, its IAM-authenticated user and user group, its security group.

    Reached as ``CachedSearchApi.cache``.
    """

    security_group: ec2.SecurityGroup
    """The cache's security group: ingress only from the functions that use the cache."""
    user: elasticache.CfnUser
    """The IAM-authenticated ElastiCache user the functions connect as."""
    default_user: elasticache.CfnUser | None
    """Redis engine only: the switched-off ``default`` user a redis-engine user group must include (None for valkey,
    whose user group holds only the IAM-authenticated user)."""
    user_group: elasticache.CfnUserGroup
    """The user group of the cache."""
    serverless_cache: elasticache.CfnServerlessCache | None
    """The serverless cache (None in provisioned mode)."""
    replication_group: elasticache.CfnReplicationGroup | None
    """The Multi-AZ replication group (None in serverless mode)."""
    cache_name: str
    """The cache's name or replication group id: what the IAM auth token is signed for."""
    endpoint_address: str
    """The primary endpoint host."""
    endpoint_port: str
    """The primary endpoint port."""
    serverless: bool
    """True in serverless mode."""
    max_ecpu_per_second: int | None
    """Serverless only: the ECPU/s cap applied (see ``serverless_limits``)."""
    max_data_storage_gb: int | None
    """Serverless only: the data storage cap applied, in GB."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: CacheOptions,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
    ) -> None:
        super().__init__(scope, construct_id)
        self.options = options
        self.serverless = options.mode == "serverless"
        port = SERVERLESS_PORT if self.serverless else options.port
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Cache: ingress only from the functions that use it",
            allow_all_outbound=False,
        )  # fmt: skip
        self.port = port
        self._ports: list[ec2.Port] = []
        self._user_arn: str | None = None

        digest = path_digest(self)  # the cache's names: each unique to this construct's path in its stack
        user_id = self._user_id = f"cba-{digest}"[:40]
        self.user = elasticache.CfnUser(
            self,
            "User",
            engine=options.engine,
            user_id=user_id,
            user_name=user_id,  # IAM authentication requires user name == user id
            authentication_mode={"Type": "iam"},
            access_string=ACCESS_STRING,
        )
        # Redis-engine user groups must include a user named "default": this one is switched off ("off": it cannot
        # authenticate at all). Valkey-engine groups need no default user and may hold only users that authenticate
        # (password or IAM), so theirs holds the IAM user alone and an unauthenticated connection has no user.
        self.default_user: elasticache.CfnUser | None = None
        members = [self.user.ref]  # Ref is the user id: CloudFormation orders the group after its users
        if options.engine == "redis":
            self.default_user = elasticache.CfnUser(
                self,
                "DisabledDefaultUser",
                engine=options.engine,
                user_id=f"cbadef-{digest}"[:40],
                user_name="default",
                authentication_mode={"Type": "no-password-required"},
                access_string=DEFAULT_USER_ACCESS_STRING,
            )
            members.append(self.default_user.ref)
        self.user_group = elasticache.CfnUserGroup(
            self,
            "UserGroup",
            engine=options.engine,
            user_group_id=f"cbag-{digest}"[:40],
            user_ids=members,
        )

        subnet_ids = vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids
        self.serverless_cache: elasticache.CfnServerlessCache | None = None
        self.replication_group: elasticache.CfnReplicationGroup | None = None
        self.max_ecpu_per_second: int | None = None
        self.max_data_storage_gb: int | None = None
        if self.serverless:
            self.max_ecpu_per_second, self.max_data_storage_gb = serverless_limits(options)
            self.serverless_cache = elasticache.CfnServerlessCache(
                self,
                "Serverless",
                engine=options.engine,
                major_engine_version=ENGINE_VERSIONS[options.engine],
                serverless_cache_name=user_id,
                description="cached-booking-api search cache",
                security_group_ids=[self.security_group.security_group_id],
                subnet_ids=subnet_ids,
                user_group_id=self.user_group.ref,
                cache_usage_limits=elasticache.CfnServerlessCache.CacheUsageLimitsProperty(
                    data_storage=elasticache.CfnServerlessCache.DataStorageProperty(
                        maximum=self.max_data_storage_gb, unit="GB"
                    ),
                    ecpu_per_second=elasticache.CfnServerlessCache.ECPUPerSecondProperty(
                        maximum=self.max_ecpu_per_second
                    ),
                ),
            )
            self.cache_name = self.serverless_cache.ref
            self.endpoint_address = self.serverless_cache.attr_endpoint_address
            self.endpoint_port = self.serverless_cache.attr_endpoint_port
            self.cache_arn = self.serverless_cache.attr_arn
        else:
            subnet_group = elasticache.CfnSubnetGroup(
                self, "SubnetGroup", description="cached-booking-api cache subnets", subnet_ids=subnet_ids
            )
            self.replication_group = elasticache.CfnReplicationGroup(
                self,
                "ReplicationGroup",
                replication_group_description="cached-booking-api search cache",
                engine=options.engine,
                engine_version=ENGINE_VERSIONS[options.engine] if options.engine == "redis" else "8.0",
                cache_node_type=options.node_type,
                num_node_groups=1,
                replicas_per_node_group=options.replicas,
                automatic_failover_enabled=True,
                multi_az_enabled=True,
                transit_encryption_enabled=True,
                transit_encryption_mode="required",
                at_rest_encryption_enabled=True,
                port=port,
                cache_subnet_group_name=subnet_group.ref,
                security_group_ids=[self.security_group.security_group_id],
                user_group_ids=[self.user_group.ref],
                auto_minor_version_upgrade=True,
                snapshot_retention_limit=1,
            )
            acknowledge(
                self.replication_group,
                "AwsSolutions-AEC6",
                "Clients authenticate with IAM through the RBAC user group (UserGroupIds: an IAM-mode user, and for "
                "the redis engine the default user switched off); a Redis AUTH token is the shared password this "
                "replaces.",
            )
            self.cache_name = self.replication_group.ref
            self.endpoint_address = self.replication_group.attr_primary_end_point_address
            self.endpoint_port = self.replication_group.attr_primary_end_point_port
            self.cache_arn = Stack.of(self).format_arn(
                service="elasticache", resource="replicationgroup", resource_name=self.cache_name,
                arn_format=_COLON,
            )  # fmt: skip

    def allow_from(self, client: ec2.ISecurityGroup) -> None:
        """Admit a client security group on the cache port (and let it reach the cache)."""
        if not self._ports:  # made once: the same two ports for every client
            self._ports = [ec2.Port.tcp(self.port)] + ([ec2.Port.tcp(self.port + 1)] if self.serverless else [])
        port = self._ports[0]
        self.security_group.add_ingress_rule(client, port, "cache clients")
        client.add_egress_rule(self.security_group, port, "to the cache")
        if self.serverless:  # serverless also serves reads on port + 1
            reader = self._ports[1]
            self.security_group.add_ingress_rule(client, reader, "cache clients (reader)")
            client.add_egress_rule(self.security_group, reader, "to the cache (reader)")

    def grant_connect(self, grantee: iam.IGrantable) -> iam.Grant:
        """``elasticache:Connect`` on this cache and this user only."""
        if self._user_arn is None:
            self._user_arn = Stack.of(self).format_arn(
                service="elasticache", resource="user", resource_name=self._user_id, arn_format=_COLON
            )
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["elasticache:Connect"], resource_arns=[self.cache_arn, self._user_arn]
        )
