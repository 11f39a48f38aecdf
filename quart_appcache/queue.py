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
from .runtime import check_rule_list, rule_name
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
    return check_rule_list(
        value, key, MEMBERS, _rule, example="{'match': '/api/notes', 'methods': ['POST']}"
    )


def _rule(item: Mapping[str, object], where: str, index: int) -> QueueRule:
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
    name = rule_name(item, where, f"queue-{index}")
    return QueueRule(
        match=match,
        methods=tuple(dict.fromkeys(method.upper() for method in methods)),
        max_age=float(max_age),
        name=name,
    )
