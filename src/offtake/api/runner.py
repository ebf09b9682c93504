"""Run the application under uvicorn, as ``offtake serve`` does.

Before serving, every object made while starting (modules, routes, schemas, the
application) is moved out of the garbage collector's reach with :func:`gc.freeze`: they
live as long as the process, and without this each full collection walks all of them,
stopping every request for around 100 ms under load.
"""

from __future__ import annotations

import gc

from fastapi import FastAPI

__all__ = ["serve"]


def serve(app: FastAPI, host: str, port: int, *, log_level: str = "info", access_log: bool = True) -> None:
    """Serve ``app`` on ``host:port`` until interrupted.

    Parameters
    ----------
    app
        The application (:func:`offtake.api.app.create_app`).
    host, port
        Address to bind.
    log_level
        uvicorn's log level.
    access_log
        Log one line per request.
    """
    import uvicorn

    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log)
