"""The ``musicrec`` command line: materialize, web, demo, sample, playlist (README, Commands)."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

from musicrec_assets import paths
from musicrec_assets.core import generations

SOURCE_TAG = "musicrec/source"  # as musicrec_assets.defs.resources (not imported: no Dagster here)
PID_TAG = "musicrec/pid"
HOST_TAG = "musicrec/host"


def _use_config(path: str | None) -> Path:
    """Resolve the config in force and export it, so Dagster resources in this process see it."""
    from musicrec_assets.core.errors import ConfigError

    cfg = paths.config_path(path)
    if not cfg.exists():
        raise ConfigError(f"config file not found: {cfg}")
    os.environ[paths.CONFIG_ENV] = str(cfg)
    return cfg


def refresh_job():
    """The job over every asset and check (module level, so Dagster can reconstruct it)."""
    from musicrec_assets.definitions import defs
    from musicrec_assets.defs.automation import refresh_job

    return defs().resolve_job_def(refresh_job.name)


# The figure a person wants to see beside each finished step: (metadata key, label) per asset.
KEY_FIGURES: dict[str, tuple[str, str]] = {
    "model_selection": ("als/val_ndcg", "ALS validation NDCG"),
    "reranker": ("objective", "objective"),
    "reranker_validation": ("served", "served"),
    "evaluation_report": ("served", "served"),
    "reranked_topk": ("listeners", "listeners"),
    "playlists": ("playlists", "playlists"),
}


def _figure(asset: str, metadata: dict) -> str:
    key, label = KEY_FIGURES.get(asset, ("dagster/row_count", "rows"))
    value = metadata.get(key)
    if value is None:
        return ""
    value = getattr(value, "value", value)
    if isinstance(value, float):
        value = f"{value:.4f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{asset}: {label} {value}"


class StepPrinter:
    """Prints one line per finished step of a run, read from the instance's event log while
    the run goes on (Dagster's own DEBUG stream stays in the event log and ``dagster dev``)."""

    def __init__(self, instance, tag: tuple[str, str], out=sys.stdout, owner=None) -> None:
        self.instance, self.tag, self.out, self.owner = instance, tag, out, owner
        self.run_id: str | None = None
        self.seen: set[str] = set()
        self.figures: dict[str, list[str]] = {}

    def poll(self) -> None:
        from dagster import DagsterEventType, RunsFilter

        if self.run_id is None:
            runs = self.instance.get_runs(RunsFilter(tags=dict([self.tag])), limit=1)
            if not runs:
                return
            self.run_id = runs[0].run_id
            if self.owner is not None:  # a second refresh's message names this run
                generations.record_run(self.owner, self.run_id)
        kinds = {
            DagsterEventType.ASSET_MATERIALIZATION,
            DagsterEventType.STEP_SUCCESS,
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.ASSET_CHECK_EVALUATION,
        }
        for entry in self.instance.all_logs(self.run_id, of_type=kinds):
            ev, step = entry.dagster_event, entry.step_key
            key = f"{step}:{ev.event_type_value}:{entry.timestamp}"
            if key in self.seen or step is None:
                continue
            self.seen.add(key)
            if ev.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                mat = ev.step_materialization_data.materialization
                figure = _figure(mat.asset_key.to_user_string(), mat.metadata)
                if figure:
                    self.figures.setdefault(step, []).append(figure)
            elif ev.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                check = ev.event_specific_data
                verdict = "passed" if check.passed else f"failed ({check.severity.value.lower()})"
                self.figures.setdefault(step, []).append(f"check {verdict}")
            else:
                ok = ev.event_type == DagsterEventType.STEP_SUCCESS
                secs = ev.event_specific_data.duration_ms / 1000 if ok else 0.0
                detail = "; ".join(self.figures.get(step, []))
                mark = "done" if ok else "FAILED"
                print(f"  {mark:<6} {step:<34} {secs:7.1f} s  {detail}", file=self.out, flush=True)


def _progress(printer: StepPrinter, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        printer.poll()


def _dagster_runs_in_progress(instance, storage: Path) -> list:
    """Runs launched from Dagster (UI, schedule, sensor) that are not finished. A run of an
    earlier ``musicrec materialize`` whose process is gone is marked failed on the way: killed,
    it could not say so itself."""
    from dagster import DagsterRunStatus, RunsFilter

    live = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING]
    live += [DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    out = []
    for run in instance.get_runs(RunsFilter(statuses=live)):
        if run.tags.get(SOURCE_TAG) == "cli":
            pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
            if host == socket.gethostname() and pid and not _alive(int(pid)):
                instance.report_run_failed(run, "its musicrec materialize process is gone")
            continue
        out.append(run)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_dagster_runs(instance, storage: Path, wait: bool) -> None:
    from musicrec_assets.core.generations import StorageBusyError

    while runs := _dagster_runs_in_progress(instance, storage):
        if not wait:
            names = ", ".join(f"{r.run_id} ({r.status.value.lower()})" for r in runs[:3])
            raise StorageBusyError(
                f"{storage} is being refreshed by Dagster run(s) {names}; wait for them to "
                "finish (or use --wait)"
            )
        time.sleep(2)


def materialize(
    config: str | None,
    select: str | None = None,
    *,
    verbose: bool = False,
    wait: bool = False,
) -> int:
    """Materialize assets through Dagster into the project instance; 0 on success.

    One refresh at a time per storage folder: the folder's lock is held for the whole run, and
    runs Dagster launched on it must be finished. The run writes a new generation of the
    artifacts, published in one step when it succeeds (``core.generations``).
    """
    from musicrec_assets.core.config import check_sources, load_config

    # The config and its sources are checked before Dagster is even imported: a typo or a
    # missing file is reported in a fraction of a second, naming the file and the key.
    cfg_path = _use_config(config)
    cfg = load_config(cfg_path)
    check_sources(cfg)
    if cfg.engine.kind == "spark":  # pyspark and a JDK, before any step runs
        from musicrec_assets.spark.requirements import check_engine

        check_engine(cfg)

    import dagster as dg

    from musicrec_assets.definitions import defs as load_defs

    home = paths.ensure_dagster_home()
    keys = None
    if select:
        try:
            selection = dg.AssetSelection.from_string(select).required_multi_asset_neighbors()
            keys = list(selection.resolve(load_defs().resolve_asset_graph()))
        except Exception as exc:  # Dagster raises several error types for a bad selection
            raise ValueError(f"bad --select {select!r}: {exc}") from exc
    print(f"musicrec: materializing {select or 'all assets'} with {cfg_path}")
    print(f"musicrec: artifacts -> {cfg.storage_dir}; Dagster instance -> {home}")
    started = time.perf_counter()
    tag = ("musicrec/invocation", uuid.uuid4().hex)
    run_config: dict = {"execution": {"config": {"in_process": {}}}}
    if not verbose:  # Dagster's event stream stays in the event log (and `dagster dev`)
        run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    tags = {SOURCE_TAG: "cli", tag[0]: tag[1], PID_TAG: str(os.getpid())}
    tags[HOST_TAG] = socket.gethostname()
    with (
        generations.storage_lock(cfg.storage_dir, "musicrec materialize", wait=wait) as owner,
        dg.DagsterInstance.get() as instance,
    ):
        _wait_for_dagster_runs(instance, cfg.storage_dir, wait)
        printer, stop = StepPrinter(instance, tag, owner=owner), threading.Event()
        watcher = threading.Thread(target=_progress, args=(printer, stop), daemon=True)
        watcher.start()
        try:
            # execute_job, not job.execute_in_process: the latter keeps every step's output in
            # memory for the result object (all artifacts at once, over 10 GB at Last.fm-360K
            # scale). Same in-process executor, outputs only go through the IO manager.
            result = dg.execute_job(
                dg.reconstructable(refresh_job),
                instance=instance,
                asset_selection=keys,
                raise_on_error=False,
                tags=tags,
                run_config=run_config,
            )
        finally:
            stop.set()
            watcher.join()
        printer.poll()  # the last steps
        if result.success:
            generations.publish(cfg.storage_dir, result.run_id)
        else:
            generations.discard(cfg.storage_dir, result.run_id)
    elapsed = time.perf_counter() - started
    for check in result.get_asset_check_evaluations():
        if not check.passed:
            print(
                f"musicrec: check {check.check_name} on {check.asset_key.to_user_string()} failed "
                f"({check.severity.value.lower()}): {check.description}",
                file=sys.stderr,
            )
    if result.success:
        done = sorted(
            {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        )
        print(f"musicrec: {len(done)} assets materialized in {elapsed:.1f} s (run {result.run_id})")
        failed = [
            c.check_name
            for c in result.get_asset_check_evaluations()
            if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR
        ]
        if failed:
            print(f"musicrec: failed checks: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0
    for event in result.get_step_failure_events():
        err = event.step_failure_data.error
        while err is not None and err.cause is not None:  # the user's error, not Dagster's wrapper
            err = err.cause
        message = err.message.strip() if err else "unknown error"
        print(f"musicrec: step {event.step_key} failed: {message}", file=sys.stderr)
    print(f"musicrec: run {result.run_id} failed after {elapsed:.1f} s", file=sys.stderr)
    return 1


def web(config: str | None, host: str, port: int) -> int:
    from gradio_app.app import serve

    serve(_use_config(config), host=host, port=port)
    return 0


def demo(config: str | None, host: str, port: int, *, verbose: bool = False) -> int:
    code = materialize(config, verbose=verbose, wait=True)
    if code:
        return code
    return web(config, host, port)


def sample(args: argparse.Namespace) -> int:
    from musicrec_assets.sample import generate_sample

    started = time.perf_counter()
    toml = generate_sample(
        args.out,
        users=args.users,
        artists=args.artists,
        tracks=args.tracks,
        scrobbles=args.scrobbles,
        seed=args.seed,
        pairs=args.pairs,
        listens=args.plays_table,
    )
    print(f"musicrec: sample written in {time.perf_counter() - started:.1f} s; config: {toml}")
    return 0


def playlist(args: argparse.Namespace) -> int:
    """Print or export one listener's playlist, built exactly as the web page builds it."""
    from gradio_app.service import PlaylistPage
    from gradio_app.store import ArtifactStore
    from musicrec_assets.core.config import load_config
    from musicrec_assets.core.playlist import to_csv, to_m3u, to_xspf

    cfg = load_config(_use_config(args.config))
    page = PlaylistPage(ArtifactStore(cfg.storage_dir, cfg.path), cfg.playlist)
    result = page.make_playlist(args.user, args.context, args.length)
    df = result.playlist
    if df is None or df.empty:
        print(f"musicrec: {result.message or 'empty playlist'}", file=sys.stderr)
        return 1
    if result.message:
        print(f"musicrec: {result.message}", file=sys.stderr)
    shown = ["rank", "track_name", "artist", "tempo", "valence", "base_part", "tempo_part"]
    shown += ["valence_part", "final", "reason"]
    render = {
        "table": lambda: df[shown].to_string(index=False, float_format=lambda v: f"{v:.3f}"),
        "csv": lambda: to_csv(df),
        "json": lambda: df.to_json(orient="records", indent=2, force_ascii=False),
        "m3u": lambda: to_m3u(df),
        "xspf": lambda: to_xspf(df, title=f"musicrec: {args.user} ({args.context})"),
    }
    text = render[args.format]()
    if args.out:
        args.out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"musicrec: {len(df)} tracks written to {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    import inspect

    from musicrec_assets.sample import generate_sample

    parser = argparse.ArgumentParser(prog="musicrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--config", help="config TOML (default: the embedded sample's)")
        return p

    p = add("materialize", "materialize assets through Dagster")
    p.add_argument("--select", help="Dagster asset selection, e.g. '*interaction_splits'")
    p.add_argument("--verbose", action="store_true", help="print Dagster's event stream too")
    p.add_argument(
        "--wait", action="store_true", help="wait for a refresh holding the storage to finish"
    )
    for name, help_ in (
        ("web", "serve the Gradio page"),
        ("demo", "materialize the sample, then serve"),
    ):
        p = add(name, help_)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=7860)
        if name == "demo":
            p.add_argument("--verbose", action="store_true", help="print Dagster's event stream")
    p = add("sample", "write the synthetic sample data and its config")
    p.add_argument("--out", required=True, type=Path)
    defaults = inspect.signature(generate_sample).parameters
    for key in ("users", "artists", "tracks", "scrobbles", "seed"):
        p.add_argument(f"--{key}", type=int, default=defaults[key].default)
    p.add_argument(
        "--pairs",
        type=int,
        default=None,
        help="distinct listener-artist pairs to aim for (default: Heaps' law)",
    )
    p.add_argument(
        "--plays-table",
        nargs="?",
        const="plays_table",
        default="scrobbles",
        choices=("plays_table", "both"),
        help="write the listens as lastfm/plays.parquet (user, artist, plays; Last.fm-360K "
        "layout) instead of the scrobble log, or with 'both' as well as it; the config reads it",
    )
    p = add("playlist", "print or export a listener's playlist")
    p.add_argument("--user", required=True)
    p.add_argument("--context", default="default")
    p.add_argument("--length", type=int, default=None)
    p.add_argument("--format", default="table", choices=("table", "csv", "json", "m3u", "xspf"))
    p.add_argument("--out", type=Path, help="write to this file instead of standard output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "materialize":
            return materialize(args.config, args.select, verbose=args.verbose, wait=args.wait)
        if args.command == "web":
            return web(args.config, args.host, args.port)
        if args.command == "demo":
            return demo(args.config, args.host, args.port, verbose=args.verbose)
        if args.command == "sample":
            return sample(args)
        return playlist(args)
    except (ValueError, FileNotFoundError) as exc:  # InputError/ConfigError are ValueErrors
        print(f"musicrec: {exc}", file=sys.stderr)
        return 2
    except generations.StorageBusyError as exc:
        print(f"musicrec: refused: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
