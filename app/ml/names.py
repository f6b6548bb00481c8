"""Comma-separated lists of networks and layers, read the same way by the API (`models=`,
`layers=`) and by `featuremaps extract` (`--models`, `--layers`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.ml.errors import InputError

# the networks run when none are named, where they are loaded (the page's pair)
DEFAULT_MODELS = ("max", "avg")


def split_names(text: str, option: str, kind: str,
                check: Callable[[str], None] | None = None) -> list[str]:
    """The names in `text`, each stripped of spaces; an empty name, or one given twice, is
    refused. `option` and `kind` name the list in the message ('models=', 'network');
    `check(name)`, if given, raises for a name it does not know, before the names are
    compared (an unknown name is the likelier typo, and the API said so first)."""
    names = [part.strip() for part in text.split(",")]
    if "" in names:
        raise InputError(f"{option} has an empty name in {text!r}: separate names by single "
                         "commas")
    if check is not None:
        for name in names:
            check(name)
    if len(set(names)) != len(names):  # the API's words since before this was shared
        raise InputError(f"{option} names a {kind} twice")
    return names


def default_models(available: Sequence[str],
                   default: Sequence[str] = DEFAULT_MODELS) -> list[str]:
    """The networks run unasked: the default ones among those available, or else the first
    two available."""
    return [m for m in default if m in available] or list(available[:2])
