"""The Casbin policy, compiled once into allowed-field sets.

pycasbin's ``enforce`` costs 40 µs to 1 ms a call, so asking it per field of a 1,000-row
answer would take seconds. Instead the policy is loaded with pycasbin (so its model,
role inheritance and CSV parsing are the reference semantics) and then *compiled* into
``(role, action, record type) -> frozenset(fields)``; a request unions the sets of its
roles once per record type and masks whole records in one pass.

:class:`PolicyStore` recompiles when ``model.conf`` or ``policy.csv`` change (an mtime
check at most once a second), so a policy change takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import casbin

from backend.access.principal import Principal

logger = logging.getLogger(__name__)

MODEL_FILE = "model.conf"
POLICY_FILE = "policy.csv"
READ = "read"
WRITE = "write"
USE = "use"  # capabilities: break_glass, manage_users, manage_policy, review_break_glass
SCOPE_PREFIX = "scope:"  # policy subjects that cap bearer tokens (see policies/README.md)
UNASSIGNED = "unassigned"
"""The rule reported for a field that is in no group (denied to everyone)."""


class PolicyError(ValueError):
    """The policy files are inconsistent (a field in two groups, a malformed name ...)."""


def policy_version(policies_dir: Path) -> str:
    """sha256 over both files: what the audit trail records as the policy in force."""
    digest = hashlib.sha256()
    for name in (MODEL_FILE, POLICY_FILE):
        data = (policies_dir / name).read_bytes()
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


class CompiledPolicy:
    """Allowed fields per (role, action, record type), and each field's group.

    Immutable after construction except for the memo of per-role-set unions, which is
    safe to share between threads (a race only computes the same frozenset twice).
    """

    def __init__(
        self,
        *,
        version: str,
        field_groups: Mapping[str, Mapping[str, str]],
        role_groups: Mapping[tuple[str, str], frozenset[str]],
        capabilities: Mapping[str, frozenset[str]],
    ) -> None:
        self.version = version
        self.field_groups = field_groups  # type -> field -> group
        self.role_groups = role_groups  # (role, action) -> groups
        self.capabilities = capabilities  # role -> capabilities
        self.roles = frozenset(role for role, _ in role_groups) | frozenset(capabilities)
        self._fields: dict[tuple[str, str, str], frozenset[str]] = {}
        for (role, action), groups in role_groups.items():
            for record_type, fields in field_groups.items():
                allowed = frozenset(f for f, g in fields.items() if g in groups)
                if allowed:
                    self._fields[(role, action, record_type)] = allowed
        self._unions: dict[tuple[frozenset[str], str, str], frozenset[str]] = {}

    @property
    def record_types(self) -> frozenset[str]:
        return frozenset(self.field_groups)

    def group_of(self, record_type: str, field: str) -> str | None:
        return self.field_groups.get(record_type, {}).get(field)

    def allowed_fields(
        self, roles: Iterable[str], record_type: str, action: str = READ
    ) -> frozenset[str]:
        """The union over ``roles`` of the fields of ``record_type`` they may ``action``."""
        key = (frozenset(roles), action, record_type)
        found = self._unions.get(key)
        if found is None:
            found = frozenset().union(
                *(self._fields.get((role, action, record_type), frozenset()) for role in key[0])
            )
            self._unions[key] = found
        return found

    def groups_for(self, roles: Iterable[str], action: str = READ) -> frozenset[str]:
        return frozenset().union(
            *(self.role_groups.get((role, action), frozenset()) for role in roles)
        )

    def may(self, roles: Iterable[str], capability: str) -> bool:
        """Whether any of ``roles`` holds ``capability`` (``p, role, capability, use``)."""
        return any(capability in self.capabilities.get(role, frozenset()) for role in roles)


def scope_subjects(scopes: Iterable[str]) -> frozenset[str]:
    """The policy subjects of OAuth2 scopes: ``patients:read`` -> ``scope:patients:read``."""
    return frozenset(SCOPE_PREFIX + scope for scope in scopes)


def principal_may(policy: CompiledPolicy, principal: Principal, capability: str) -> bool:
    """Whether the caller may use ``capability``: a role grants it and, for a bearer
    token, one of the token's scopes allows it too."""
    if not policy.may(principal.roles, capability):
        return False
    return not principal.token_scoped or policy.may(scope_subjects(principal.scopes), capability)


