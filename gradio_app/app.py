"""The Gradio page: pick a listener (or seed artists) and a context, get an explained playlist.

``build_app`` wires :class:`~gradio_app.service.PlaylistPage` to components; every event handler is
a plain function with an ``api_name`` so ``gradio_client`` can call it (``/make_playlist``,
``/new_listener_playlist``, ``/listener_profile``, ``/context_defaults``, ``/model_report``).
The page binds to 127.0.0.1 by default, never creates a share link, and uses system fonts only,
so it works on a machine without internet access.
"""

from __future__ import annotations

import gc
import json
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI
from gradio.components.plot import PlotData
from pandas.errors import Pandas4Warning

from musicrec_assets.core.config import PlaylistConfig, load_config

from .api import api_app
from .cold_start import ColdStart
from .results import ListenerView, PageResult
from .served import SUGGESTIONS
from .service import PlaylistPage
from .store import ArtifactStore

# Gradio 6 calls pandas APIs that pandas 3 deprecates; silence only Gradio's.
warnings.filterwarnings("ignore", category=Pandas4Warning, module=r"gradio\.")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
CONCURRENCY = 4  # simultaneous builds; handlers only read artifacts, so they may overlap
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)
# rank, track, artist, tempo, valence, base/tempo/valence parts, final, reason
TABLE_WIDTHS = ["6%", "14%", "11%", "7%", "7%", "7%", "7%", "7%", "7%", "27%"]


def _plot(figure: dict[str, Any] | None) -> PlotData | None:
    """A Plotly figure given as plain JSON; the Plotly bundled with Gradio draws it (no CDN)."""
    return None if figure is None else PlotData(type="plotly", plot=json.dumps(figure))


def _playlist_outputs(result: PageResult) -> tuple[str, Any, PlotData | None, list[str] | None]:
    return result.message, result.table, _plot(result.plot), result.files or None


def _listener_outputs(view: ListenerView) -> tuple[str, Any, Any]:
    return view.message, view.top_artists, view.genres


