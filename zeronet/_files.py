"""Writing a file so that it is either whole or absent: never half-written, never left behind.

:func:`atomic_file` writes a temporary file beside the destination and renames
it onto the destination when the content is complete. Around that one idea
sit the rules a careless user or an unlucky moment would otherwise break:

* **Where.** A destination that is a symbolic link is written *through*: the
  temporary file is made in the folder of the link's final target and renamed
  onto the target, so the link stays a link and the file it points at gets the
  new content. A destination that exists and is not a regular file (a folder,
  a character device such as ``/dev/null``, a fifo, a socket) is refused
  before anything is created: renaming onto it would replace it.
* **Mode.** A new file gets what ``open()`` would give it, 0o666 less the
  umask (the kernel applies the umask to the temporary file, which is created
  0o666; no umask is read, so no other thread sees it changed); a file that
  is replaced keeps its mode and, where permitted, its owner and group.
* **Names.** Any file name the file system accepts works: the temporary name
  is ``.<name>.<8 hex digits>.zeronet.part``, and where that would exceed the
  folder's longest name (255 bytes) ``<name>`` is cut short and ended with a
  hash of the whole name, so it is still the same for the same destination.
* **Signals.** SIGINT and SIGTERM arriving at any instant leave the old file
  or the new one, and no temporary file. For the time of one
  :func:`atomic_file`, both go to one Python handler of its own. In the two
  short steps that must not be cut in the middle (create the temporary file
  and remember it; rename it and forget it) it only notes the signal, which
  is delivered the moment the step is over. Elsewhere it does what the
  handler it replaced would do (Python's KeyboardInterrupt, or the program's
  own handler), which raises in the writer, and the temporary file is
  removed; a signal whose action is the system default (terminate) raises
  too, and once the temporary file is removed it is sent again with that
  action restored, so the process still ends by that signal. Masking the
  signals instead (``pthread_sigmask``) would not do: the mask is per
  thread, the kernel hands a masked signal to another thread, and CPython
  then runs the Python handler in the main thread all the same. Handlers are
  the main thread's alone, so a writer in another thread is never
  interrupted by these signals (the main thread is); there nothing is done.
* **Leftovers.** A process killed outright (SIGKILL, a power cut) cannot
  clean up. Each temporary file is held under an exclusive ``flock`` while it
  is written, so the next :func:`atomic_file` for the same destination (by way
  of :func:`remove_leftovers`) removes the temporary files whose lock it can
  take (their writer is gone) and never one that a live process holds.

The standard library's ``tempfile.mkstemp`` is not used: it creates files
0o600 whatever the umask, adds a fixed-length name that can exceed the limit,
and holds no lock a later run could test.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from zeronet._interrupts import SignalGuard

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so leftovers are never judged abandoned
    fcntl = None  # type: ignore[assignment]

#: The end of every temporary file's name.
SUFFIX = ".zeronet.part"
#: The longest file name assumed where the file system does not say (Linux, macOS: 255 bytes).
NAME_MAX = 255
_RANDOM_HEX = 8


class DestinationError(OSError):
    """A path that a file cannot be written to (found before any work is done)."""


def check_destination(path: Path) -> Path:
    """``path`` if a file can be written there; DestinationError, in one line, if not.

    Called before work whose result goes to ``path`` (e.g. before training
    starts), so that what :func:`atomic_file` would refuse, and a missing or
    read-only folder, is reported at once rather than after an epoch. The
    rules are :func:`atomic_file`'s: a symbolic link is judged by its final
    target (which need not exist yet) and the target's folder; an existing
    target must be a regular file; a long name is fine.
    """
    _target(path)
    return path


def _target(path: Path) -> Path:
    """The file that writing ``path`` replaces (``path``, or its link's final target), checked."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    shown = f"{path}" if target == path else f"{path} (a link to {target})"
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise DestinationError(f"{shown}: cannot be examined ({exc.strerror})") from None
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise DestinationError(f"{shown}: a loop of symbolic links, not a file")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise DestinationError(f"{shown}: exists and is {_kind(info.st_mode)}, not a regular "
                               "file; it is left as it is")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise DestinationError(f"{shown}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DestinationError(f"{shown}: folder {folder} is not writable")
    return target


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISFIFO: "a fifo", stat.S_ISSOCK: "a socket"}
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; it becomes ``path`` only on success.

    The content goes to a temporary ``.<name>.<random>.zeronet.part`` beside
    ``path`` (beside its target if ``path`` is a symbolic link); when the block
    ends normally it is flushed, fsynced and renamed onto the target
    (``os.replace``, atomic on one file system). If the block raises anything,
    Ctrl-C included, the temporary file is removed and ``path`` is left as it
    was. See the module docstring for links, modes, long names, signals and
    the leftovers of killed processes, which are removed first.

    Raises:
        DestinationError: naming ``path``, if it cannot be written (see
            :func:`check_destination`), before anything is created.
    """
    target = _target(path)
    folder = target.parent if str(target.parent) else Path(".")
    remove_leftovers(target)
    file: BinaryIO | None = None
    temp: Path | None = None
    renamed = False
    with SignalGuard() as signals:
        try:
            with signals.deferred():
                file, temp = _create_temp(folder, target)
            yield file
            file.flush()
            os.fsync(file.fileno())
            with signals.deferred():  # still locked: no remover can take it before the rename
                os.replace(temp, target)
                renamed = True
        except BaseException:
            with signals.deferred():
                if file is not None:
                    file.close()
                if temp is not None and not renamed:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temp)
            raise
        finally:
            if file is not None:
                file.close()
    with contextlib.suppress(OSError):  # make the rename itself durable, where supported
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _create_temp(folder: Path, target: Path) -> tuple[BinaryIO, Path]:
    """A new, locked temporary file for ``target`` in ``folder``, with ``target``'s mode."""
    stem = _temp_stem(target.name, _name_max(folder))
    existing = _stat_or_none(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        temp = folder / f"{stem}.{secrets.token_hex(_RANDOM_HEX // 2)}{SUFFIX}"
        try:
            fd = os.open(temp, flags, 0o666)  # the kernel applies the umask
        except FileExistsError:
            continue
        try:
            if _lock(fd) and _same_file(fd, temp):
                _copy_owner_and_mode(fd, existing)
                return os.fdopen(fd, "wb"), temp
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        # A remover took this file for a leftover in the instant before it was locked;
        # it removes it. Start again with another name.
        os.close(fd)
    raise FileExistsError(errno.EEXIST, "no free temporary name after 100 tries", str(folder))


def _lock(fd: int) -> bool:
    """Hold ``fd``'s file under an exclusive flock; False if another process holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without flock: written unlocked, never judged abandoned
        return True
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` is still the file open as ``fd`` (no one removed or replaced it)."""
    try:
        named = os.lstat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _copy_owner_and_mode(fd: int, existing: os.stat_result | None) -> None:
    """Give the file ``fd`` the owner, group and mode of the file it will replace."""
    if existing is None:
        return
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) != (existing.st_uid, existing.st_gid):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.fchown(fd, existing.st_uid, existing.st_gid)
        with contextlib.suppress(OSError):  # ... but an owner may keep one of its groups
            os.fchown(fd, -1, existing.st_gid)
    os.fchmod(fd, stat.S_IMODE(existing.st_mode))  # after chown, which clears set-id bits


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _name_max(folder: Path) -> int:
    try:
        return min(NAME_MAX, os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return NAME_MAX


def _temp_stem(name: str, name_max: int = NAME_MAX) -> str:
    """``.<name>``, or, if a temporary name would then be too long, ``.<start of name>~<hash>``.

    The same for the same ``name``, so that leftovers can be recognised.
    """
    room = name_max - len(f".{'0' * _RANDOM_HEX}{SUFFIX}")
    stem = f".{name}"
    if len(os.fsencode(stem)) <= room:
        return stem
    digest = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    while len(os.fsencode(stem + digest)) > room:
        stem = stem[:-1]
    return stem + digest


def _leftover_pattern(name: str, name_max: int = NAME_MAX) -> re.Pattern[str]:
    return re.compile(re.escape(_temp_stem(name, name_max)) + rf"\.[0-9a-f]{{{_RANDOM_HEX}}}"
                      + re.escape(SUFFIX))


def remove_leftovers(path: Path) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left; return them.

    A temporary file of ``path`` (of its target, if ``path`` is a symbolic
    link) is removed only if its exclusive lock can be taken, that is, if no
    live process is writing it, and only if it is still the file that was
    locked. Files of other names, and any file that cannot be examined, are
    left alone.
    """
    if fcntl is None:
        return []
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    pattern = _leftover_pattern(target.name, _name_max(folder))
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if pattern.fullmatch(entry.name) and _remove_if_abandoned(Path(entry.path)):
            removed.append(Path(entry.path))
    return removed


def _remove_if_abandoned(temp: Path) -> bool:
    try:
        fd = os.open(temp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by a live writer (or no flock here: cannot tell)
            return False
        if not _same_file(fd, temp):
            return False
        os.unlink(temp)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def file_identity(path: Path) -> tuple[int, ...] | None:
    """What tells one version of the file at ``path`` from the next, or None if there is none.

    :func:`atomic_file` replaces a file by a new inode, so a save shows as a
    change here; a command reads it to say truthfully what it wrote.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size
