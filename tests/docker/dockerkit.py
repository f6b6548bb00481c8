"""Plumbing for the Docker smoke test: a Docker daemon, a base image, a build context.

Everything here works on a bare Debian 12 machine as root:

* the Docker engine and debootstrap come from Debian (apt-get) when they are missing;
* when no daemon answers, one is started as a child of the test, with its own socket, state
  and data root (the data root is a cache kept between runs), and stopped again by its PID;
* when the official base image cannot be pulled, a Debian bookworm base with python3 is made
  with debootstrap from the mirror the host's apt already uses, and imported as an image;
* the build context is a copy of the repository's files plus every wheel the image needs,
  downloaded by the host's pip, so that the image builds offline (PIP_NO_INDEX=1).

No mirror, index or machine path is written here: they are read from the host at run time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = "featuremaps:smoke-test"
OFFICIAL_BASE = "python:3.11-slim"
LOCAL_BASE = "featuremaps-base:bookworm"
SUITE = "bookworm"
BASE_PACKAGES = "python3,python3-pip,python3-venv,ca-certificates"
DOCKERD_FLAGS = ["--iptables=false", "--ip-forward=false", "--ip-masq=false"]


class DockerKitError(RuntimeError):
    """A step of the set-up failed; the message carries the tail of its output."""


def cache_root() -> Path:
    """Where the daemon's data root and debootstrap's packages are kept between runs."""
    configured = os.environ.get("FEATUREMAPS_DOCKER_CACHE")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "featuremaps-docker"


def tail(text: str | bytes, lines: int = 40) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(cmd: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
        check: bool = True, input_bytes: bytes | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output; on failure raise with the command and its tail."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, timeout=timeout, env=env, cwd=cwd,
                              input=input_bytes, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DockerKitError(f"timed out after {timeout:.0f}s: {' '.join(cmd)}\n"
                             f"{tail(exc.stdout or b'')}\n{tail(exc.stderr or b'')}") from exc
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise DockerKitError(f"exit {proc.returncode}: {' '.join(cmd)}\n{tail(out)}\n{tail(err)}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# --- system packages ----------------------------------------------------------------------

def apt_install(packages: Sequence[str]) -> None:
    """Debian packages, with apt-get (as root); the package lists are refreshed first."""
    if os.geteuid() != 0:
        raise DockerKitError(f"need root to install {', '.join(packages)} with apt-get")
    if shutil.which("apt-get") is None:
        raise DockerKitError(f"{', '.join(packages)} missing and there is no apt-get here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], timeout=600, env=env)
    run(["apt-get", "install", "-y", "--no-install-recommends", *packages], timeout=1200, env=env)


def ensure_docker_installed() -> None:
    if shutil.which("docker") is None or shutil.which("dockerd") is None:
        apt_install(["docker.io"])


def ensure_debootstrap_installed() -> None:
    if shutil.which("debootstrap") is None:
        apt_install(["debootstrap"])


# --- the daemon ---------------------------------------------------------------------------

@dataclass
class Docker:
    """The docker CLI pointed at one daemon."""

    host: str
    env: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # the classic builder: this project's Dockerfile must not need BuildKit
        self.env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}

    def __call__(self, *args: str, timeout: float = 120, check: bool = True,
                 input_bytes: bytes | None = None) -> subprocess.CompletedProcess[str]:
        docker = shutil.which("docker") or "docker"
        return run([docker, *args], timeout=timeout, env=self.env, check=check,
                   input_bytes=input_bytes)

    def answers(self) -> bool:
        try:
            return self("version", "--format", "{{.Server.Version}}", timeout=20,
                        check=False).returncode == 0
        except DockerKitError:
            return False

    def image_exists(self, ref: str) -> bool:
        return self("image", "inspect", ref, timeout=30, check=False).returncode == 0


@dataclass
class Daemon:
    """A dockerd this test started (proc is None when an existing daemon is used)."""

    docker: Docker
    proc: subprocess.Popen[bytes] | None = None
    run_dir: Path | None = None
    lock: Any = None

    @property
    def started_here(self) -> bool:
        return self.proc is not None

    def stop(self) -> None:
        """SIGTERM to the dockerd started here (by its PID), SIGKILL if it hangs."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=30)
            self.proc = None
        if self.run_dir is not None:
            # dockerd leaves its network namespace mounted under its exec root
            for mount_point in mounts_under(self.run_dir):
                run(["umount", str(mount_point)], timeout=60, check=False)
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
        if self.lock is not None:
            self.lock.close()
            self.lock = None


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below a directory, deepest first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # the mount point is field 5; a space in it is written as \040
        point = Path(line.split()[4].replace("\\040", " "))
        if point == directory or directory in point.parents:
            found.append(point)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _existing_daemon() -> Docker | None:
    configured = os.environ.get("DOCKER_HOST")
    if configured:
        docker = Docker(configured)
        if not docker.answers():
            raise DockerKitError(f"DOCKER_HOST={configured} is set but no daemon answers there")
        return docker
    if Path("/var/run/docker.sock").exists():
        docker = Docker("unix:///var/run/docker.sock")
        if docker.answers():
            return docker
    return None