def build_app(
    storage_dir: Path,
    config_path: Path | None = None,
    *,
    cold_start_fn: ColdStart | None = None,
) -> gr.Blocks:
    """The page over ``storage_dir``; contexts and playlist settings come from the config file.

    ``cold_start_fn`` replaces the new-listener recommender (tests); by default the adapter in
    :mod:`gradio_app.cold_start` is used.
    """
    cfg = load_config(config_path).playlist if config_path else PlaylistConfig()
    page = PlaylistPage(ArtifactStore(Path(storage_dir), config_path), cfg, cold_start_fn)
    contexts = list(cfg.contexts)
    first = "default" if "default" in cfg.contexts else contexts[0]
    w0 = page.context_defaults(first)

    def make_playlist(
        user: str | None,
        context: str,
        length: float,
        w_base: float,
        w_tempo: float,
        w_valence: float,
        cap: float,
    ) -> tuple[str, Any, PlotData | None, list[str] | None]:
        """Build a known listener's playlist: message, table, plot, CSV/M3U/XSPF files."""
        return _playlist_outputs(
            page.make_playlist(user, context, length, w_base, w_tempo, w_valence, cap)
        )

    def new_listener_playlist(
        seeds: list[str] | None,
        context: str,
        length: float,
        w_base: float,
        w_tempo: float,
        w_valence: float,
        cap: float,
    ) -> tuple[str, Any, PlotData | None, list[str] | None]:
        """Build a playlist for a new listener from seed artists (cold start)."""
        return _playlist_outputs(
            page.new_listener_playlist(seeds, context, length, w_base, w_tempo, w_valence, cap)
        )

    def listener_profile(user: str | None) -> tuple[str, Any, Any]:
        """A listener's top artists and play-weighted genre shares."""
        return _listener_outputs(page.listener_view(user))

    def seeds_profile(seeds: list[str] | None) -> tuple[str, Any, Any]:
        """The new listener's seed artists, shown like a history."""
        return _listener_outputs(page.seeds_view(seeds))

    def context_defaults(context: str) -> tuple[float, float, float, str]:
        """A context's default weights (w_base, w_tempo, w_valence) and its description."""
        return page.context_defaults(context)

    def context_description(context: str) -> str:
        """The context's description under the picker."""
        return page.context_defaults(context)[3]

    def model_report() -> tuple[str, Any, Any]:
        """Evaluation metrics and artifact build times."""
        return page.model_report()

    def on_load(request: gr.Request) -> tuple[Any, ...]:
        """Open ready: the listener of ``?user=`` (else the most active one) is selected and
        their playlist for ``?context=`` (else the first context) is shown without a click."""
        params = dict(request.query_params) if request is not None else {}
        status, users, seeds = page.page_state()
        chosen = params.get("user") or (None if status else page.most_active())
        ctx = params.get("context") if params.get("context") in cfg.contexts else first
        if chosen and chosen not in users:
            users = [chosen, *users]
        weights = page.context_defaults(ctx)
        built = page.make_playlist(chosen, ctx) if chosen and not status else PageResult()
        view = page.listener_view(chosen) if chosen and not status else None
        listener_parts = _listener_outputs(view) if view else ("", None, None)
        return (
            status,
            gr.update(choices=users, value=chosen),
            gr.update(choices=seeds),
            gr.update(value=ctx),
            weights[0],
            weights[1],
            weights[2],
            weights[3],
            *_playlist_outputs(built),
            *listener_parts,
            *page.model_report(),
        )

    def search_listeners(typed: gr.KeyUpData) -> Any:
        """Listeners starting with what is typed (a server-side search: 360k names stay fast)."""
        return gr.update(choices=page.listeners(typed.input_value or "", SUGGESTIONS))

    with gr.Blocks(
        title="musicrec playlists",
        analytics_enabled=False,
        fill_width=True,
        delete_cache=(3600, 3600),
    ) as demo:
        gr.Markdown(
            "# musicrec · context playlists\n"
            "Recommended artists → their tracks, scored as "
            "`final = w_base·base + w_tempo·tempo_sim + w_valence·valence_sim`."
        )
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                with gr.Tabs():
                    with gr.Tab("Listener", id="known"):
                        user = gr.Dropdown(
                            label="Listener",
                            choices=[],
                            filterable=True,
                            allow_custom_value=True,
                            elem_id="listener",
                        )
                        build = gr.Button("Build playlist", variant="primary", elem_id="build")
                    with gr.Tab("New listener", id="new"):
                        seeds = gr.Dropdown(
                            label="Seed artists",
                            choices=[],
                            multiselect=True,
                            filterable=True,
                            allow_custom_value=True,
                            elem_id="seeds",
                        )
                        build_new = gr.Button("Build from seeds", elem_id="build-new")
                context = gr.Radio(contexts, value=first, label="Context", elem_id="context")
                context_md = gr.Markdown(w0[3])
                length = gr.Slider(5, 50, value=cfg.length, step=1, label="Playlist length")
                w_base = gr.Slider(0, 1, value=w0[0], step=0.05, label="w_base")
                w_tempo = gr.Slider(0, 1, value=w0[1], step=0.05, label="w_tempo")
                w_valence = gr.Slider(0, 1, value=w0[2], step=0.05, label="w_valence")
                cap = gr.Slider(1, 5, value=cfg.per_artist_cap, step=1, label="Tracks per artist")
            with gr.Column(scale=3), gr.Tabs():
                with gr.Tab("Playlist"):
                    message = gr.Markdown(elem_id="message")
                    table = gr.Dataframe(
                        label="Playlist",
                        interactive=False,
                        wrap=True,
                        column_widths=TABLE_WIDTHS,
                        elem_id="playlist-table",
                    )
                    plot = gr.Plot(label="Tempo and valence: playlist vs your listening")
                    files = gr.File(label="Download", file_count="multiple", interactive=False)
                with gr.Tab("Listener"):
                    profile_md = gr.Markdown()
                    top_artists = gr.Dataframe(label="Top artists", interactive=False)
                    genres = gr.Dataframe(label="Genre shares (play-weighted)", interactive=False)
                with gr.Tab("Model"):
                    model_md = gr.Markdown()
                    evaluation = gr.Dataframe(label="Evaluation", interactive=False)
                    artifacts = gr.Dataframe(label="Artifacts", interactive=False)
                    refresh = gr.Button("Refresh")

        knobs = [context, length, w_base, w_tempo, w_valence, cap]
        playlist_out = [message, table, plot, files]
        listener_out = [profile_md, top_artists, genres]
        model_out = [model_md, evaluation, artifacts]
        # The sliders follow the context in the browser at once (no round trip, so a Build
        # pressed right after switching context uses the new weights); the server only sends
        # the description. API clients get the weights from /context_defaults.
        weights_js = json.dumps(
            {c: [w.w_base, w.w_tempo, w.w_valence] for c, w in cfg.contexts.items()}
        )
        context.change(
            None,
            [context],
            [w_base, w_tempo, w_valence],
            js=f"(c) => ({weights_js})[c] ?? [{w0[0]}, {w0[1]}, {w0[2]}]",
            api_visibility="private",
        )
        context.change(context_description, [context], [context_md], api_visibility="private")
        gr.api(context_defaults, api_name="context_defaults")
        build.click(make_playlist, [user, *knobs], playlist_out, api_name="make_playlist")
        build.click(listener_profile, [user], listener_out, api_name="listener_profile")
        build_new.click(
            new_listener_playlist, [seeds, *knobs], playlist_out, api_name="new_listener_playlist"
        )
        build_new.click(seeds_profile, [seeds], listener_out, api_name="seeds_profile")
        refresh.click(model_report, None, model_out, api_name="model_report")
        opened = [*playlist_out, *listener_out, *model_out]
        loaded = demo.load(
            on_load,
            None,
            [status, user, seeds, context, w_base, w_tempo, w_valence, context_md, *opened],
            api_visibility="private",
        )
        # The address bar names the listener and context shown, so a playlist can be shared.
        share_js = (
            "(u, c) => { const p = new URLSearchParams(window.location.search);"
            " if (u) { p.set('user', u); } p.set('context', c);"
            " window.history.replaceState(null, '', '?' + p.toString()); }"
        )
        loaded.then(None, [user, context], None, js=share_js, api_visibility="private")
        build.click(None, [user, context], None, js=share_js, api_visibility="private")
        user.key_up(
            search_listeners,
            None,
            user,
            api_visibility="private",
            show_progress="hidden",
            trigger_mode="always_last",
        )
    demo.queue(default_concurrency_limit=CONCURRENCY)
    demo.musicrec_page = page  # the API mounted beside the page serves the same object
    return demo


