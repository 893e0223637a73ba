"""The rule families the compiler applies; one module per family.

syntax, names, units, ranges: reported while parsing and building the model.
anatomy, physics, population, taskfit, governance: checks over the checked model.
"""

from synthspec.compiler.rules.registry import Rule, all_rules, check, get_rule, model_checks, rule

__all__ = ["Rule", "all_rules", "check", "get_rule", "model_checks", "rule"]