def compile_enforcer(enforcer: casbin.Enforcer, *, version: str) -> CompiledPolicy:
    """Turn a loaded enforcer into a :class:`CompiledPolicy` (no ``enforce`` calls)."""
    field_groups: dict[str, dict[str, str]] = {}
    duplicates: list[str] = []
    for field_name, group in enforcer.get_named_grouping_policy("g2"):
        record_type, dot, field = field_name.partition(".")
        if not dot or not record_type or not field or "." in field:
            raise PolicyError(f"g2 names {field_name!r}: expected RecordType.field")
        fields = field_groups.setdefault(record_type, {})
        if field in fields and fields[field] != group:
            duplicates.append(field_name)
        fields[field] = group
    if duplicates:
        raise PolicyError(f"fields in more than one group: {', '.join(sorted(duplicates))}")
    groups = {g for fields in field_groups.values() for g in fields.values()}

    rules: list[list[str]] = enforcer.get_policy()
    subjects = {rule[0] for rule in rules} | {
        link[0] for link in enforcer.get_named_grouping_policy("g")
    }
    role_groups: dict[tuple[str, str], frozenset[str]] = {}
    capabilities: dict[str, frozenset[str]] = {}
    for role in sorted(subjects):
        # Role inheritance (g) is resolved by Casbin's own role manager.
        inherited = {role, *enforcer.get_implicit_roles_for_user(role)}
        granted: dict[str, set[str]] = {}
        caps: set[str] = set()
        for sub, obj, act in ((r[0], r[1], r[2]) for r in rules):
            if sub not in inherited:
                continue
            if act == USE:
                caps.add(obj)
            elif obj in groups:
                granted.setdefault(act, set()).add(obj)
            else:
                raise PolicyError(f"p line grants unknown field group {obj!r}")
        for act, objs in granted.items():
            role_groups[(role, act)] = frozenset(objs)
        if caps:
            capabilities[role] = frozenset(caps)
    return CompiledPolicy(
        version=version,
        field_groups={t: dict(f) for t, f in field_groups.items()},
        role_groups=role_groups,
        capabilities=capabilities,
    )


def load_policy(policies_dir: Path) -> tuple[casbin.Enforcer, CompiledPolicy]:
    """Load both files with pycasbin and compile them."""
    version = policy_version(policies_dir)
    enforcer = casbin.Enforcer(str(policies_dir / MODEL_FILE), str(policies_dir / POLICY_FILE))
    return enforcer, compile_enforcer(enforcer, version=version)


@dataclass(frozen=True, slots=True)
class _Loaded:
    stamp: tuple[int, ...]
    policy: CompiledPolicy


class PolicyStore:
    """The compiled policy in force, reloaded when the files change.

    ``current()`` costs one clock read per call and at most two ``stat`` calls a second.
    A policy that fails to load keeps the previous one in force (and logs why), so a
    typo in policy.csv cannot take the API down; the first load must succeed.
    """

    def __init__(
        self,
        policies_dir: Path,
        *,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policies_dir = policies_dir
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        stamp = self._stamp()
        self._loaded = _Loaded(stamp, load_policy(policies_dir)[1])
        self._checked_at = clock()

    def _stamp(self) -> tuple[int, ...]:
        stats = [(self.policies_dir / n).stat() for n in (MODEL_FILE, POLICY_FILE)]
        return tuple(v for s in stats for v in (s.st_mtime_ns, s.st_size, s.st_ino))

    def current(self) -> CompiledPolicy:
        now = self._clock()
        if now - self._checked_at < self.check_interval:
            return self._loaded.policy
        with self._lock:
            if now - self._checked_at >= self.check_interval:
                self._checked_at = now
                self._maybe_reload()
        return self._loaded.policy

    def _maybe_reload(self) -> None:
        try:
            stamp = self._stamp()
            if stamp == self._loaded.stamp:
                return
            policy = load_policy(self.policies_dir)[1]
        except Exception as exc:  # keep serving with the last good policy
            logger.error("policy reload failed, keeping version %s: %s", self.version, exc)
            return
        if policy.version != self._loaded.policy.version:
            logger.info("policy reloaded: version %s", policy.version)
        self._loaded = _Loaded(stamp, policy)

    @property
    def version(self) -> str:
        return self._loaded.policy.version


_stores: dict[Path, PolicyStore] = {}
_stores_lock = threading.Lock()


def policy_store(policies_dir: Path) -> PolicyStore:
    """The process-wide store for one policies directory (the app and CLI share it).

    Every GraphQL request asks for the store: the path as given is looked up first, as
    resolving it (a realpath, several stat calls) cost more than the rest of building the
    request context.
    """
    store = _stores.get(policies_dir)
    if store is not None:
        return store
    key = policies_dir.resolve()
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = PolicyStore(key)
        _stores[policies_dir] = store
        return store
