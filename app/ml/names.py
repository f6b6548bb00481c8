"""Comma-separated lists of networks and layers, read the same way by the API (`models=`,
`layers=`) and by `featuremaps extract` (`--models`, `--layers`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from app.ml.errors import InputError

# every network this code can build (app/ml/nets.py), named here, away from torch, so that
# the settings can check a list of them before anything heavy loads
VARIANTS: tuple[str, ...] = ("max", "avg", "strided", "nopool", "blurmax")


def unknown_model(quoted: str, where: str = "") -> str:
    """What is said of a name (`quoted` as the caller quotes it) that no variant has, given
    `where` ("in --models"): the settings and extract's option say it alike."""
    return f"unknown model {quoted}{where}; the variants are {', '.join(VARIANTS)}"


def not_loaded(name: str, loaded: Sequence[str], where: str = "") -> str:
    """What a server says of a model `name` (a client's) it does not have, given `where`
    (" in models="): a variant this code can build but the server did not load is named as
    such (FEATUREMAPS_MODELS, or its weights missing: a newcomer's review was sent to the
    setting alone), not as unknown (found by an API review)."""
    have = f"this server has {', '.join(loaded)}"
    if name in VARIANTS:
        return (f"model {brief(name)}{where} is not loaded on this server (not in its "
                f"FEATUREMAPS_MODELS, or without weights in its models folder); {have}")
    return f"unknown model {brief(name)}{where}; {have}"


# the networks run when none are named, where they are loaded (the page's pair)
DEFAULT_MODELS = ("max", "avg")


BRIEF = 64  # characters of a client's name that an error message quotes


def cut(name: str) -> str:
    """A client's text cut to BRIEF characters, for an error message to quote."""
    return name if len(name) <= BRIEF else name[:BRIEF] + "..."


def counted(n: int, noun: str) -> str:
    """`n` things, the noun in the singular for one: "1 batch", "2,000 images". For nouns whose
    plural is -s, or -es after s, sh, ch or x (not "epoch", nor a consonant's -y)."""
    ending = "es" if noun.endswith(("s", "sh", "ch", "x")) else "s"
    return f"{n:,} {noun}{'' if n == 1 else ending}"


def json_kind(value: object) -> str:
    """What a value parsed from JSON is, in JSON's words (an error message's "is null", not
    Python's "is NoneType")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def brief(name: str) -> str:
    """A client's name as an error message quotes it: cut to BRIEF characters, so that a
    message never echoes a megabyte."""
    return repr(cut(name))


def brief_list(names: Sequence[str], shown: int = 10) -> str:
    """Names as an error message lists them: the first `shown`, each cut short, and how many
    more."""
    listed = ", ".join(cut(n) for n in names[:shown])
    more = len(names) - shown
    return listed + (f" and {more:,} more" if more > 0 else "")


def repeated(names: Sequence[str]) -> str | None:
    """The first name given a second time, in the order given; None if each is given once."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def split_names(text: str, option: str, kind: str,
                check: Callable[[str], None] | None = None) -> list[str]:
    """The names in `text`, each stripped of spaces; an empty name, or one given twice, is
    refused. `option` and `kind` name the list in the message ('models=', 'network');
    `check(name)`, if given, raises for a name it does not know, before the names are
    compared (an unknown name is the likelier typo, and the API said so first)."""
    names = [part.strip() for part in text.split(",")]
    if "" in names:
        raise InputError(f"{option} has an empty name in {brief(text)}: separate names by single "
                         "commas")
    if check is not None:
        for name in names:
            check(name)
    again = repeated(names)
    if again is not None:
        raise InputError(f"{option} names the {kind} {brief(again)} twice")
    return names


def default_models(available: Sequence[str],
                   default: Sequence[str] = DEFAULT_MODELS) -> list[str]:
    """The networks run unasked: the default ones among those available, or else the first
    two available."""
    return [m for m in default if m in available] or list(available[:2])


def in_digits(text: str) -> bool:
    """Whether `text` is a whole number written in decimal digits alone, a minus sign
    allowed: int() also reads "+1", "1_0" (ten) and other scripts' digits, so a typo could
    pass as another number than the one meant."""
    digits = text[1:] if text[:1] == "-" else text
    return digits.isascii() and digits.isdigit()


# digits with a point and an exponent, as a person writes a decimal (float() also reads
# "1_0", "+5", "inf" and other scripts' digits)
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NOT_FINITE = re.compile(r"[-+]?(?:inf|infinity|nan)", re.IGNORECASE)  # as float() spells them


def in_decimal(text: str) -> bool:
    """Whether `text` is a number written as in_digits allows, with a decimal point and an
    exponent allowed too ("0.5", ".5", "2.", "1e-3"); or infinity or NaN as float() spells
    them, which the caller refuses in its own words (not finite)."""
    return _DECIMAL.fullmatch(text) is not None or _NOT_FINITE.fullmatch(text) is not None
