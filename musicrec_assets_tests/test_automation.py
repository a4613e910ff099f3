"""The refresh schedule and the content-hash sensor."""

from __future__ import annotations

import os

import dagster as dg

from musicrec_assets.defs import automation


def _config(tmp_path):
    data = tmp_path / "plays.csv"
    data.write_text("user,artist,plays\nu1,A,3\n")
    cfg = tmp_path / "musicrec.toml"
    cfg.write_text('[sources.listens]\nformat = "plays_table"\npath = "plays.csv"\n')
    return cfg, data


def _tick(cursor):
    with dg.build_sensor_context(cursor=cursor) as ctx:
        return automation.source_files_changed(ctx)


def test_sensor_requests_a_run_only_when_content_changes(tmp_path, monkeypatch):
    cfg, data = _config(tmp_path)
    monkeypatch.setenv("MUSICREC_CONFIG", str(cfg))

    first = _tick(None)
    assert not first.run_requests and first.cursor  # baseline recorded

    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touch: same bytes
    second = _tick(first.cursor)
    assert not second.run_requests

    data.write_text("user,artist,plays\nu1,A,4\n")
    third = _tick(second.cursor)
    assert len(third.run_requests) == 1
    assert "plays.csv" in third.run_requests[0].tags["musicrec/changed"]

    fourth = _tick(third.cursor)
    assert not fourth.run_requests  # the same change is not requested twice


def test_schedule_and_sensor_default_to_stopped():
    assert automation.daily_refresh.default_status == dg.DefaultScheduleStatus.STOPPED
    assert automation.source_files_changed.default_status == dg.DefaultSensorStatus.STOPPED
    assert automation.daily_refresh.cron_schedule
