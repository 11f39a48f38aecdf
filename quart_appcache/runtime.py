"""Runtime caching rules (``APPCACHE_RUNTIME``): pages and data outside the bundle.

Each rule names which same-origin GETs it takes (a path prefix, or every page
load with ``"navigate"``), a strategy, and optional limits. The worker applies
the first rule that matches a request the precache does not answer. Rules are
checked here, at ``init_app``; errors name the rule by its position
(``APPCACHE_RUNTIME[1]``) and the member. No framework imports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .errors import ConfigError, InvalidURLError
from .urls import check_prefix

__all__ = ["STRATEGIES", "Rule", "check_rule_list", "check_rules", "rule_name", "rules_json"]

STRATEGIES = ("network-first", "stale-while-revalidate", "cache-first", "network-only")
MEMBERS = ("match", "strategy", "timeout", "max_entries", "max_age", "name", "notify", "preload")
NAVIGATE = "navigate"


@dataclass(frozen=True)
class Rule:
    """One checked rule."""

    match: str
    strategy: str
    timeout: float | None
    max_entries: int | None
    max_age: float | None
    name: str
    notify: bool = False
    preload: bool = False

    def as_json(self, prefix: str) -> dict[str, object]:
        """The rule as the worker reads it, under the URL ``prefix``."""
        return {
            "match": self.match if self.match == NAVIGATE else prefix + self.match,
            "strategy": self.strategy,
            "timeout": self.timeout,
            "maxEntries": self.max_entries,
            "maxAge": self.max_age,
            "name": self.name,
            "notify": self.notify,
            "preload": self.preload,
        }


def rules_json(rules: tuple[Rule, ...], prefix: str = "") -> str:
    """The rules as JSON for the worker template."""
    return json.dumps([rule.as_json(prefix) for rule in rules])


def check_rules(value: object, key: str) -> tuple[Rule, ...]:
    """Check ``APPCACHE_RUNTIME``: a list of rule dicts.

    Raises:
        ConfigError: naming the rule by position and the bad member.
    """
    return check_rule_list(
        value,
        key,
        MEMBERS,
        _rule,
        example="{'match': 'navigate', 'strategy': 'network-first'}",
        named="the cache name",
    )


R = TypeVar("R", bound="Named")


class Named(Protocol):
    """A checked rule: each in a list has its own name."""

    @property
    def name(self) -> str: ...


def check_rule_list(
    value: object,
    key: str,
    members: tuple[str, ...],
    check: Callable[[Mapping[str, object], str, int], R],
    *,
    example: str,
    named: str = "the name",
) -> tuple[R, ...]:
    """Check a setting that is a list of rule dicts (runtime caching, the write queue):
    each a dict of known ``members`` checked by ``check``, their names unique.

    Raises:
        ConfigError: naming the rule by position (``KEY[1]``) and the bad member.
    """
    if isinstance(value, str | Mapping) or not isinstance(value, list | tuple):
        raise ConfigError(f"{key} is {value!r}; give a list of rules like [{example}].")
    rules: list[R] = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where} is {item!r}; give a dict like {example}.")
        unknown = [member for member in item if member not in members]
        if unknown:
            raise ConfigError(
                f"{where} has the unknown member {unknown[0]!r}; the members are "
                f"{', '.join(repr(member) for member in members)}."
            )
        rule = check(item, where, index)
        if any(earlier.name == rule.name for earlier in rules):
            raise ConfigError(
                f"{where} has {named} {rule.name!r} of an earlier rule; give each rule its "
                "own name."
            )
        rules.append(rule)
    return tuple(rules)


def rule_name(item: Mapping[str, object], where: str, default: str) -> str:
    """A rule's ``name`` member (``default`` when absent): a word without spaces.

    Raises:
        ConfigError: naming the member.
    """
    name = item.get("name", default)
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ConfigError(f"{where}['name'] is {name!r}; give a name without spaces.")
    return name


def _rule(item: Mapping[str, object], where: str, index: int) -> Rule:
    strategy = item.get("strategy")
    if strategy not in STRATEGIES:
        shown = ", ".join(repr(choice) for choice in STRATEGIES)
        raise ConfigError(f"{where}['strategy'] is {strategy!r}; give one of {shown}.")
    timeout = _positive(item, "timeout", where)
    if timeout is not None and strategy != "network-first":
        raise ConfigError(
            f"{where}['timeout'] is {item['timeout']!r}, but only a 'network-first' rule waits "
            f"for the network; remove it from this {strategy!r} rule."
        )
    max_entries = item.get("max_entries")
    if max_entries is not None and (
        isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1
    ):
        raise ConfigError(
            f"{where}['max_entries'] is {max_entries!r}; give an integer of 1 or more."
        )
    notify = item.get("notify", False)
    if not isinstance(notify, bool):
        raise ConfigError(f"{where}['notify'] is {notify!r}; give True or False.")
    if notify and strategy != "stale-while-revalidate":
        raise ConfigError(
            f"{where}['notify'] is True, but only a 'stale-while-revalidate' rule refreshes "
            f"a copy it has already answered with; remove it from this {strategy!r} rule."
        )
    preload = item.get("preload", False)
    if not isinstance(preload, bool):
        raise ConfigError(f"{where}['preload'] is {preload!r}; give True or False.")
    if preload and (
        item.get("match") != NAVIGATE or strategy not in ("network-first", "network-only")
    ):
        raise ConfigError(
            f"{where}['preload'] is True, but navigation preload is for a 'navigate' rule "
            "that goes to the network first ('network-first' or 'network-only')."
        )
    name = rule_name(item, where, f"runtime-{index}")
    return Rule(
        match=_match(item.get("match"), where),
        strategy=strategy,
        timeout=timeout,
        max_entries=max_entries,
        max_age=_positive(item, "max_age", where),
        name=name,
        notify=notify,
        preload=preload,
    )


def _match(value: object, where: str) -> str:
    if value == NAVIGATE:
        return NAVIGATE
    try:
        return check_prefix(value, source=f"{where}['match']")
    except InvalidURLError as error:
        raise ConfigError(
            f"{error} A rule's 'match' is a path prefix of this app, like '/docs/', or "
            "'navigate' for every page load."
        ) from None


def _positive(item: Mapping[str, object], member: str, where: str) -> float | None:
    value = item.get(member)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{where}[{member!r}] is {value!r}; give a number of seconds above 0.")
    return float(value)