def start_daemon(startup_timeout: float = 90) -> Daemon:
    """Use the daemon that answers, or start one with its own socket and a cached data root."""
    ensure_docker_installed()
    existing = _existing_daemon()
    if existing is not None:
        return Daemon(existing)
    if os.geteuid() != 0:
        raise DockerKitError("no Docker daemon answers and starting one needs root")
    root = cache_root()
    data_root = root / "data-root"
    data_root.mkdir(parents=True, exist_ok=True)
    lock = (root / "daemon.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        lock.close()
        raise DockerKitError(f"another run holds {root / 'daemon.lock'}") from exc
    # a short path: the socket's name must fit in a unix socket address
    run_dir = Path(tempfile.mkdtemp(prefix="fm-dockerd-"))
    sock = run_dir / "docker.sock"
    log_path = run_dir / "dockerd.log"
    cmd = [shutil.which("dockerd") or "dockerd", *DOCKERD_FLAGS,
           f"--data-root={data_root}", f"--exec-root={run_dir / 'exec'}",
           f"--pidfile={run_dir / 'docker.pid'}", "-H", f"unix://{sock}"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    daemon = Daemon(Docker(f"unix://{sock}"), proc, run_dir, lock)
    deadline = time.monotonic() + startup_timeout
    while True:
        if proc.poll() is not None:
            log_text = log_path.read_text(errors="replace")
            daemon.stop()
            raise DockerKitError(f"dockerd exited with {proc.returncode}:\n{tail(log_text)}")
        if sock.exists() and daemon.docker.answers():
            return daemon
        if time.monotonic() > deadline:
            log_text = log_path.read_text(errors="replace")
            daemon.stop()
            raise DockerKitError(f"dockerd did not answer in {startup_timeout:.0f}s:\n"
                                 f"{tail(log_text)}")
        time.sleep(0.5)


# --- the base image -----------------------------------------------------------------------

def debian_mirror(suite: str = SUITE) -> str:
    """The Debian archive the host's apt uses (deb822 .sources or one-line .list files)."""
    apt = Path("/etc/apt")
    candidates: list[tuple[str, list[str]]] = []  # (uri, suites)
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text(errors="replace")):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    candidates.append((uri, fields.get("suites", "").split()))
    lists = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]
    for path in lists:
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                candidates.append((words[1], [words[2]]))
    for uri, suites in candidates:
        # the main archive: it carries the release itself, not only -security or -updates
        if suite in suites and "security" not in uri:
            return uri
    for uri, suites in candidates:
        if any(s.startswith(suite) for s in suites) and "security" not in uri:
            return uri
    raise DockerKitError(f"no Debian mirror for {suite} in the host's apt sources")


def try_pull(docker: Docker, ref: str) -> bool:
    if docker.image_exists(ref):
        return True
    try:
        return docker("pull", ref, timeout=300, check=False).returncode == 0
    except DockerKitError:
        return False


def make_local_base(docker: Docker, tag: str = LOCAL_BASE) -> None:
    """debootstrap a minimal bookworm with python3 and import it as an image."""
    ensure_debootstrap_installed()
    root = cache_root()
    debs = root / "debootstrap-debs"
    debs.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=root))
    rootfs = work / "rootfs"
    try:
        run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
             f"--cache-dir={debs}", SUITE, str(rootfs), debian_mirror()], timeout=1800)
        # the host's own CAs (a proxy's, a company's) are trusted in the image as on the host
        host_cas = Path("/usr/local/share/ca-certificates")
        if host_cas.is_dir():
            shutil.copytree(host_cas, rootfs / "usr/local/share/ca-certificates",
                            dirs_exist_ok=True)
        run(["chroot", str(rootfs), "update-ca-certificates"], timeout=300)
        # what apt downloaded is not part of the image
        for leftover in [*(rootfs / "var/cache/apt/archives").glob("*.deb"),
                         *(rootfs / "var/cache/apt").glob("*.bin"),
                         *(p for p in (rootfs / "var/lib/apt/lists").iterdir() if p.is_file())]:
            leftover.unlink()
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert tar.stdout is not None and tar.stderr is not None
        try:
            imported = subprocess.run(
                [shutil.which("docker") or "docker", "import", "--change", "ENV LANG=C.UTF-8",
                 "--change", 'CMD ["/bin/bash"]', "-", tag],
                stdin=tar.stdout, capture_output=True, env=docker.env, timeout=900, check=False)
        finally:
            tar.stdout.close()
            tar_err = tar.stderr.read()
            tar.stderr.close()
            tar.wait(timeout=300)
        if tar.returncode != 0 or imported.returncode != 0:
            raise DockerKitError(f"importing the rootfs failed: tar {tar.returncode} "
                                 f"{tail(tar_err)}; docker import {imported.returncode} "
                                 f"{tail(imported.stderr)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def base_image(docker: Docker) -> tuple[str, str]:
    """(image, how it came): FEATUREMAPS_DOCKER_BASE, the official one, or a local one."""
    configured = os.environ.get("FEATUREMAPS_DOCKER_BASE")
    if configured:
        if not (docker.image_exists(configured) or try_pull(docker, configured)):
            raise DockerKitError(f"FEATUREMAPS_DOCKER_BASE={configured} is not available")
        return configured, "configured"
    if docker.image_exists(LOCAL_BASE):
        return LOCAL_BASE, "cached"
    if try_pull(docker, OFFICIAL_BASE):
        return OFFICIAL_BASE, "pulled"
    make_local_base(docker)
    return LOCAL_BASE, "debootstrap"


# --- the build context --------------------------------------------------------------------

def copy_tracked_files(dest: Path, repo: Path = REPO_ROOT) -> None:
    """The repository's files as git sees them (tracked and new, not ignored): no .venv,
    no data cache, no wheels but .gitkeep, exactly what a clean clone plus edits has."""
    listed = run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others",
                  "--exclude-standard"], timeout=60).stdout
    for name in filter(None, listed.split("\0")):
        src = repo / name
        if not src.is_file() and not src.is_symlink():
            continue  # deleted in the working tree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)


