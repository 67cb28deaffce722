"""zeronet._files.atomic_file, which writes checkpoints, results.json and downloads: through
symbolic links, never onto a device or fifo, with the umask's or the old file's mode, for any
legal name; SIGINT and SIGTERM injected at each dangerous instant leave the old or the new
file and no temporary file; a killed writer's leftover is removed, a live writer's kept."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import zeronet as zn
from zeronet import _files
from zeronet._files import DestinationError, atomic_file, check_destination, remove_leftovers

FILES = Path(_files.__file__)
LONGEST = "a" * 251 + ".npz"                 # 255 bytes: the longest legal name
LONGEST_UTF8 = "é" * 126 + "abc"             # 255 bytes in UTF-8, 129 characters


def write(path: Path, content: bytes = b"new") -> None:
    with atomic_file(path) as file:
        file.write(content)


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


# ---------------------------------------------------------------- where and how the file lands

def test_a_symlink_is_written_through_to_its_target_and_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "c").write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(Path("real") / "c")
    write(link)
    assert link.is_symlink()
    assert os.readlink(link) == str(Path("real") / "c")
    assert (tmp_path / "real" / "c").read_bytes() == b"new"
    assert names(tmp_path) == ["link", "real"]
    assert names(tmp_path / "real") == ["c"]


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "target")
    write(tmp_path / "link")
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "target").read_bytes() == b"new"


def test_a_checkpoint_saved_through_a_symlink_loads_through_it(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "target")
    model = zn.nn.relu_mlp((2, 3), rng=np.random.default_rng(0))
    zn.save_checkpoint(tmp_path / "link", model)
    assert (tmp_path / "link").is_symlink()
    assert zn.load_checkpoint(tmp_path / "target", model) == {}


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def unix_socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return path


@pytest.mark.parametrize(("make", "kind"), [
    (fifo, "a fifo"), (unix_socket, "a socket"), (lambda p: p.mkdir() or p, "a folder")])
def test_a_path_that_is_not_a_regular_file_is_refused_and_left_alone(tmp_path: Path, make,
                                                                     kind: str) -> None:
    path = make(tmp_path / "x")
    before = os.lstat(path)
    for call in (write, check_destination):
        with pytest.raises(DestinationError, match=rf"^{path}: exists and is {kind}, not a "
                                                   "regular file"):
            call(path)
    after = os.lstat(path)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert names(tmp_path) == ["x"]


def test_dev_null_and_a_link_to_it_are_refused(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/dev/null")
    with pytest.raises(DestinationError, match=r"^/dev/null: exists and is a character device"):
        check_destination(Path("/dev/null"))
    with pytest.raises(DestinationError, match=rf"^{tmp_path}/link \(a link to /dev/null\): "
                                               "exists and is a character device"):
        check_destination(tmp_path / "link")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_loop_of_links_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(DestinationError, match="loop of symbolic links"):
        write(tmp_path / "a")


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_0666_less_the_umask(tmp_path: Path, umask: None, mask: int,
                                             mode: int) -> None:
    os.umask(mask)
    write(tmp_path / "c")
    assert stat.S_IMODE(os.stat(tmp_path / "c").st_mode) == mode


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o400])
def test_a_replaced_file_keeps_its_mode_and_owner(tmp_path: Path, umask: None,
                                                  mode: int) -> None:
    path = tmp_path / "c"
    path.write_bytes(b"old")
    owner = (12345, 23456) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(path, *owner)
    path.chmod(mode)
    write(path)
    info = os.stat(path)
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, *owner)
    assert path.read_bytes() == b"new"


@pytest.mark.parametrize("name", [LONGEST, LONGEST_UTF8], ids=["ascii", "utf-8"])
def test_the_longest_legal_name_works(tmp_path: Path, name: str) -> None:
    assert len(os.fsencode(name)) == 255
    write(tmp_path / name, b"old")
    write(tmp_path / name)
    assert names(tmp_path) == [name]
    assert (tmp_path / name).read_bytes() == b"new"
    assert check_destination(tmp_path / name) == tmp_path / name


def test_a_writer_in_another_thread_works_and_handlers_are_restored(tmp_path: Path) -> None:
    before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    errors: list[BaseException] = []

    def run() -> None:
        try:
            write(tmp_path / "c")
        except BaseException as exc:
            errors.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert errors == []
    assert (tmp_path / "c").read_bytes() == b"new"
    write(tmp_path / "d")
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == before


def test_check_destination_refuses_a_missing_or_unwritable_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DestinationError, match=rf"^{tmp_path}/no/c: folder {tmp_path}/no does "
                                               "not exist"):
        check_destination(tmp_path / "no" / "c")
    (tmp_path / "link").symlink_to(tmp_path / "no" / "c")
    with pytest.raises(DestinationError, match=r"link \(a link to .*/no/c\): folder .* does "
                                               "not exist"):
        check_destination(tmp_path / "link")
    # root may write anywhere: os.access says what it says for anyone else
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(DestinationError, match=rf"^{tmp_path}/c: folder {tmp_path} is not "
                                               "writable"):
        check_destination(tmp_path / "c")


# ---------------------------------------------------------------- signals at each instant

# Runs zeronet/_files.py alone (standard library only: a fast start) in a fresh process and
# sends the signal from inside the call named by argv[3], exactly there.
SIGNALLED = r'''
import fcntl, importlib.util, os, signal, sys
spec = importlib.util.spec_from_file_location("files", sys.argv[1])
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
path, instant, signum = sys.argv[2], sys.argv[3], int(sys.argv[4])
if sys.argv[5] == "handler":  # as zeronet report and train do: SIGTERM -> exit status 143
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
kill = lambda: os.kill(os.getpid(), signum)

def around(owner, name, before=False, when=lambda *a: True, times=[0]):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        if when(*args):
            before and kill()
            result = real(*args, **kwargs)
            before or kill()
            return result
        return real(*args, **kwargs)
    setattr(owner, name, wrapper)

temp = lambda p, *a: str(p).endswith(files.SUFFIX)
if instant == "create":
    around(os, "open", when=temp)
elif instant == "lock":
    around(fcntl, "flock")
elif instant == "fsync":
    around(os, "fsync", when=lambda fd: not os.path.isdir(f"/proc/self/fd/{fd}"))
elif instant == "rename":
    around(os, "replace", before=True)
elif instant == "renamed":
    around(os, "replace")
elif instant == "fsync-folder":
    around(os, "fsync", when=lambda fd: os.path.isdir(f"/proc/self/fd/{fd}"))
elif instant == "cleanup":
    around(os, "unlink", before=True)
with files.atomic_file(__import__("pathlib").Path(path)) as file:
    file.write(b"ne")
    if instant in ("write", "cleanup"):
        kill()
    file.write(b"w")
print("not interrupted")
'''
BEFORE = ["create", "lock", "write", "fsync", "cleanup"]  # the old file stays
AFTER = ["rename", "renamed", "fsync-folder"]              # the rename goes through


@pytest.mark.parametrize(("signum", "handler"), [
    (signal.SIGINT, "default"), (signal.SIGTERM, "default"), (signal.SIGTERM, "handler")],
    ids=["SIGINT", "SIGTERM", "SIGTERM-handler"])
@pytest.mark.parametrize("instant", BEFORE + AFTER)
def test_a_signal_at_any_instant_leaves_the_old_or_the_new_file_and_no_temp(
        tmp_path: Path, instant: str, signum: int, handler: str) -> None:
    path = tmp_path / "c"
    path.write_bytes(b"old")
    done = subprocess.run([sys.executable, "-c", SIGNALLED, str(FILES), str(path), instant,
                           str(signum), handler], capture_output=True, text=True, timeout=60)
    # ended by the signal itself, or by the program's handler for it
    assert done.returncode == (-signum if handler == "default" else 128 + signum), done.stderr
    assert "not interrupted" not in done.stdout
    assert path.read_bytes() == (b"old" if instant in BEFORE else b"new")
    assert names(tmp_path) == ["c"]


# ---------------------------------------------------------------- leftovers of killed writers

# Opens atomic_file(argv[2]), writes, then is SIGKILLed ("kill") or waits for a line on stdin
# and finishes ("wait").
WRITER = r'''
import importlib.util, os, pathlib, signal, sys
spec = importlib.util.spec_from_file_location("files", sys.argv[1])
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
with files.atomic_file(pathlib.Path(sys.argv[2])) as file:
    file.write(b"from the other process")
    file.flush()
    if sys.argv[3] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    print("writing", flush=True)
    sys.stdin.readline()
'''


def other_writer(path: Path, how: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(FILES), str(path), how],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("name", ["c", LONGEST, LONGEST_UTF8], ids=["short", "ascii", "utf-8"])
def test_a_killed_writers_temp_file_is_removed_by_the_next_write(tmp_path: Path,
                                                                 name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"old")
    with other_writer(path, "kill") as writer:
        writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    [left] = [n for n in names(tmp_path) if n != name]
    assert left.endswith(_files.SUFFIX)
    assert len(os.fsencode(left)) <= 255
    write(path)
    assert names(tmp_path) == [name]
    assert path.read_bytes() == b"new"


def test_a_live_writers_temp_file_is_never_removed(tmp_path: Path) -> None:
    path = tmp_path / "c"
    with other_writer(path, "wait") as writer:
        try:
            assert writer.stdout.readline() == "writing\n"
            [live] = names(tmp_path)
            assert remove_leftovers(path) == []
            write(path, b"mine")
            assert names(tmp_path) == sorted(["c", live])
            assert path.read_bytes() == b"mine"
        finally:
            writer.communicate("go\n", timeout=60)
    assert writer.returncode == 0
    assert names(tmp_path) == ["c"]
    assert path.read_bytes() == b"from the other process"


def test_only_this_paths_abandoned_temp_files_are_removed(tmp_path: Path) -> None:
    others = [".d.0123abcd.zeronet.part", ".c.0123abcd.part", ".c.0123abcd.zeronet.part.bak",
              ".c.0123abcdef.zeronet.part", "c.0123abcd.zeronet.part"]
    for name in [*others, ".c.0123abcd.zeronet.part"]:
        (tmp_path / name).write_bytes(b"")
    assert remove_leftovers(tmp_path / "c") == [tmp_path / ".c.0123abcd.zeronet.part"]
    assert names(tmp_path) == sorted(others)


def test_a_temp_file_a_remover_takes_before_it_is_locked_is_given_up_for_a_new_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_lock, raced = _files._lock, []

    def remover_first(fd: int) -> bool:  # another run's remover, in the instant before flock
        if not raced:
            raced.extend(remove_leftovers(tmp_path / "c"))
        return real_lock(fd)
    monkeypatch.setattr(_files, "_lock", remover_first)
    write(tmp_path / "c")
    assert len(raced) == 1
    assert names(tmp_path) == ["c"]
    assert (tmp_path / "c").read_bytes() == b"new"


def test_a_file_put_at_a_leftovers_name_while_the_remover_looks_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leftover = tmp_path / ".c.0123abcd.zeronet.part"
    leftover.write_bytes(b"dead writer's")
    real_flock = _files.fcntl.flock

    def replaced_first(fd: int, operation: int) -> None:  # a new file takes the name meanwhile
        leftover.unlink()
        leftover.write_bytes(b"live writer's")
        monkeypatch.setattr(_files.fcntl, "flock", real_flock)
        real_flock(fd, operation)
    monkeypatch.setattr(_files.fcntl, "flock", replaced_first)
    assert remove_leftovers(tmp_path / "c") == []
    assert leftover.read_bytes() == b"live writer's"
