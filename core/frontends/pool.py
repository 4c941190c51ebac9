"""Many files checked in worker processes, one per core, the results handed back in input order.

The workers are forked from the run once its configurations and registries are
loaded, so a worker costs a fork, not a second start-up, and checks exactly as
this process would. Each worker asks for a few files at a time (the quicker
ones take more; the chunks shrink towards the end, so the workers finish together), checks them and sends the results back pickled; the run
yields them in the order of its input, so every output is the serial run's.

What a worker cannot do is redone here, in this process: a file whose check
raised in a worker, or whose result cannot be pickled, and every file of a
worker that died, are checked again in-process, so the run behaves as the
serial one would (the same finding, or the same error). Workers ignore Ctrl-C;
the run that receives it kills them and waits for each, and they also end when
the run does (their command pipe closes), so none is left behind.

Forking needs a POSIX system where forking a Python process is safe
(:func:`available`); elsewhere, and for a single worker, the files are checked
in this process.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Callable, Iterator, Sequence

from ..host.frames import read_frame, write_frame

#: a chunk's number in its frame on the command pipe (big-endian)
_INDEX_SIZE = 4


def cores() -> int:
    """How many cores this process may run on (its CPU affinity, not the machine's count)."""
    count = getattr(os, "process_cpu_count", None)          # Python 3.13+
    if count is not None:
        n = count()
    else:
        try:
            n = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            n = os.cpu_count()
    return max(1, n or 1)


def available() -> bool:
    """Whether workers can be forked here (Linux and the BSDs; not macOS, where forking is unsafe, nor Windows)."""
    return hasattr(os, "fork") and sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))


def ordered_map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int, chunk: int = 0) -> Iterator[Any]:
    """``fn(item)`` for every item, in order, computed by ``workers`` forked processes (``chunk`` items at a time)."""
    n = len(items)
    workers = min(workers, n)
    if workers < 2 or not available():
        yield from map(fn, items)
        return
    import pickle
    import selectors

    chunks = _chunks(n, workers, chunk)
    sys.stdout.flush()
    sys.stderr.flush()
    children: dict[int, _Child] = {}
    done: dict[int, list] = {}          # chunk number -> its results (or _REDO for an item to check here)
    pending = iter(range(len(chunks)))
    finished = False
    try:
        # Ctrl-C waits until every worker is forked and known: none may be left out of the clean-up below
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for _ in range(workers):
                child = _fork(fn, items, chunks, [c for c in children.values()], mask)
                children[child.results] = child
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        selector = selectors.DefaultSelector()
        for child in children.values():
            selector.register(child.results, selectors.EVENT_READ)
            _assign(child, pending)
        wanted = 0
        while wanted < len(chunks):
            while wanted in done:
                for item, value in zip(chunks[wanted], done.pop(wanted)):
                    yield fn(items[item]) if value is _REDO else value
                wanted += 1
            if wanted >= len(chunks):
                break
            busy = [c for c in children.values() if c.current is not None]
            if not busy:                 # every worker is gone: what is left is checked here
                for number in pending:
                    done[number] = [_REDO] * len(chunks[number])
                continue
            for key, _ in selector.select():
                child = children[key.fd]
                number = child.current
                answer = read_frame(child.results)
                if answer is None:       # the worker ended (or died: its chunk is checked here); it gets no more
                    selector.unregister(child.results)
                    child.current = None
                    if number is not None:
                        done[number] = [_REDO] * len(chunks[number])
                    continue
                if number is None:       # nothing was asked of it
                    continue
                done[number] = [_REDO if ok is False else value for ok, value in pickle.loads(answer)]
                _assign(child, pending)
        finished = True
    finally:
        for child in children.values():
            child.close()
            if not finished:
                try:
                    os.kill(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for child in children.values():
            _reap(child.pid)


_REDO = object()


def _chunks(n: int, workers: int, chunk: int = 0) -> list[range]:
    """The items in consecutive chunks: ``chunk`` at a time, or (0) as many as a worker's share of what is left
    allows, at most 32 and fewer towards the end, so that the workers finish together (the run waits for the last
    chunk: one of 32 plans is some 200 ms of one worker while the other has nothing left)."""
    out, start = [], 0
    while start < n:
        size = chunk or max(1, min(32, (n - start) // (workers * 4)))
        out.append(range(start, min(start + size, n)))
        start += size
    return out


class _Child:
    def __init__(self, pid: int, commands: int, results: int) -> None:
        self.pid, self.commands, self.results = pid, commands, results
        self.current: int | None = None

    def close(self) -> None:
        for fd in (self.commands, self.results):
            try:
                os.close(fd)
            except OSError:
                pass
        self.commands = self.results = -1


def _assign(child: _Child, pending: Iterator[int]) -> None:
    """Send ``child`` the next chunk, or close its command pipe (it then exits) when none is left."""
    number = next(pending, None)
    child.current = number
    if number is None:
        os.close(child.commands)
        child.commands = -1
        return
    try:
        write_frame(child.commands, number.to_bytes(_INDEX_SIZE, "big"))
    except OSError:           # it died; reading its results says so
        pass


def _fork(fn, items, chunks, others: list[_Child], mask) -> _Child:
    commands_r, commands_w = os.pipe()
    results_r, results_w = os.pipe()
    pid = os.fork()
    if pid == 0:             # the worker: whatever happens, it leaves through os._exit (no atexit, no flush twice)
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            for fd in [commands_w, results_r] + [fd for c in others for fd in (c.commands, c.results)]:
                os.close(fd)
            _serve(fn, items, chunks, commands_r, results_w)
            code = 0
        finally:
            os._exit(code)
    os.close(commands_r)
    os.close(results_w)
    return _Child(pid, commands_w, results_r)


def _serve(fn, items, chunks, commands: int, results: int) -> None:
    import pickle

    while True:
        head = read_frame(commands)
        if head is None:
            return
        number = int.from_bytes(head, "big")
        out = []
        for item in chunks[number]:
            try:
                out.append((True, fn(items[item])))
            except BaseException:    # checked again in the run's own process, which then fails as a serial run would
                out.append((False, None))
        try:
            payload = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:            # a result that cannot cross: the run checks these files itself
            payload = pickle.dumps([(False, None)] * len(out), protocol=pickle.HIGHEST_PROTOCOL)
        write_frame(results, payload)


def _reap(pid: int) -> None:
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            continue
