"""``offtake serve --workers N``: several server processes on one listening socket.

One Python process tops out at one core, so the VTN's load (every VEN polling each second)
needs several. The supervisor (the process ``offtake serve`` started):

1. migrates the database and checks the ledger against the checkpoint log, once;
2. binds the listening socket and starts ``N`` worker processes (``spawn``), each serving
   the whole application under uvicorn on that socket (the kernel spreads connections);
3. restarts a worker that dies (at most :data:`MAX_RESTARTS` times a minute) and stops them
   all on SIGINT or SIGTERM.

The ledger keeps a single writer. Worker 0 is the *leader*: the only process that signs
checkpoints, appends to the checkpoint log and runs the background tasks (the checkpoint
timer, live dispatch); the others are started with ``leader=False``
(:func:`offtake.api.app.create_app`). Every worker may append entries, but an append locks the
ledger's head row in the database (the SQLite write lock, a row lock on PostgreSQL) for its
whole transaction, so entries still get gap-free sequence numbers from one writer at a
time, whichever process it is. What is kept in memory stays correct across workers: answers
of searches are checked against the database's change counters
(:mod:`offtake.vtn.cache`), clients are rechecked every ``auth_recheck_s``. Two things are per
process: the failed-authentication throttle (so a guesser meets the limit up to ``N`` times
over) and the console's background jobs (listed by the worker that started them).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import socket
import time
from collections import deque
from multiprocessing.process import BaseProcess
from typing import Any

from offtake.settings import Settings

__all__ = ["MAX_RESTARTS", "serve_workers"]

#: A worker is restarted at most this many times in a minute; then the server stops.
MAX_RESTARTS = 5

#: How long workers get to finish their requests on shutdown [s].
STOP_GRACE_S = 10.0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(settings: Settings, sock: socket.socket, index: int, log_level: str, access_log: bool) -> None:
    """Serve the application on ``sock`` (runs in a worker process)."""
    import gc

    import uvicorn

    from offtake.api.app import create_app

    app = create_app(settings, leader=index == 0, migrate=False)
    config = uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="on")
    server = uvicorn.Server(config)
    gc.collect()
    gc.freeze()
    server.run(sockets=[sock])


def _prepare(settings: Settings) -> None:
    """Migrate the database and check the ledger against the checkpoint log, once."""
    from offtake.ledger.signing import load_or_create_signer
    from offtake.ledger.witness import CheckpointLog, check_witnessed
    from offtake.persistence.db import make_engine, make_session_factory
    from offtake.registry.setup import prepare_database

    engine = make_engine(settings.database_url)
    try:
        prepare_database(engine)
        signer = load_or_create_signer(settings.signing_key_path)
        if signer.witness is None:
            signer.witness = CheckpointLog(settings.checkpoint_log)
        check_witnessed(make_session_factory(engine), signer)
        settings.load_token_secret()  # made once here, not raced for by the workers
    finally:
        engine.dispose()


def serve_workers(
    settings: Settings, workers: int, *, log_level: str = "info", access_log: bool = True
) -> None:
    """Serve the platform with ``workers`` processes until SIGINT or SIGTERM.

    Parameters
    ----------
    settings
        Server settings (host and port to bind, database, data folder).
    workers
        Number of server processes [-], 1 or more; worker 0 is the ledger's signer.
    log_level
        uvicorn's log level.
    access_log
        Log one line per request.
    """
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    _prepare(settings)
    sock = _bind(settings.host, settings.port)
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=_worker,
            args=(settings, sock, index, log_level, access_log),
            name=f"offtake-worker-{index}",
        )
        process.start()
        return process

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(index) for index in range(workers)]
    restarts: deque[float] = deque()
    try:
        while not stopping:
            time.sleep(0.2)
            for index, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                now = time.monotonic()
                while restarts and now - restarts[0] > 60:
                    restarts.popleft()
                if len(restarts) >= MAX_RESTARTS:
                    raise RuntimeError(f"worker {index} keeps dying (exit code {process.exitcode}); stopping")
                restarts.append(now)
                processes[index] = start(index)
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()  # uvicorn finishes its requests and the lifespan on SIGTERM
        deadline = time.monotonic() + STOP_GRACE_S
        for process in processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
