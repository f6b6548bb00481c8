"""Domain errors, raised once in app/ml and turned into HTTP responses in app/api/errors.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FeaturemapsError(Exception):
    """Base class: the message is a single line meant for the user."""


class DataError(FeaturemapsError):
    """The MNIST data is missing, corrupt, or not what its hash says."""


class WeightsError(FeaturemapsError):
    """A weights file or model card is missing, corrupt, or disagrees with its card."""


class DeviceError(FeaturemapsError):
    """The requested compute device is not available."""


class OutputError(FeaturemapsError):
    """A file a command was asked to write cannot be written there."""


class InputError(FeaturemapsError):
    """Bad input from a user: the message says what was wrong and what is accepted."""

    status_code = 422


class InvalidImage(InputError):
    """Not a decodable image of an accepted format."""

    status_code = 415


class NotArrays(InputError):
    """A batch body of another kind than an .npy or .npz (an image, a PDF, raw bytes): a 415,
    as the one-image route answers a body that is no image (found by an API review: it was a
    422 there, where a Content-Type that said the same was a 415)."""

    status_code = 415


class CorruptImage(InputError):
    """An accepted format whose data is truncated or corrupt."""

    status_code = 422


class EmptyBody(InputError):
    """Nothing was sent."""

    status_code = 400


class ImageTooLarge(InputError):
    """Decoded size over the pixel limit (decompression bombs included)."""

    status_code = 413


class InvalidPixels(InputError):
    """A JSON pixel array of the wrong shape, type or range."""

    status_code = 422


class UnknownName(InputError):
    """An unknown model, layer or encoding."""

    status_code = 404


# the words pydantic reads as a boolean, said where one is refused (a query parameter, a
# setting): its own "unable to interpret input" named neither them nor what was given
BOOL_WORDS = ("expected true or false (or t or f, 1 or 0, yes or no, y or n, on or off, in any "
              "case)")


def own_words(err: Mapping[str, Any]) -> str:
    """One pydantic error's message, without the "Value error, " pydantic puts before a
    sentence our own validators raise, and a refused boolean as BOOL_WORDS with what was
    given: an API's 4xx and a bad setting say it alike."""
    if err.get("type") == "value_error" and "error" in err.get("ctx", {}):
        return str(err["ctx"]["error"])
    got = err.get("input")
    if err.get("type") == "bool_parsing" and isinstance(got, str):
        from app.ml.names import brief  # names imports this module

        return f"{BOOL_WORDS}; got {brief(got)}"
    return str(err.get("msg", "invalid"))
