"""Output files written whole or not at all, for the commands that write them (`extract`,
`train`, `evaluate --shifts`).

Each file is written to a hidden temporary file in its own folder (`.<name>.<random>.tmp`)
and renamed onto its name once complete: a rename within a file system is atomic, so an
interrupt, a full disk or a crash never leaves a truncated file, nor destroys the file that
was there. Only a process killed outright (SIGKILL, power loss) while it writes can leave a
temporary file behind (`app/cli.py` ends on SIGTERM and SIGHUP as on Ctrl-C), never the
target. Paths are checked, and the folder probed with a file created and removed, before a
command's work, so that minutes of work are not thrown away for a bad path at the end.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from app.ml.errors import OutputError


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _check_ancestors(folder: Path, target: Path) -> None:
    """The nearest existing one of `folder` and its parents must be a folder: mkdir would
    say 'File exists' or 'Not a directory' for a file there."""
    for path in (folder, *folder.parents):
        try:
            if not path.exists():
                continue
            if not path.is_dir():
                where = f"in {target}" if target == folder else str(target)
                raise OutputError(f"cannot write {where}: {path} is not a folder")
        except OSError as exc:  # e.g. a parent that may not be searched
            raise OutputError(f"cannot write {target}: {_reason(exc)}") from exc
        return


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


NAME_MAX = 255  # bytes in a file's name, on Linux's file systems and macOS's


def temporary(target: Path, named: str | None = None) -> Path:
    """A new, empty hidden file beside `target`, made with the mode a plain open() gives
    (0666 less the umask; tempfile's are 0600). An error names `named`, else `target`."""
    # its name within a file system's 255 bytes where the target's is (a review: a name of
    # 242 bytes or more could not be written); the random part tells temporaries apart
    stem = target.name
    while len(os.fsencode(stem)) > NAME_MAX - len(".12345678.tmp") - 1:
        stem = stem[:-1]  # whole characters: macOS refuses half of one
    while True:
        path = target.with_name(f".{stem}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot write {named or target}: {_reason(exc)}") from exc
        return path


def refuse_not_file(target: Path, example: str) -> None:
    """An OutputError when `target` exists and is not a file: a folder, suggesting the file
    name `example` in it, or a device, pipe or socket, which a command that writes a file
    and renames it into place cannot write to (a review: `extract /dev/null` wrote
    /dev/null.npz). Nor is the command's own standard output or error, whatever it is (a
    review: `--out /dev/stdout > log` would have written /dev/stdout.json)."""
    try:
        found = target.stat()
    except ValueError:  # a NUL in the name: said by the checks that follow
        return
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EBADF):
            return  # not there, or a link loop: said by the checks that follow
        raise OutputError(f"cannot write {target}: {_reason(exc)}") from exc
    for fd, stream in ((1, "standard output"), (2, "standard error")):
        with contextlib.suppress(OSError):  # closed
            if os.path.samestat(found, os.fstat(fd)):
                raise OutputError(f"{target} is this command's {stream}: the results are "
                                  f"written to a file; give a file name, e.g. {example}")
    mode = found.st_mode
    if stat.S_ISDIR(mode):
        raise OutputError(f"{target} is a folder: give a file name, e.g. {target / example}")
    if not stat.S_ISREG(mode):
        kind = ("a character device" if stat.S_ISCHR(mode) else "a block device"
                if stat.S_ISBLK(mode) else "a pipe" if stat.S_ISFIFO(mode)
                else "a socket")
        raise OutputError(f"{target} is {kind}, not a file: the results are written to a "
                          f"file; give a file name, e.g. {example}")


def output_target(given: str | Path, suffix: str, example: str,
                  reads: dict[Path, str] | None = None) -> Path:
    """Where a command writes the file `given`: with `suffix` added when it has another or
    none (as np.savez adds .npz: `maps.v2` is maps.v2.npz), checked before any work, so that
    a long run is not thrown away at the end for a bad path (check_file). A path that ends
    with a slash names a folder, existing or not (`extract out/` wrote out.npz); an existing
    folder is refused before the suffix (`extract /tmp` wrote /tmp.npz). `example` is the
    file name suggested in the folder. `reads`: {path: what it is} of the files the command
    reads, which it may not write over (the MNIST cache, a model card), refused before the
    folder is tried (a review: a probe file was made and removed in the data's folder)."""
    if not str(given):  # Path("") is ".", the folder the command runs in
        raise OutputError(f"an empty name: give a file name, e.g. {example}")
    if str(given) == "-":  # not a file called "-.npz" (a CLI review)
        raise OutputError(f"- (standard output) is not written to: give a file name, e.g. "
                          f"{example}")
    out = Path(given)
    if isinstance(given, str) and given.endswith(("/", os.sep)):
        raise OutputError(f"{given} names a folder: give a file name, e.g. {out / example}")
    refuse_not_file(out, example)
    target = out if out.suffix.lower() == suffix else out.with_name(out.name + suffix)
    for path, what in (reads or {}).items():
        if _same_file(target, path):
            raise OutputError(f"{target} is {what}, which this command reads: write to another "
                              f"file, e.g. {example}")
    check_file(target, example)
    return target


