"""The public API: __all__ matches what jetjobs exports; the error tree is complete and drawn."""

from __future__ import annotations

import inspect
import re

import pytest

import jetjobs
import jetjobs.errors
import jetjobs.testing
from jetjobs.errors import JetjobsError


def _public_names(module: object) -> set[str]:
    return {name for name, value in vars(module).items() if not name.startswith("_") and not inspect.ismodule(value)}


def test_all_matches_public_names_of_the_package() -> None:
    assert set(jetjobs.__all__) - {"__version__"} == _public_names(jetjobs)


def test_all_has_no_duplicates() -> None:
    assert len(jetjobs.__all__) == len(set(jetjobs.__all__))


@pytest.mark.parametrize("name", jetjobs.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(jetjobs, name) is not None


def test_version_is_a_string() -> None:
    assert isinstance(jetjobs.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", jetjobs.__version__)


@pytest.mark.parametrize("name", jetjobs.errors.__all__)
def test_every_error_derives_from_jetjobs_error(name: str) -> None:
    error = getattr(jetjobs.errors, name)
    assert inspect.isclass(error)
    assert issubclass(error, JetjobsError)


def test_errors_all_lists_every_error_class_defined_there() -> None:
    defined = {
        name
        for name, value in vars(jetjobs.errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == "jetjobs.errors"
    }
    assert defined == set(jetjobs.errors.__all__)


def _drawn_tree() -> dict[str, int]:
    """Class name -> indentation depth, read from the tree in the errors module docstring."""
    doc = jetjobs.errors.__doc__ or ""
    tree: dict[str, int] = {}
    for line in doc.split("The tree::", 1)[1].split("Example::", 1)[0].splitlines():
        match = re.match(r"^(\s*(?:[│ ]   )*(?:[├└]── )?)([A-Z]\w+)", line)
        if match:
            tree[match[2]] = len(match[1])
    return tree


@pytest.mark.parametrize("name", jetjobs.errors.__all__)
def test_error_tree_in_docstring_mentions_every_error(name: str) -> None:
    assert name in _drawn_tree()


def test_error_tree_draws_only_real_errors_and_real_parents() -> None:
    tree = _drawn_tree()
    assert set(tree) == set(jetjobs.errors.__all__)
    for name, depth in tree.items():
        if name == "JetjobsError":
            continue
        error = getattr(jetjobs.errors, name)
        # the parent drawn is the closest shallower class above it in the drawing
        names = list(tree)
        above = [n for n in names[: names.index(name)] if tree[n] < depth]
        assert issubclass(error, getattr(jetjobs.errors, above[-1])), name


# TaskControl is only a base class; users reach it through jetjobs.errors.
@pytest.mark.parametrize("name", [n for n in jetjobs.errors.__all__ if n != "TaskControl"])
def test_errors_are_exported_from_the_package_too(name: str) -> None:
    assert getattr(jetjobs, name) is getattr(jetjobs.errors, name)


def test_testing_all_resolves() -> None:
    assert _public_names(jetjobs.testing) >= set(jetjobs.testing.__all__)
