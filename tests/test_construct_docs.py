"""Every construct in constructs_lib/ has one docstring, on its class, that says what it
builds and documents each keyword argument, with the default of each that has one, the
way aws-cdk-lib documents its props (`:param name: ... Default: ...`)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import constructs

import constructs_lib

LIB_DIR = Path(constructs_lib.__file__).resolve().parent


def construct_classes() -> list[type[constructs.Construct]]:
    found = []
    for info in pkgutil.iter_modules([str(LIB_DIR)]):
        module = importlib.import_module(f"constructs_lib.{info.name}")
        found += [
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, constructs.Construct)
            and value.__module__ == module.__name__
        ]
    return sorted(found, key=lambda cls: cls.__name__)


def _param_docs(docstring: str) -> dict[str, str]:
    """`:param name: text` entries (text may continue on indented lines)."""
    entries = re.findall(r"^\s*:param (\w+):(.*?)(?=^\s*:param |\Z)", docstring, flags=re.MULTILINE | re.DOTALL)
    return {name: " ".join(text.split()) for name, text in entries}


def doc_problems(cls: type) -> list[str]:
    """What `cls`'s docstring fails to document about its constructor."""
    docstring = inspect.getdoc(cls) if cls.__doc__ else None
    if not docstring:
        return [f"{cls.__name__} has no docstring saying what it builds"]
    problems = []
    if cls.__init__.__doc__:
        problems.append(f"{cls.__name__}.__init__ has a docstring of its own: document it on the class")
    described = docstring.split(":param", 1)[0].strip()
    if len(described) < 40:
        problems.append(f"{cls.__name__}'s docstring does not say what it builds")
    params = _param_docs(docstring)
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        text = params.get(name)
        if text is None:
            problems.append(f"{cls.__name__}: no ':param {name}:'")
            continue
        if parameter.default is inspect.Parameter.empty:
            continue
        stated = text.partition("Default:")[2].strip()
        if not stated:
            problems.append(f"{cls.__name__}: {name} does not state its default")
        elif isinstance(parameter.default, bool | int | float | str) and str(parameter.default) not in stated:
            problems.append(f"{cls.__name__}: {name}'s default is {parameter.default!r}, the docstring says {stated!r}")
    return problems


def test_every_construct_documents_its_arguments_and_defaults() -> None:
    classes = construct_classes()
    assert len(classes) >= 20
    assert [problem for cls in classes for problem in doc_problems(cls)] == []


def test_the_check_catches_missing_and_stale_documentation() -> None:
    class Careless(constructs.Construct):
        """A construct that builds a bucket for the tests to find fault with, nothing more.

        :param size: How big. Default: 10
        :param name: What it is called. Default:
        """

        def __init__(
            self, scope: constructs.Construct, construct_id: str, *, size: int = 20, name: str = "x", owner: str
        ) -> None:
            """Not here."""
            super().__init__(scope, construct_id)

    assert doc_problems(Careless) == [
        "Careless.__init__ has a docstring of its own: document it on the class",
        "Careless: size's default is 20, the docstring says '10'",
        "Careless: name does not state its default",
        "Careless: no ':param owner:'",
    ]
