"""Output files are written whole or not at all, and bad paths are named before the work."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from app.ml import files
from app.ml.errors import OutputError


def test_a_finished_write_replaces_the_file_with_a_plain_files_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    with files.replacing(target) as (temp,):
        assert temp.parent == tmp_path and temp.name.startswith(".out.json.")
        assert temp.name.endswith(".tmp")
        temp.write_text("new")
        assert target.read_text() == "old"  # untouched until the block ends
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not tempfile's 0600


def test_a_name_as_long_as_a_file_system_takes_can_be_written(tmp_path: Path) -> None:
    """Found by a review: the temporary file's name added 14 bytes to the target's, and a
    name of 242 to 255 bytes could not be written, though `touch` makes it."""
    target = tmp_path / ("é" * 125 + ".npz")  # 254 bytes, the last é's cut in two below
    with files.replacing(target) as (temp,):
        assert len(os.fsencode(temp.name)) <= files.NAME_MAX
        temp.write_text("new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == [target.name]


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left "
                                                                            "on device")])
def test_a_stopped_write_keeps_the_old_file_and_leaves_no_temporary(
        tmp_path: Path, stop: BaseException) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    raised = type(stop) if isinstance(stop, KeyboardInterrupt) else OutputError
    with pytest.raises(raised) as exc, files.replacing(target) as (temp,):
        temp.write_text("half of the n")
        raise stop
    if isinstance(stop, OSError):
        assert str(exc.value) == f"cannot write {target}: No space left on device"
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.json"]


def test_files_are_renamed_in_the_order_given(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The second rename fails: the first file is new, the second old, no temporary left."""
    first, second = tmp_path / "a.bin", tmp_path / "a.json"
    first.write_text("old a")
    second.write_text("old card")
    renames: list[str] = []
    replace = os.replace

    def failing(src: Path, dst: Path) -> None:
        renames.append(Path(dst).name)
        if len(renames) == 2:
            raise OSError(errno.EIO, "Input/output error")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OutputError, match=r"^cannot write .*a\.bin, .*a\.json: Input/output"), \
            files.replacing(first, second) as (a, card):
        a.write_text("new a")
        card.write_text("new card")
    assert renames == ["a.bin", "a.json"]
    assert (first.read_text(), second.read_text()) == ("new a", "old card")
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "a.json"]


