"""Finding task code by name: dotted paths and module patterns, with one clear error per failure.

``App.register("myapp.tasks.send_email")`` and ``App.discover_tasks("myapp.tasks.*")`` use these;
they only import, so importing a module runs its ``@app.task`` decorators.
"""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from .errors import ConfigError


def import_module(name: str, *, why: str = "") -> ModuleType:
    """Import ``name``; any failure becomes one ConfigError naming the module and the cause."""
    try:
        return importlib.import_module(name)
    except ConfigError:
        raise
    except Exception as exc:  # the module's own error (SyntaxError, NameError...), said in one line
        where = f" ({why})" if why else ""
        frames = traceback.extract_tb(exc.__traceback__)
        # A SyntaxError names its line itself; for others, the line that raised is the useful one.
        at = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames and not isinstance(exc, SyntaxError) else ""
        raise ConfigError(f"cannot import module {name!r}{where}: {type(exc).__name__}: {exc}{at}") from None


def resolve(path: str) -> Any:
    """The object at ``package.module.attribute`` (or ``package.module:attribute``).

    >>> resolve("os.path.join").__name__
    'join'
    """
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ConfigError(f"{path!r} is not a dotted path to a function (e.g. 'myapp.tasks.send_email')")
    module = import_module(module_name, why=f"for {path!r}")
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigError(f"module {module_name!r} has no attribute {attribute!r} (for {path!r})") from None


def module_names(patterns: str | Iterable[str]) -> list[str]:
    """Expand ``pkg.mod`` (itself), ``pkg.*`` (its direct submodules) and ``pkg.**`` (all below it).

    The package of a pattern is imported to list its submodules; the result is in a stable order.
    """
    wanted = [patterns] if isinstance(patterns, str) else list(patterns)
    names: list[str] = []
    for pattern in wanted:
        base, star, rest = pattern.partition(".*")
        if not star:
            names.append(pattern)
            continue
        if rest not in ("", "*"):
            raise ConfigError(f"module pattern {pattern!r}: use 'pkg.mod', 'pkg.*' or 'pkg.**'")
        package = import_module(base, why=f"for pattern {pattern!r}")
        if not hasattr(package, "__path__"):
            raise ConfigError(f"{base!r} is a module, not a package: {pattern!r} has nothing to match")
        walk = pkgutil.walk_packages if rest == "*" else pkgutil.iter_modules
        found = sorted(info.name for info in walk(package.__path__, prefix=f"{base}."))
        names.extend([base, *found] if rest == "*" else found)
    return list(dict.fromkeys(names))


def import_modules(patterns: str | Iterable[str]) -> list[ModuleType]:
    """Import every module ``patterns`` name (see ``module_names``)."""
    return [import_module(name, why="found by discovery") for name in module_names(patterns)]