def download_wheels(ctx: Path) -> list[str]:
    """Every wheel the image installs, fetched by the host's pip with its own index
    settings, as docs/docker.md's offline build does: first the very torch the tests run
    (2.13.0+cpu), then the releases of requirements.lock (which the tests' venv runs too),
    for which that torch in wheels/ outranks an index's plain 2.13.0, the CUDA build."""
    wheels = ctx / "wheels"
    wheels.mkdir(exist_ok=True)
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                "--dest", str(wheels)]
    run([*download, "--no-deps", f"torch=={version('torch')}"], timeout=1200)
    run([*download, "--find-links", str(wheels), "-r", str(ctx / "requirements.lock")],
        timeout=1200)
    return sorted(p.name for p in wheels.glob("*.whl"))


def shipped_variants(repo: Path = REPO_ROOT) -> list[str]:
    """The variants with a card in models/, in the family's order: what the image must serve
    without being told."""
    from app.ml.registry import shipped_variants as shipped

    return shipped(repo / "models")


@dataclass
class Built:
    """The image the session built, and the context it was built from."""

    docker: Docker
    image: str
    base: str
    context: Path
    build_log: str


# --- containers and HTTP ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(method: str, url: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, str, bytes]:
    """(status, content type, body) of one request."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers.get("content-type", ""), resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers.get("content-type", ""), exc.read()


@dataclass
class Container:
    docker: Docker
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inspect(self) -> dict[str, Any]:
        out = self.docker("inspect", self.name, timeout=30).stdout
        data: list[dict[str, Any]] = json.loads(out)
        return data[0]

    def logs(self) -> str:
        done = self.docker("logs", self.name, timeout=30, check=False)
        return done.stdout + done.stderr

    def wait_healthz(self, timeout: float = 180) -> dict[str, Any]:
        """Poll GET /healthz until it answers 200; fail early if the container exits."""
        deadline = time.monotonic() + timeout
        last: str = ""
        while time.monotonic() < deadline:
            try:
                status, _, body = fetch("GET", f"{self.url}/healthz", timeout=5)
                if status == 200:
                    result: dict[str, Any] = json.loads(body)
                    return result
                last = f"HTTP {status}: {body[:200]!r}"
            except (OSError, HTTPException) as exc:
                last = repr(exc)
            if not self.inspect()["State"]["Running"]:
                raise DockerKitError(f"container {self.name} exited:\n{tail(self.logs())}")
            time.sleep(0.5)
        raise DockerKitError(f"/healthz did not answer in {timeout:.0f}s ({last}):\n"
                             f"{tail(self.logs())}")

    def wait_health_status(self, wanted: str = "healthy", timeout: float = 120) -> str:
        """Docker's own HEALTHCHECK verdict (State.Health.Status)."""
        deadline = time.monotonic() + timeout
        status = "none"
        while time.monotonic() < deadline:
            health = self.inspect()["State"].get("Health") or {}
            status = str(health.get("Status", "none"))
            if status == wanted:
                return status
            time.sleep(1)
        return status


LABEL = "featuremaps.smoke-test"


@contextlib.contextmanager
def container(docker: Docker, image: str, *run_args: str,
              inside: int = 8000) -> Iterator[Container]:
    """`docker run -d` with its port `inside` published on 127.0.0.1 only; always removed
    afterwards."""
    port = free_port()
    name = f"featuremaps-smoke-{os.getpid()}-{port}"
    docker("run", "-d", "--name", name, "--label", LABEL, "-p", f"127.0.0.1:{port}:{inside}",
           *run_args, image, timeout=120)
    try:
        yield Container(docker, name, port)
    finally:
        docker("rm", "-f", name, timeout=120, check=False)


def remove_stale_containers(docker: Docker) -> None:
    """Containers an interrupted earlier run of this test left behind (by label)."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}", timeout=60).stdout.split()
    if ids:
        docker("rm", "-f", *ids, timeout=120, check=False)
