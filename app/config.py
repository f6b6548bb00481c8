"""Settings from the environment (prefix FEATUREMAPS_), in one object passed to create_app."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import idna
from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.ml.names import VARIANTS, brief, in_decimal, in_digits, repeated, unknown_model

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# the most workers, inference threads or torch threads a setting or option may ask for: far
# past any machine's cores (a CLI review: 2**31 threads was a traceback from torch, 2**31 - 1
# libgomp asking for 463 GB)
MAX_THREADS = 1024


def _default_models_dir() -> Path:
    return PROJECT_ROOT / "models"


def _default_data_dir() -> Path:
    return PROJECT_ROOT / "data"


class Settings(BaseSettings):
    """Everything the server and the CLI can be told; each field is FEATUREMAPS_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="FEATUREMAPS_", extra="ignore")

    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    models_dir: Path = Field(default_factory=_default_models_dir)
    data_dir: Path = Field(default_factory=_default_data_dir)
    models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="variants to load (comma-separated); empty: every variant in models_dir",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=MAX_THREADS)
    inference_threads: int = Field(default=1, ge=1, le=MAX_THREADS,
                                   description="inferences running at once per worker")
    # 1 by default: a live request's ops are too small to split (2 threads were no faster
    # alone), and split ones stall whenever another process holds a core; with the page open
    # in a browser on the same 2 cores, one thread per core took the server's decode + infer
    # from 2.3 to 3.3 ms an update (bench/browser_latency.py --torch-threads 1,0). More
    # cores are used through workers and inference_threads.
    torch_threads: int = Field(
        default=1, ge=0, le=MAX_THREADS,
        description="intra-op threads per inference; 0 = cores / (workers x inference_threads)")
    max_upload_bytes: int = Field(default=2 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(default=4096 * 4096, ge=1)
    max_batch_upload_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    max_batch_images: int = Field(default=40_000, ge=1)
    max_batch_response_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_inflight: int = Field(default=64, ge=1,
                              description="inferences waiting or running per worker before 503")
    # each open socket may hold a few messages up to the upload limit while they arrive,
    # outside the budget of request bodies: this bounds how many sockets do
    max_sockets: int = Field(
        default=128, ge=1,
        description="live sockets (WS /api/v1/live) open at once per worker; beyond, the "
                    "handshake gets 503 and the page draws over POST")
    # finite: an infinite deadline is none, said rather than taken (an operator's review)
    request_timeout_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    body_timeout_s: float = Field(
        default=120.0, gt=0, allow_inf_nan=False,
        description="seconds a request body over 64 KiB (or chunked) may take to arrive; "
                    "slower is 408")
    batch_timeout_s: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    max_batch_inflight: int = Field(default=2, ge=1,
                                    description="batch requests waiting or running per worker")
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="proxies (addresses or networks, comma-separated; * for any) whose "
                    "X-Forwarded-For and X-Forwarded-Proto are believed; empty: none")
    cuda_graphs: bool = True
    # uvicorn's levels; FEATUREMAPS_LOG_LEVEL=WARNING works too
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    access_log: bool = True

    @property
    def logging_level(self) -> int:
        """log_level for the logging module (uvicorn's "trace" is 5, below DEBUG)."""
        return 5 if self.log_level == "trace" else int(logging.getLevelName(self.log_level.upper()))

    @field_validator("port", "workers", "inference_threads", "torch_threads", "max_upload_bytes",
                     "max_image_pixels", "max_batch_upload_bytes", "max_batch_images",
                     "max_batch_response_bytes", "max_inflight", "max_sockets",
                     "max_batch_inflight", mode="before")
    @classmethod
    def _digits(cls, value: object) -> object:
        # int() reads "8_000" and "+80" too (a CLI review: taken without a word, where the
        # API refuses +1 and 1_0); a count in the environment is written in digits
        if isinstance(value, str) and not in_digits(value.strip()):
            raise ValueError(f"must be a whole number in digits, not {brief(value)}")
        return value

    @field_validator("request_timeout_s", "body_timeout_s", "batch_timeout_s", mode="before")
    @classmethod
    def _decimal(cls, value: object) -> object:
        # float() reads "1_0" as ten and "+5" (a CLI review), as _digits says of int()
        if isinstance(value, str) and not in_decimal(value.strip()):
            raise ValueError(f"must be a number in digits, with a decimal point if need be, "
                             f"not {brief(value)}")
        return value

    @field_validator("cuda_graphs", "access_log", mode="before")
    @classmethod
    def _word(cls, value: object) -> object:
        # spaces around the word are let go, as around a number (a review: "yes " was
        # refused in words that list yes)
        return value.strip() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("models", "allowed_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("models", "allowed_origins", "forwarded_allow_ips", mode="before")
    @classmethod
    def _no_empty_name(cls, value: object, info: ValidationInfo) -> object:
        # as --models and models= refuse it (a CLI review: "," ran max and avg, "max,,avg"
        # ran both, without a word; an API review: the same of the two lists of addresses);
        # blank is unset
        if isinstance(value, str) and value.strip() and "" in (p.strip() for p in value.split(",")):
            unset = {"models": "every network in the models folder",
                     "allowed_origins": "no other origin",
                     "forwarded_allow_ips": "no proxy"}[str(info.field_name)]
            raise ValueError(f"has an empty name in {brief(value)}: separate them by single "
                             f"commas (or leave it empty for {unset})")
        return value

    @field_validator("models_dir", "data_dir", mode="before")
    @classmethod
    def _a_folder(cls, value: object) -> object:
        # Path("") is the folder the command runs in (a CLI review: train wrote its weights
        # there, where the README says the project's own folders are used)
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: name a folder, or leave the variable unset for the "
                             "project's own")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        # uvicorn would take "" (an unset variable in a script) as every interface
        return listen_address(value)

    @field_validator("models")
    @classmethod
    def _known_once_each(cls, value: list[str]) -> list[str]:
        # a name no network has stopped `serve` only, once the engine loaded; extract ran
        # the rest without a word, or a traceback with --layers (a review)
        unknown = next((name for name in value if name not in VARIANTS), None)
        if unknown is not None:
            raise ValueError(unknown_model(brief(unknown)))
        # a server loads each once, and extract would have run the repeat twice
        again = repeated(value)
        if again is not None:
            raise ValueError(f"names {brief(again)} twice: name each network once")
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        # as a browser writes an Origin: a trailing slash, capitals or a default port in the
        # setting matched no page (an operator's review); one that is no origin at all is
        # said at start-up, not left to match nothing (a review of that change)
        origins = []
        for entry in value:
            origin = entry if entry == "*" else canonical_origin(entry)
            if origin is None:
                raise ValueError(f"{brief(entry)} is no origin: write it as a browser sends "
                                 "it, scheme and host, such as https://class.example")
            origins.append(origin)
        return origins

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an address or network (nor *)") from None
        return value


