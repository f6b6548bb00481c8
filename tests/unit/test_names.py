"""models= / layers= and --models / --layers: one reading of a list of names."""

from __future__ import annotations

import pytest

from app.ml.errors import InputError
from app.ml.names import default_models, split_names


def test_names_are_stripped() -> None:
    assert split_names(" max , avg", "--models", "network") == ["max", "avg"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "--layers has an empty name in '': separate names by single commas"),
    ("pool1,,pool2", "--layers has an empty name in 'pool1,,pool2': separate names by single "
                     "commas"),
    ("pool1,", "--layers has an empty name in 'pool1,': separate names by single commas"),
    ("pool1, pool1", "--layers names the layer 'pool1' twice"),
])
def test_empty_and_repeated_names_are_refused(text: str, message: str) -> None:
    with pytest.raises(InputError) as exc:  # 422 over HTTP, one line from the CLI
        split_names(text, "--layers", "layer")
    assert str(exc.value) == message


def test_an_unknown_name_is_named_before_a_repeated_one() -> None:
    def known(name: str) -> None:
        if name not in ("max", "avg"):
            raise InputError(f"unknown {name}")

    with pytest.raises(InputError, match="^unknown foo$"):
        split_names("max,foo,max", "models=", "network", known)
    with pytest.raises(InputError, match="^models= names the network 'max' twice$"):
        split_names("max,avg,max", "models=", "network", known)


@pytest.mark.parametrize(("available", "chosen"), [
    (("max", "avg", "strided", "nopool", "blurmax"), ["max", "avg"]),
    (("avg", "blurmax", "max"), ["max", "avg"]),
    (("blurmax", "avg"), ["avg"]),
    (("strided", "nopool", "blurmax"), ["strided", "nopool"]),
    (("nopool",), ["nopool"]),
])
def test_the_default_networks_are_the_pair_where_loaded(available: tuple[str, ...],
                                                        chosen: list[str]) -> None:
    assert default_models(available) == chosen
