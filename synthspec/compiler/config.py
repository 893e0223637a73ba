"""Repository configuration: `[tool.synth]` in pyproject.toml or a `synth.toml`.

    [tool.synth]
    select = ["ANA", "PHY001"]      # codes or prefixes to report (default: all)
    ignore = ["GOV005"]             # codes or prefixes never reported
    fail-on = "error"               # lowest severity that makes `synth check` exit 1
    roots = ["specs", "shared"]     # folders imports may read (default: the config's folder)
    exclude = ["examples/broken"]   # folders skipped when a folder is checked (files named explicitly are still checked)
    max-file-bytes = 1000000
    [tool.synth.severity]           # re-grade rules
    ANA008 = "error"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from synthspec.compiler.diagnostics import Severity


class ConfigError(Exception):
    """A configuration file that cannot be used; the CLI prints it and exits 2."""


ALWAYS_REPORTED = frozenset({"SYN001", "SYN004", "SYN005", "SYN007", "SYN008", "SYN014", "SYN016"})
"""Findings that mean a file was not read, not parsed or reads other than it shows: no `select`,
`ignore`, `severity` or suppression comment hides or softens them, or a planted configuration
could turn the check of a broken or hostile spec green."""


@dataclass
class Config:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    fail_on: Severity = Severity.ERROR
    roots: list[Path] = field(default_factory=list)
    exclude: list[Path] = field(default_factory=list)
    max_file_bytes: int = 1_000_000
    source: Path | None = None

    def enabled(self, code: str) -> bool:
        if code in ALWAYS_REPORTED:
            return True
        if self.select and not any(code.startswith(s) for s in self.select):
            return False
        return not any(code.startswith(i) for i in self.ignore)

    def grade(self, code: str, default: Severity) -> Severity:
        return default if code in ALWAYS_REPORTED else self.severity.get(code, default)


def find(start: Path) -> Path | None:
    start = start.resolve()
    for folder in [start, *start.parents] if start.is_dir() else [start.parent, *start.parent.parents]:
        for name in ("synth.toml", "pyproject.toml"):
            candidate = folder / name
            if candidate.is_file():
                if name == "pyproject.toml":
                    try:
                        tool = tomllib.loads(candidate.read_text(encoding="utf-8")).get("tool", {})
                        if not isinstance(tool, dict) or "synth" not in tool:
                            continue
                    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
                        continue
                return candidate
        if (folder / ".git").exists():
            break
    return None


def _strings(table: dict, key: str) -> list[str]:
    """A list of strings; one string alone counts as a one-item list (not as its characters)."""
    value = table.get(key, [])
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings, not {value!r}")
    return value


def _known_codes(path: Path, key: str, codes: list[str]) -> None:
    """Every entry names a rule code or a prefix of one: an unknown entry (a typo, or `select = ["XYZ"]`
    planted to silence everything) is a configuration error, never a silent pass."""
    from synthspec.compiler.rules.registry import all_rules

    known = [r.code for r in all_rules()]
    for entry in codes:
        if not entry or not any(code.startswith(entry) for code in known):
            raise ConfigError(f"{path}: `{key}` in [tool.synth] names {entry!r}, which is no rule code or prefix "
                              "of one; `synth rules` lists them")


def load(path: Path | None) -> Config:
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error}") from None
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: `tool` must be a table")
    table = tool.get("synth", {}) if path.name == "pyproject.toml" else tool.get("synth", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.synth] must be a table of settings")
    config = Config(source=path)
    known = {"select", "ignore", "severity", "fail-on", "roots", "exclude", "max-file-bytes"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    try:
        config.select = [str(s).upper() for s in _strings(table, "select")]
        config.ignore = [str(s).upper() for s in _strings(table, "ignore")]
        config.severity = {str(k).upper(): Severity(v) for k, v in table.get("severity", {}).items()}
        for key, codes in (("select", config.select), ("ignore", config.ignore), ("severity", list(config.severity))):
            _known_codes(path, key, codes)
        config.fail_on = Severity(table.get("fail-on", "error"))
        config.roots = [(path.parent / r).resolve() for r in _strings(table, "roots")]
        config.exclude = [(path.parent / r).resolve() for r in _strings(table, "exclude")]
        size = table.get("max-file-bytes", 1_000_000)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"max-file-bytes must be a positive whole number, not {size!r}")
        config.max_file_bytes = size
    except (ValueError, TypeError, AttributeError, OSError, RuntimeError) as error:
        raise ConfigError(f"{path}: bad value in [tool.synth]: {error} (severities are error, warning, info)") from None
    return config