def default(name: str) -> Any:
    """A setting's default, as documentation quotes it (the OpenAPI document's limits)."""
    return Settings.model_fields[name].default


DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_origin(origin: str) -> str | None:
    """An origin as browsers send it: scheme and host in lower case, no default port, no
    path, a host name in other letters than ASCII's in its xn-- form, an IPv6 address in
    its shortest (an API review: `http://bücher.example` and `http://[0:0::1]` matched no
    page, whose browser sends `http://xn--bcher-kva.example` and `http://[::1]`); None for
    what cannot be read as one."""
    try:
        parts = urlsplit(origin.strip())  # raises for a bracketed host that is no address
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    try:
        if ":" in host:
            if "%" in host:
                raise ValueError("a zone id")
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        elif not host.isascii():
            host = _ascii_host(host)
    except ValueError:  # no IPv6 address (a zone id too: no browser sends one), or no name
        return None
    shown = "" if port is None or port == DEFAULT_PORTS.get(scheme) else f":{port}"
    return f"{scheme}://{host}{shown}"


def _ascii_host(host: str) -> str:
    """A host name's xn-- form as browsers write it: UTS 46's mapping, not transitional (ß
    stays ß) and without the STD3 rules (☃.net is xn--n3h.net), then each label of other
    letters than ASCII's in punycode. A ValueError for a name with what no host may hold
    (a control character, a space, a slash...)."""
    mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
    ascii_host = ".".join(label if label.isascii() else
                          "xn--" + label.encode("punycode").decode("ascii")
                          for label in mapped.split("."))
    if any(c <= " " or c in FORBIDDEN_IN_HOSTS for c in ascii_host):
        raise ValueError(f"{host!r} holds a character no host name may")
    return ascii_host


FORBIDDEN_IN_HOSTS = frozenset('#%/:<>?@[\\]^|\x7f')  # and controls and spaces (the URL standard)


def listen_address(text: str) -> str:
    """An address to listen on, stripped; an empty one is refused, where uvicorn would listen
    on every interface."""
    if not text.strip():
        raise ValueError("is empty: name an address to listen on, 127.0.0.1 for this machine "
                         "alone or 0.0.0.0 for every interface")
    return text.strip()
