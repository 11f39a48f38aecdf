"""Offline write rules (``APPCACHE_QUEUE``): which writes the worker queues.

A rule names a path prefix of this app, the methods it takes and how long a
queued write may wait. The worker queues a matching same-origin write it
cannot send; the idempotency middleware remembers every answer to a write
that carries an ``Idempotency-Key`` under a rule, so a replay is applied
once. Rules are checked here, at ``init_app``; errors name the rule by its
position (``APPCACHE_QUEUE[1]``) and the member. No framework imports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError, InvalidURLError
from .urls import check_prefix

__all__ = ["WRITE_METHODS", "QueueRule", "check_queue", "queue_json", "rule_for"]

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
MEMBERS = ("match", "methods", "max_age", "name")
DEFAULT_MAX_AGE = 86400.0


@dataclass(frozen=True)
class QueueRule:
    """One checked rule: writes under ``match`` with one of ``methods``."""

    match: str
    methods: tuple[str, ...]
    max_age: float
    name: str

    def takes(self, method: str, path: str) -> bool:
        """Whether a request of ``method`` for ``path`` (within the app) is under the rule."""
        return method in self.methods and path.startswith(self.match)

    def as_json(self, prefix: str) -> dict[str, object]:
        """The rule as the worker reads it, under the URL ``prefix``."""
        return {
            "match": prefix + self.match,
            "methods": list(self.methods),
            "maxAge": self.max_age,
            "name": self.name,
        }


def queue_json(rules: tuple[QueueRule, ...], prefix: str = "") -> str:
    """The rules as JSON for the worker template."""
    return json.dumps([rule.as_json(prefix) for rule in rules])


def rule_for(rules: tuple[QueueRule, ...], method: str, path: str) -> QueueRule | None:
    """The first rule a request is under, if any."""
    for rule in rules:
        if rule.takes(method, path):
            return rule
    return None


def check_queue(value: object, key: str) -> tuple[QueueRule, ...]:
    """Check ``APPCACHE_QUEUE``: a list of rule dicts.

    Raises:
        ConfigError: naming the rule by position and the bad member.
    """
    if isinstance(value, str | Mapping) or not isinstance(value, list | tuple):
        raise ConfigError(
            f"{key} is {value!r}; give a list of rules like "
            "[{'match': '/api/notes', 'methods': ['POST']}]."
        )
    rules = tuple(_rule(item, f"{key}[{index}]", index) for index, item in enumerate(value))
    names = [rule.name for rule in rules]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ConfigError(
                f"{key}[{index}] has the name {name!r} of an earlier rule; give each rule "
                "its own name."
            )
    return rules


def _rule(item: object, where: str, index: int) -> QueueRule:
    if not isinstance(item, Mapping):
        raise ConfigError(
            f"{where} is {item!r}; give a dict with 'match', like {{'match': '/api/'}}."
        )
    unknown = [member for member in item if member not in MEMBERS]
    if unknown:
        raise ConfigError(
            f"{where} has the unknown member {unknown[0]!r}; the members are "
            f"{', '.join(repr(member) for member in MEMBERS)}."
        )
    try:
        match = check_prefix(item.get("match"), source=f"{where}['match']")
    except InvalidURLError as error:
        raise ConfigError(
            f"{error} A queue rule's 'match' is a path prefix of this app, like '/api/notes'."
        ) from None
    methods = item.get("methods", list(WRITE_METHODS))
    if isinstance(methods, str) or not isinstance(methods, list | tuple) or not methods:
        raise ConfigError(
            f"{where}['methods'] is {methods!r}; give a list of write methods, like ['POST']."
        )
    for method in methods:
        if not isinstance(method, str) or method.upper() not in WRITE_METHODS:
            raise ConfigError(
                f"{where}['methods'] holds {method!r}; only writes are queued: give some of "
                f"{', '.join(WRITE_METHODS)}."
            )
    max_age = item.get("max_age", DEFAULT_MAX_AGE)
    if isinstance(max_age, bool) or not isinstance(max_age, int | float) or not max_age > 0:
        raise ConfigError(
            f"{where}['max_age'] is {max_age!r}; give the seconds a queued write may wait "
            "(and its answer is kept), a number above 0."
        )
    name = item.get("name", f"queue-{index}")
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ConfigError(f"{where}['name'] is {name!r}; give a name without spaces.")
    return QueueRule(
        match=match,
        methods=tuple(dict.fromkeys(method.upper() for method in methods)),
        max_age=float(max_age),
        name=name,
    )
