"""Repository configuration: `[tool.synth]` in pyproject.toml or a `synth.toml`.

    [tool.synth]
    select = ["ANA", "PHY001"]      # codes or prefixes to report (default: all)
    ignore = ["GOV005"]             # codes or prefixes never reported
    fail-on = "error"               # lowest severity that makes `synth check` exit 1
    roots = ["specs", "shared"]     # folders imports may read (default: the config's folder)
    max-file-bytes = 1000000
    [tool.synth.severity]           # re-grade rules
    ANA008 = "error"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Severity


class ConfigError(Exception):
    """A configuration file that cannot be used; the CLI prints it and exits 2."""


@dataclass
class Config:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    fail_on: Severity = Severity.ERROR
    roots: list[Path] = field(default_factory=list)
    max_file_bytes: int = 1_000_000
    source: Path | None = None

    def enabled(self, code: str) -> bool:
        if self.select and not any(code.startswith(s) for s in self.select):
            return False
        return not any(code.startswith(i) for i in self.ignore)

    def grade(self, code: str, default: Severity) -> Severity:
        return self.severity.get(code, default)


def find(start: Path) -> Path | None:
    start = start.resolve()
    for folder in [start, *start.parents] if start.is_dir() else [start.parent, *start.parent.parents]:
        for name in ("synth.toml", "pyproject.toml"):
            candidate = folder / name
            if candidate.is_file():
                if name == "pyproject.toml":
                    try:
                        if "synth" not in tomllib.loads(candidate.read_text(encoding="utf-8")).get("tool", {}):
                            continue
                    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
                        continue
                return candidate
        if (folder / ".git").exists():
            break
    return None


def load(path: Path | None) -> Config:
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error}") from None
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    table = data.get("tool", {}).get("synth", {}) if path.name == "pyproject.toml" else data.get("tool", {}).get("synth", data)
    config = Config(source=path)
    known = {"select", "ignore", "severity", "fail-on", "roots", "max-file-bytes"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    try:
        config.select = [str(s).upper() for s in table.get("select", [])]
        config.ignore = [str(s).upper() for s in table.get("ignore", [])]
        config.severity = {str(k).upper(): Severity(v) for k, v in table.get("severity", {}).items()}
        config.fail_on = Severity(table.get("fail-on", "error"))
        config.roots = [(path.parent / r).resolve() for r in table.get("roots", [])]
        config.max_file_bytes = int(table.get("max-file-bytes", 1_000_000))
    except (ValueError, TypeError, AttributeError) as error:
        raise ConfigError(f"{path}: bad value in [tool.synth]: {error} (severities are error, warning, info)") from None
    return config
