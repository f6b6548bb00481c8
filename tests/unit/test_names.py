"""models= / layers= and --models / --layers: one reading of a list of names; counts said
in words."""

from __future__ import annotations

import pytest

from app.api.gate import busy
from app.ml.errors import InputError
from app.ml.names import counted, default_models, split_names


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


@pytest.mark.parametrize(("n", "noun", "said"), [
    (1, "batch", "1 batch"), (2, "batch", "2 batches"), (0, "inference", "0 inferences"),
    (1, "inference", "1 inference"), (6872, "image", "6,872 images"), (1, "row", "1 row"),
    (64, "socket", "64 sockets"),
])
def test_counted_says_one_in_the_singular(n: int, noun: str, said: str) -> None:
    """Found by an API review: a server set to one batch at a time said "1 batches"."""
    assert counted(n, noun) == said


def test_a_busy_server_of_one_slot_says_it_in_the_singular() -> None:
    assert busy(1, "batch") == ("server busy: 1 batch already in flight; retry after the time "
                                "in Retry-After")
    assert busy(64).startswith("server busy: 64 inferences already in flight")
