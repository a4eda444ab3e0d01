"""Health: whether a live object is what its controller was asked for (ambdiff.health.rules
says how each kind is judged; ambdiff.health.assess judges one object)."""

from ambdiff.health.assess import Health, assess
from ambdiff.health.rules import Result, Rule, built_in, find, with_built_in

__all__ = ["Health", "Result", "Rule", "assess", "built_in", "find", "with_built_in"]
