"""Full builds of the lexical index in a process of their own, so that a process answering searches keeps answering
them at full speed while the catalog is indexed again.

Indexing 100k talks is seconds of Python holding the interpreter lock: in a thread of the web process it raised the
p99 of searches during a rebuild from 20 to 68 ms (bench/rebuild_latency.py), and the process carried the build's
peak memory. Instead, a worker process opens the catalog by its URL, builds the index, saves it as the snapshot of
that state of the catalog (db/search/snapshot.py) and exits; the parent memory-maps the snapshot in milliseconds and
swaps it in as before (db/search/lifecycle.py). `BuildWorker` is the `full_build` of `build_indexes`.

Why `subprocess` running this module rather than `multiprocessing`: a fork would copy the parent's pooled connections
and threads mid-use, and the "spawn" start method re-imports the parent's main module (the server's command line) in
the child; here the worker is a fresh interpreter that imports only what a build needs, its request (the database
URL, password included) goes through its stdin rather than its command line, where `ps` shows it, and its exit
status and stderr say what went wrong. One worker per build, not one kept warm: starting it costs about 0.8 s of
interpreter and imports on the other core, against seconds of build, rebuilds follow imports (rare), and a warm
worker would keep the build's peak memory that this moves out of the web process.

Never left behind: the worker running is killed by `stop` (the engine's stop_watching) and at interpreter exit, and
exits by itself within a second when its parent dies without running exit handlers (SIGKILL, SIGTERM's default).
Never two at once per BuildWorker (and the IndexKeeper builds one at a time anyway). A worker that fails, crashes or
times out fails that build, logged, with the previous index kept; the retry builds in the parent's thread, so a
machine where workers cannot run still gets its index, and the worker is tried again for the next full build.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import resource
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.config import bulk_timeouts, sessions_for
from db.models import Talk
from db.search.index import CatalogIndex
from db.search.lifecycle import build_lexical
from db.search.snapshot import catalog_state, load_snapshot, save_snapshot, snapshot_directory

log = logging.getLogger(__name__)

WORKER_FROM_TALKS = 5_000  # smaller catalogs build in a fraction of the worker's start-up, in the thread as before
WORKER_TIMEOUT = 1800.0  # seconds: 1M talks built in 101 s on a quiet machine, 476 s on a loaded one; then it hangs
NICENESS = 10  # the worker's CPU priority below its parent's: with the cores busy, searches go first
PARENT_CHECK_EVERY = 0.5  # seconds between the worker's looks at whether its parent is still there
MOVED_ON = 3  # the worker's exit status when the catalog changed before or during its build: nothing was saved
STDERR_KEPT = 2000  # characters of a failed worker's stderr that go into the log


class WorkerFailed(Exception):
    """The worker process did not leave a usable snapshot: it failed, crashed, timed out or was stopped."""


@dataclass(frozen=True)
class BuildRequest:
    """What the worker reads from its stdin: build the index of the catalog at `url` when it is in the state `state`
    (a CatalogState key, naming the revision), and save it as the snapshot of `revision` in `directory`."""

    url: str
    directory: str
    revision: int
    state: str
    parent: int  # the parent's pid: the worker exits when it is gone


@dataclass(frozen=True)
class BuildReport:
    """What the worker prints when its snapshot is saved."""

    seconds: float  # from the request to the snapshot saved
    cpu_seconds: float  # the worker's, its start included
    peak_mb: float  # the worker's peak resident memory


_workers: weakref.WeakSet[BuildWorker] = weakref.WeakSet()


class BuildWorker:
    """Makes full builds of the lexical index in a worker process, one at a time (a `FullBuild`, db/search/
    lifecycle.py): catalogs of at least `from_talks` talks that have a snapshot directory; others, and the retry
    after a failed worker, are built by `here` in the calling thread. A worker taking over `timeout` seconds is
    killed."""

    def __init__(self, from_talks: int = WORKER_FROM_TALKS, timeout: float = WORKER_TIMEOUT) -> None:
        self.from_talks = from_talks
        self.timeout = timeout
        self.runs = 0  # worker processes started
        self._one_at_a_time = threading.Lock()
        self._state = threading.Lock()  # guards the two below
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped: subprocess.Popen[bytes] | None = None  # the worker `stop` killed
        self._failed = False  # the last worker failed: the next full build is made in the calling thread
        _workers.add(self)

    @property
    def pid(self) -> int | None:
        """The process id of the worker running now, if any."""
        with self._state:
            return self._process.pid if self._process is not None else None

    def __call__(self, session: Session, revision: int, here: Callable[[], CatalogIndex]) -> CatalogIndex:
        """A full build of the lexical index of the catalog at `revision`, which `session` reads: the snapshot a worker
        saved, loaded, or `here()` where a worker cannot or need not make it."""
        bind = session.get_bind()
        directory = snapshot_directory(bind.url)
        state = catalog_state(session) if directory is not None else None
        if state is None or state.revision != revision or _talks(session) < self.from_talks:
            return here()  # no file of its own (in-memory SQLite), no identity yet, moved on already, or small
        if self._failed:
            self._failed = False
            log.info("building the search index in this process: its build worker failed last time")
            return here()
        request = BuildRequest(
            bind.url.render_as_string(hide_password=False), str(directory), revision, state.key, os.getpid()
        )
        report = self._run(request)
        if report is None:
            log.info("the catalog changed during the search index's build in a worker; building it here")
            return here()
        start = time.perf_counter()
        loaded = load_snapshot(directory, revision, state.key)
        if loaded is None:
            self._failed = True
            raise WorkerFailed(f"the snapshot the build worker saved for revision {revision} could not be loaded")
        log.info(
            "search index of revision %d built by a worker process in %.1f s (%.1f CPU s, its peak %.0f MB), "
            "loaded in %.0f ms", revision, report.seconds, report.cpu_seconds, report.peak_mb,
            (time.perf_counter() - start) * 1000,
        )  # fmt: skip
        return loaded

    def stop(self) -> None:
        """Kill the worker running now, if any, and wait for it to be gone: its build fails (logged, the previous
        index stays). Builds after this start workers again."""
        with self._state:
            process = self._stopped = self._process
        if process is not None:
            process.kill()
            process.wait()

    def _run(self, request: BuildRequest) -> BuildReport | None:
        """Run a worker for `request`: its report, or None when the catalog moved on meanwhile."""
        with self._one_at_a_time:
            with self._state:
                try:
                    process = subprocess.Popen(
                        [sys.executable, "-P", "-m", "db.search.build_worker"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment(),
                    )  # fmt: skip
                except OSError as problem:  # no process can be started now (too many, no memory)
                    self._failed = True
                    raise WorkerFailed(f"the search index's build worker could not be started: {problem}") from None
                self._process = process
                self.runs += 1
            try:
                out, err = process.communicate(json.dumps(asdict(request)).encode() + b"\n", timeout=self.timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
                timed_out = True
            finally:
                with self._state:
                    self._process = None
                    stopped, self._stopped = self._stopped is process, None
        if process.returncode == 0:
            self._failed = False
            return BuildReport(**json.loads(out.splitlines()[-1]))  # its last line: a library may print before it
        if process.returncode == MOVED_ON:
            return None
        self._failed = not stopped
        if stopped:
            why = "it was stopped"
        elif timed_out:
            why = f"it had not finished after {self.timeout:g} s and was killed"
        else:
            why = f"it exited with status {process.returncode}"  # negative: killed by that signal
        said = err.decode(errors="replace").strip()[-STDERR_KEPT:]
        raise WorkerFailed(f"the search index's build worker failed: {why}" + (f"; it said:\n{said}" if said else ""))


def _talks(session: Session) -> int:
    """How many talks the catalog holds now (not the previous index: a first import may bring a whole archive)."""
    return session.scalar(select(func.count()).select_from(Talk)) or 0


def _environment() -> dict[str, str]:
    """The parent's environment with this copy of talkbot first on the path, so the worker runs the code its parent
    runs whatever its working directory or an installed copy would give it."""
    environment = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [root, environment.get("PYTHONPATH")]))
    return environment


@atexit.register
def _stop_every_worker() -> None:
    for worker in list(_workers):
        worker.stop()


# ------------------------------------------------------------------------------------------------ the worker's side
def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")  # stderr: the parent's log
    request = BuildRequest(**json.loads(sys.stdin.readline()))
    _exit_with_parent(request.parent)
    os.nice(NICENESS)
    sys.exit(_build(request))


def _build(request: BuildRequest) -> int:
    """Build and save the snapshot `request` asks for; the exit status."""
    start = time.perf_counter()
    bulk_timeouts()  # reads the whole catalog on purpose (db/config.py)
    with sessions_for(request.url)() as session:
        state = catalog_state(session)
        if state is None or state.key != request.state:
            return MOVED_ON
        index = build_lexical(session)
        if catalog_state(session) != state:  # it may hold part of a change: not the snapshot of `state`
            return MOVED_ON
    if save_snapshot(index, Path(request.directory), request.revision, request.state) is None:
        return 1  # save_snapshot logged why
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = BuildReport(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)  # KB
    print(json.dumps(asdict(report)))
    return 0


def _exit_with_parent(parent: int) -> None:
    """Exit as soon as the parent is gone (the worker is then adopted by another process): a parent killed without
    running its exit handlers must not leave a build running."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_EVERY)
        os._exit(1)

    threading.Thread(target=watch, name="talkbot-parent-watch", daemon=True).start()


if __name__ == "__main__":
    main()