def server_app(demo: gr.Blocks) -> FastAPI:
    """The page and the JSON API in one FastAPI app: ``/api/v1`` (docs at ``/api/docs``) and
    the Gradio page at ``/``."""
    app = api_app(demo.musicrec_page)
    return gr.mount_gradio_app(
        app,
        demo,
        path="",
        footer_links=["api", "settings"],
        show_error=True,
        ssr_mode=False,
        theme=THEME,
    )


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a background server leaves them to its host
        if threading.current_thread() is threading.main_thread():
            super().install_signal_handlers()


def launch(
    demo: gr.Blocks,
    host: str = DEFAULT_HOST,
    port: int | None = DEFAULT_PORT,
    *,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> tuple[FastAPI, str]:
    """Serve the page and the API locally (never a share link); returns the app and its URL.
    With ``prevent_thread_lock`` the server runs in a background thread (tests, benchmarks)."""
    if port is None:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    app = server_app(demo)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning" if quiet else "info", access_log=False
    )
    server = _Server(config)
    # The page, Gradio and pandas leave ~1M long-lived objects; frozen, the collector stops
    # re-scanning them, which cut the API's tail latency under load (p99, bench_api.py).
    gc.freeze()
    url = f"http://{host}:{port}/"
    if not prevent_thread_lock:
        if not quiet:
            print(f"musicrec: page at {url}, API at {url}api/v1 (docs {url}api/docs)", flush=True)
        server.run()
        return app, url
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the server did not start on {url}")
        time.sleep(0.05)
    close_blocks = demo.close

    def close(verbose: bool = True) -> None:
        """Stop the background server too (``demo.close()`` as with Gradio's own launch)."""
        server.should_exit = True
        thread.join(timeout=10)
        close_blocks(verbose)

    demo.close = close
    return app, url


def serve(config_path: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """``musicrec web``: the page over the config's storage folder, until interrupted."""
    config = load_config(config_path)
    launch(build_app(config.storage_dir, config.path), host, port)