def _same_file(a: Path, b: Path) -> bool:
    """Whether paths `a` and `b` lead to one file; a link loop on the way leads to none
    (check_file then says so: a review found Path.resolve's RuntimeError a traceback)."""
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def real_path(target: Path) -> Path:
    """Where writing `target` lands: the path with every symbolic link on its way followed,
    folders' and the file's own (a loop is an OutputError), as realpath does, but with
    each link checked as it is met (_trusted_link): another user's link in a shared folder
    is an OutputError, at any step. The kernel checks only a path's last link against its
    rule for shared folders (found by a second review), and none that is resolved here."""
    try:
        pending = list(target.absolute().parts)
        path, hops = Path(pending.pop(0)), 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                path = path.parent
                continue
            step = path / part
            if not step.is_symlink():
                path = step
                continue
            _trusted_link(step)
            hops += 1
            if hops > MAX_LINKS:
                raise RuntimeError(f"more than {MAX_LINKS} links on the way")
            to = Path(os.readlink(step))
            if to.is_absolute():
                path = Path(to.anchor)
            pending[:0] = [p for p in to.parts if p != to.anchor]
        return path
    except (RuntimeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENAMETOOLONG, errno.EACCES):
            # not a link's fault (a review: a name of 252 characters, 256 with .npz, was
            # called a link that leads nowhere)
            raise OutputError(f"cannot write {target}: {_reason(exc)}") from exc
        raise OutputError(f"cannot write {target}: a symbolic link that leads nowhere "
                          f"({exc})") from exc


MAX_LINKS = 40  # as Linux follows at most


def _trusted_link(link: Path) -> None:
    """The kernel's rule for links in a sticky folder anyone may write to (/tmp), which it
    cannot apply here, as the link is resolved before the file is opened: another user's
    link there is not followed, or they could have a file of ours replaced by our output
    (found by a review). Followed where we or the folder's owner made it."""
    folder = link.parent.stat()
    if not (folder.st_mode & stat.S_ISVTX and folder.st_mode & stat.S_IWOTH):
        return
    if link.lstat().st_uid not in (os.geteuid(), folder.st_uid):
        raise OutputError(f"{link} is a symbolic link another user made in a shared folder "
                          f"({link.parent}): it is not followed; give another name")


def check_file(target: Path, example: str) -> None:
    """`target` can be written: not a folder, its folder (a link's target's) made if missing,
    a file can be created there (probed with a temporary one, removed at once), and a file
    already there may be replaced. Replacing is a rename, which needs the folder's write
    permission, not the file's: a read-only file is replaced, as `mv` would; but in a sticky
    folder (/tmp) only its owner, the folder's, or root may, which would otherwise be found
    out only after the work."""
    real = real_path(target)
    refuse_not_file(real, example)
    check_folder(real.parent, target)
    try:
        if not real.exists():
            return
        owner = real.stat().st_uid
        folder = real.parent.stat()
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {_reason(exc)}") from exc
    euid = os.geteuid()
    if folder.st_mode & stat.S_ISVTX and euid not in (0, owner, folder.st_uid):
        raise OutputError(f"cannot write {target}: it belongs to another user, in a folder "
                          "where only a file's owner may replace it")


_made: list[Path] = []  # folders check_folder made in this command, outermost first


def _make(folder: Path) -> None:
    """`folder` and its missing parents made, as mkdir -p would, each one this made noted
    for remove_made_folders (one that another process made meanwhile is not ours)."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        _made.append(path)


def remove_made_folders() -> None:
    """Removes the folders that check_folder made in this process and that are still empty,
    deepest first, and forgets them all: a command that fails after its checks leaves no
    empty folders behind (a review: `extract new/deep/maps.npz` interrupted left new/deep)."""
    while _made:
        with contextlib.suppress(OSError):  # holds a file now, or is gone
            _made.pop().rmdir()


def forget_made_folders() -> None:
    """The folders made so far are kept whatever follows (a command that succeeded)."""
    _made.clear()


def check_folder(folder: Path, target: Path | None = None) -> None:
    """Files can be created in `folder` (made if missing); errors name `target`, or the
    folder itself."""
    named = target if target is not None else folder
    _check_ancestors(folder, named)
    # a folder alone is named as such, not by the probe's made-up name (a review: "cannot
    # write models/probe")
    said = str(target) if target is not None else f"in {folder}"
    try:
        _make(folder)
    except OSError as exc:
        raise OutputError(f"cannot write {said}: {_reason(exc)}") from exc
    probe = temporary(folder / (target.name if target is not None else "probe"), named=said)
    with contextlib.suppress(OSError):
        probe.unlink()


@contextlib.contextmanager
def replacing(*targets: Path) -> Iterator[list[Path]]:
    """Temporary files beside `targets`, to be written in the block; when it ends without an
    error each is renamed onto its target, in the order given, and otherwise (an error or an
    interrupt, KeyboardInterrupt included) all are removed, as are any not yet renamed when a
    rename fails. An OSError becomes an OutputError naming the targets.

    A target that is a symbolic link has the file it points to replaced, not the link; a file
    replaced keeps its permission bits (a card that the server's user reads stays readable
    whatever the writer's umask).

    Several targets are not replaced at once: a process stopped between two renames leaves
    the earlier ones new and the later ones old. Give the file that vouches for the others
    (a model card, which holds its weights' sha256) last."""
    temps: list[Path] = []
    targets = tuple(real_path(t) for t in targets)
    try:
        for target in targets:
            temps.append(temporary(target))
        yield temps
        for temp, target in zip(temps, targets, strict=True):
            with contextlib.suppress(FileNotFoundError):  # a new file keeps the umask's mode
                os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
            _sync(temp)  # on disk before the renames, or a crash could leave them empty
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
    except OSError as exc:
        named = ", ".join(str(t) for t in targets)
        raise OutputError(f"cannot write {named}: {_reason(exc)}") from exc
    finally:
        for temp in temps:  # those renamed are gone already
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
