"""The JSON API served beside the page, by the same process: ``/api/v1``, OpenAPI at ``/api/docs``.

Every route calls the page's own functions (``PlaylistPage``), which call the core playlist and
recommendation functions the batch assets call, so an API playlist is the page's playlist and the
``playlists`` asset's for the same settings. Errors are JSON a client can act on: 404 for an
unknown listener, 422 for a bad parameter (naming it), 503 while artifacts are missing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from musicrec_assets.core.playlist import PLAYLIST_COLUMNS, to_csv, to_m3u, to_xspf

from .results import PageResult
from .service import PlaylistPage

FORMATS = {
    "m3u": "audio/x-mpegurl",
    "xspf": "application/xspf+xml",
    "csv": "text/csv; charset=utf-8",
}
Format = Literal["json", "m3u", "xspf", "csv"]
Weight = Annotated[float | None, Query(ge=0, le=1)]


class ListenerList(BaseModel):
    prefix: str
    total: int = Field(description="listeners in the served data")
    listeners: list[str]


class Recommendation(BaseModel):
    rank: int
    artist: str
    score: float


class Recommendations(BaseModel):
    user: str
    k: int
    recommendations: list[Recommendation]


class Track(BaseModel):
    rank: int
    track_id: str
    track_name: str
    artist: str
    tempo: float | None
    valence: float | None
    base_part: float
    tempo_part: float
    valence_part: float
    final: float
    reason: str


class Playlist(BaseModel):
    user: str
    context: str
    stored: bool = Field(description="read from the playlists asset (default settings)")
    message: str
    tracks: list[Track]


class NewListenerPlaylist(BaseModel):
    seeds: list[str] = Field(min_length=1, description="artists the new listener likes")
    context: str = "default"
    length: int | None = Field(default=None, ge=1, le=100)
    w_base: float | None = Field(default=None, ge=0, le=1)
    w_tempo: float | None = Field(default=None, ge=0, le=1)
    w_valence: float | None = Field(default=None, ge=0, le=1)
    per_artist: int | None = Field(default=None, ge=1, le=10)


class Context(BaseModel):
    name: str
    description: str
    w_base: float
    w_tempo: float
    w_valence: float
    tempo: float | None
    valence: float | None
    pull: float


class Contexts(BaseModel):
    contexts: list[Context]


class Health(BaseModel):
    status: str
    missing: list[str]
    run_id: str | None = Field(description="the run whose artifacts are served")
    generation_started: str | None = Field(description="when that run began (UTC)")
    storage: str
    artifacts: dict[str, str] = Field(description="artifact file → when it was written (UTC)")


def _error(status: int, message: str, parameter: str | None = None) -> HTTPException:
    detail: dict[str, Any] = {"message": message}
    if parameter:
        detail["parameter"] = parameter
    return HTTPException(status_code=status, detail=detail)


STATUS = {
    "unknown_listener": (404, None),
    "no_recommendations": (404, None),
    "unknown_context": (422, "context"),
    "no_seeds": (422, "seeds"),
    "unknown_seeds": (422, "seeds"),
    "bad_seeds": (422, "seeds"),
    "artifact": (503, None),
    "unavailable": (503, None),
}


def _tracks(result: PageResult) -> list[dict[str, Any]]:
    """The playlist's rows as Track fields, missing values as None (column by column: a
    whole-frame ``astype(object)`` cost more than the rest of a stored request); the Playlist
    model validates them all in one call."""
    df = result.playlist
    if df is None or df.empty:
        return []
    names = list(Track.model_fields)
    columns = [[None if pd.isna(v) else v for v in df[name].tolist()] for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _respond(result: PageResult, user: str, context: str, fmt: Format) -> Any:
    if result.error:
        status, parameter = STATUS.get(result.error, (422, None))
        message = result.message.replace("**", "")
        if result.error == "unknown_listener":  # the page's text points at its own tab
            message = f"Unknown listener {user}; for a new listener POST /api/v1/playlist seeds."
        raise _error(status, message, parameter)
    playlist = result.playlist
    if fmt == "json":
        body = Playlist.model_validate(
            {
                "user": user,
                "context": context,
                "stored": result.stored,
                "message": result.message.replace("**", ""),
                "tracks": _tracks(result),
            }
        )  # validated once here; FastAPI would validate a returned model again
        return Response(body.model_dump_json(), media_type="application/json")
    text = {
        "csv": lambda: to_csv(playlist[list(PLAYLIST_COLUMNS)]),
        "m3u": lambda: to_m3u(playlist),
        "xspf": lambda: to_xspf(playlist, title=f"musicrec: {user} ({context})"),
    }[fmt]()
    return Response(text, media_type=FORMATS[fmt])


# Playlists built at once. Building is CPU-bound Python: more threads than cores only trade the
# GIL back and forth (20 concurrent builds cost 3x the CPU of one at a time, measured at 360K).
BUILDS = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="musicrec-build")
# Stored answers: a row-group read (Arrow, GIL released) overlaps the event loop's work in two
# threads; at 360K this served 1.3-1.6x the requests of answering inline (bench_api.py).
READS = ThreadPoolExecutor(2, thread_name_prefix="musicrec-read")


async def _run(pool: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(
        pool, functools.partial(fn, *args, **kwargs)
    )


def router(page: PlaylistPage) -> APIRouter:
    """The ``/api/v1`` routes over one page (one storage folder and playlist configuration)."""
    api = APIRouter(prefix="/api/v1")

    @api.get("/listeners", response_model=ListenerList, summary="Search listeners by prefix")
    def listeners(
        prefix: str = "", limit: Annotated[int, Query(ge=1, le=1000)] = 20
    ) -> ListenerList:
        try:
            total = len(page.store.directory())
        except Exception as exc:
            raise _error(503, f"no listeners: {exc}") from None
        return ListenerList(prefix=prefix, total=total, listeners=page.listeners(prefix, limit))

    @api.get(
        "/listeners/{user}/recommendations",
        response_model=Recommendations,
        summary="A listener's served artist recommendations",
        responses={404: {"description": "unknown listener"}},
    )
    def recommendations(user: str, k: Annotated[int, Query(ge=1, le=200)] = 10) -> Recommendations:
        recs = page.recommendations(user, k)
        if recs is None:
            raise _error(404, f"unknown listener {user!r} (or none with recommendations)")
        rows = recs[["rank", "artist", "score"]].to_dict("records")
        return Recommendations(user=user, k=k, recommendations=[Recommendation(**r) for r in rows])

    @api.get(
        "/listeners/{user}/playlist",
        response_model=Playlist,
        summary="A listener's playlist for a context (JSON, or M3U, XSPF, CSV with format=)",
        responses={404: {"description": "unknown listener"}, 422: {"description": "bad parameter"}},
    )
    async def playlist(
        user: str,
        context: str = "default",
        length: Annotated[int | None, Query(ge=1, le=100)] = None,
        w_base: Weight = None,
        w_tempo: Weight = None,
        w_valence: Weight = None,
        per_artist: Annotated[int | None, Query(ge=1, le=10)] = None,
        format: Format = "json",
    ) -> Any:
        settings = (user, context, length, w_base, w_tempo, w_valence, per_artist)
        result = await _run(READS, page.stored_playlist, *settings)
        if result is None:
            result = await _run(BUILDS, page.make_playlist, *settings, extras=False)
        return _respond(result, user, context, format)

    @api.post(
        "/playlist",
        response_model=Playlist,
        summary="A playlist for a new listener from seed artists",
        responses={422: {"description": "bad parameter or no known seed"}},
    )
    async def new_listener(body: NewListenerPlaylist, format: Format = "json") -> Any:
        result = await _run(
            BUILDS,
            page.new_listener_playlist,
            body.seeds,
            body.context,
            body.length,
            body.w_base,
            body.w_tempo,
            body.w_valence,
            body.per_artist,
            extras=False,
        )
        return _respond(result, "new listener", body.context, format)

    @api.get("/contexts", response_model=Contexts, summary="Listening contexts and their weights")
    def contexts() -> Contexts:
        return Contexts(
            contexts=[
                Context(name=name, **dataclasses.asdict(c)) for name, c in page.cfg.contexts.items()
            ]
        )

    @api.get("/health", response_model=Health, summary="Which run's artifacts are served")
    def health() -> Health:
        return Health(**page.served())

    return api


def api_app(page: PlaylistPage) -> FastAPI:
    """A FastAPI app with the API (its OpenAPI page at ``/api/docs``); Gradio mounts beside it."""
    app = FastAPI(
        title="musicrec API",
        version="1",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.include_router(router(page))

    @app.exception_handler(HTTPException)
    async def _json_errors(_: Any, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _bad_parameter(_: Any, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
        return JSONResponse(
            {
                "error": {
                    "message": first.get("msg", "bad parameter"),
                    "parameter": ".".join(where) or None,
                    "errors": [
                        {"parameter": ".".join(map(str, e.get("loc", ())[1:])), "message": e["msg"]}
                        for e in exc.errors()
                    ],
                }
            },
            status_code=422,
        )

    return app