def test_bad_paths_are_named(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(OutputError) as exc:
        files.check_file(a_file / "sub" / "x.json", "x.json")
    # mkdir would say "File exists" (or "Not a directory")
    assert str(exc.value) == f"cannot write {a_file / 'sub' / 'x.json'}: {a_file} is not a folder"
    with pytest.raises(OutputError) as exc:
        files.check_folder(a_file)
    assert str(exc.value) == f"cannot write in {a_file}: {a_file} is not a folder"
    with pytest.raises(OutputError) as exc:
        files.check_file(tmp_path, "x.json")
    assert str(exc.value) == f"{tmp_path} is a folder: give a file name, e.g. {tmp_path}/x.json"


def test_a_checked_path_gets_its_folder_and_no_file(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "x.json"
    files.check_file(target, "x.json")
    assert target.parent.is_dir() and os.listdir(target.parent) == []  # the probe is gone


@pytest.mark.parametrize(("given", "written"), [
    ("curves", "curves.png"), ("curves.PNG", "curves.PNG"),
    ("run.2026.11.30", "run.2026.11.30.png"), ("sub/curves", "sub/curves.png")])
def test_an_output_gets_its_suffix(tmp_path: Path, given: str, written: str) -> None:
    """--plot and extract's output: the suffix added to a name that has another or none."""
    target = files.output_target(str(tmp_path / given), ".png", "shift-accuracy.png")
    assert target == tmp_path / written
    assert not target.exists() and target.parent.is_dir()


def test_a_replaced_file_keeps_its_mode_and_a_link_its_link(tmp_path: Path) -> None:
    """Found by a review: under a umask of 077 a card that the server's user could read came
    back 0600, and a symbolic link was replaced by a plain file."""
    target = tmp_path / "card.json"
    target.write_text("old")
    target.chmod(0o644)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    umask = os.umask(0o077)
    try:
        with files.replacing(link) as (temp,):
            temp.write_text("new")
    finally:
        os.umask(umask)
    assert link.is_symlink() and target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o644
    assert sorted(os.listdir(tmp_path)) == ["card.json", "link.json"]


def test_another_users_file_in_a_sticky_folder_is_found_before_the_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Renaming over a file in a sticky folder (/tmp) is for its owner, the folder's, or
    root: anyone else's rename fails, which was found out only after the work. Tests run as
    root, so the user is stood in for by geteuid."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    target = folder / "maps.npz"
    target.write_bytes(b"theirs")
    os.chown(target, 12345, 12345)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(OutputError, match=f"cannot write {target}: it belongs to another user"):
        files.check_file(target, "maps.npz")
    assert target.read_bytes() == b"theirs"
    monkeypatch.setattr(os, "geteuid", lambda: 12345)  # its owner may
    files.check_file(target, "maps.npz")
    folder.chmod(0o777)  # no sticky bit: the folder's write permission is enough
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    files.check_file(target, "maps.npz")


def test_a_read_only_file_is_replaced_as_mv_would(tmp_path: Path) -> None:
    target = tmp_path / "shifts.json"
    target.write_text("old")
    target.chmod(0o444)
    files.check_file(target, "shifts.json")
    with files.replacing(target) as (temp,):
        temp.write_text("new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o444


def test_links_that_lead_nowhere_are_found_before_the_work(tmp_path: Path) -> None:
    """Found by a review: a link to itself raised RuntimeError (a traceback) after the work,
    and a link into a missing folder passed the check and failed at the end."""
    loop = tmp_path / "loop.npz"
    loop.symlink_to(loop)
    with pytest.raises(OutputError, match="a symbolic link that leads nowhere"):
        files.check_file(loop, "maps.npz")
    with pytest.raises(OutputError, match="a symbolic link that leads nowhere"), \
            files.replacing(loop):
        pass
    dangling = tmp_path / "out.json"
    dangling.symlink_to(tmp_path / "made" / "here.json")
    files.check_file(dangling, "out.json")  # the folder it points into is made
    with files.replacing(dangling) as (temp,):
        temp.write_text("new")
    assert (tmp_path / "made" / "here.json").read_text() == "new" and dangling.is_symlink()


@pytest.mark.parametrize(("length", "named"), [(252, ".npz"), (260, "")])
def test_a_name_too_long_is_said_so_not_blamed_on_a_link(tmp_path: Path, length: int,
                                                         named: str) -> None:
    """Found by a CLI review: a name of 252 characters, 256 once .npz is added, was called
    a symbolic link that leads nowhere; one of 260 was said to be too long."""
    given = tmp_path / ("a" * length)
    with pytest.raises(OutputError) as exc:
        files.output_target(given, ".npz", "maps.npz")
    assert str(exc.value) == f"cannot write {given}{named}: File name too long"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="making a link owned by another user takes root")
def test_another_users_link_in_a_shared_folder_is_not_followed(tmp_path: Path) -> None:
    """Found by a review: `featuremaps extract /tmp/maps.npz` followed a link another user
    had left there and replaced the file it pointed to (any file we may write) with maps."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    link = shared / "maps.npz"
    link.symlink_to(victim)
    os.lchown(link, 65534, 65534)  # nobody's
    with pytest.raises(OutputError, match="is a symbolic link another user made in a shared "
                                          "folder"):
        files.check_file(link, "maps.npz")
    with pytest.raises(OutputError, match="another user made"), files.replacing(link) as (temp,):
        temp.write_text("maps")
    assert victim.read_text() == "mine"
    ours = shared / "ours.npz"  # our own link, to theirs: the second hop is theirs
    ours.symlink_to(link)
    with pytest.raises(OutputError, match=f"{link} is a symbolic link another user made"):
        files.check_file(ours, "maps.npz")
    # their link to a folder, on the way: the kernel checks only a path's last link
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "maps.npz").symlink_to(victim)
    folder = shared / "out"
    folder.symlink_to(tmp_path / "theirs")
    os.lchown(folder, 65534, 65534)
    with pytest.raises(OutputError, match=f"{folder} is a symbolic link another user made"):
        files.check_file(folder / "maps.npz", "maps.npz")
    os.lchown(link, os.geteuid(), os.getegid())  # our own link is followed, as before
    with files.replacing(link) as (temp,):
        temp.write_text("maps")
    assert victim.read_text() == "maps"


def test_links_on_the_way_are_followed_as_realpath_follows_them(tmp_path: Path) -> None:
    """The walk that checks each link lands where os.path.realpath does: folder links,
    relative links, links to links, and '..' after a link (the link's target's parent)."""
    (tmp_path / "real" / "deep").mkdir(parents=True)
    (tmp_path / "via").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "file.npz").write_text("old")
    (tmp_path / "via" / "link.npz").symlink_to("file.npz")  # relative, as ln -s writes it
    (tmp_path / "up").symlink_to("real/deep")
    (tmp_path / "chain.npz").symlink_to(tmp_path / "via" / "link.npz")
    for given in ("via/maps.npz", "via/link.npz", "up/../file.npz", "chain.npz",
                  "via/deep/../link.npz", "new/maps.npz"):
        target = tmp_path / given
        assert files.real_path(target) == Path(os.path.realpath(target)), given
    with files.replacing(tmp_path / "chain.npz") as (temp,):
        temp.write_text("new")
    assert (tmp_path / "real" / "file.npz").read_text() == "new"


def test_a_folder_that_refuses_files_is_named_not_its_probe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A review: training into a read-only folder said "cannot write models/probe", a file
    the user never named. (A read-only folder does not stop root, who runs these tests: the
    refusal is stood in for.)"""
    def refused(path: Any, *args: Any) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refused)
    with pytest.raises(OutputError) as caught:
        files.check_folder(tmp_path)
    assert str(caught.value) == f"cannot write in {tmp_path}: Permission denied"


@pytest.mark.parametrize(("given", "said"), [
    ("/dev/null", "/dev/null is a character device, not a file"),
    ("pipe", "{tmp}/pipe is a pipe, not a file"),
    ("maps", "{tmp}/maps.npz is a pipe, not a file"),  # the name once .npz is added
    ("link", "{tmp}/link is a pipe, not a file"),  # a link to one
])
def test_a_device_or_pipe_is_no_output(tmp_path: Path, given: str, said: str) -> None:
    """Found by a CLI review: `featuremaps extract /dev/null` wrote /dev/null.npz (as root,
    a file in /dev), and a pipe would be replaced by a file, as the output is renamed into
    place."""
    os.mkfifo(tmp_path / "pipe")
    os.mkfifo(tmp_path / "maps.npz")
    (tmp_path / "link").symlink_to(tmp_path / "pipe")
    path = given if given.startswith("/") else str(tmp_path / given)
    with pytest.raises(OutputError) as exc:
        files.output_target(path, ".npz", "maps.npz")
    assert str(exc.value) == (said.format(tmp=tmp_path) + ": the results are written to a "
                              "file; give a file name, e.g. maps.npz")


@pytest.mark.parametrize(("fd", "stream"), [(1, "standard output"), (2, "standard error")])
def test_the_commands_own_output_is_no_output_file(tmp_path: Path, fd: int,
                                                   stream: str) -> None:
    """Found by a review: `featuremaps evaluate --shifts --out /dev/stdout > log` passed the
    check, its standard output being a file, and would have written /dev/stdout.json."""
    log = tmp_path / "log"
    saved = os.dup(fd)
    try:
        with log.open("w") as f:
            os.dup2(f.fileno(), fd)  # the command run as `> log`
        with pytest.raises(OutputError) as exc:
            files.output_target(f"/dev/fd/{fd}", ".json", "shifts.json")
        with pytest.raises(OutputError):
            files.output_target(log, ".json", "shifts.json")  # by its own name too
    finally:
        os.dup2(saved, fd)
        os.close(saved)
    assert str(exc.value) == (f"/dev/fd/{fd} is this command's {stream}: the results are "
                              "written to a file; give a file name, e.g. shifts.json")
