"""Config validation, one test per rule family: every error names the file, the section, the key,
the bad value and what is allowed, before anything runs."""

from pathlib import Path

import pytest

from musicrec_assets.core.config import ConfigError, check_sources, load_config

SOURCES = """
[sources.listens]
format = "plays_table"
path = "plays.csv"
"""


def _load(tmp_path: Path, body: str, head: str = "seed = 1\n"):
    path = tmp_path / "musicrec.toml"
    path.write_text(head + SOURCES + body)
    (tmp_path / "plays.csv").write_text("user,artist,plays\nu,a,1\n")
    return path, lambda: load_config(path)


def _fails(tmp_path, body, *needles, head="seed = 1\n"):
    path, load = _load(tmp_path, body, head)
    with pytest.raises(ConfigError) as err:
        load()
    text = str(err.value)
    assert str(path) in text, text
    for needle in needles:
        assert needle in text, text
    return text


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('seed = "abc"\n', ("seed = 'abc'", "expected an integer")),
        ("seed = true\n", ("seed = True", "expected an integer")),
        ("threads = -1\n", ("threads = -1", "integer >= 0")),
        ("threads = 1.5\n", ("threads = 1.5", "integer >= 0")),
    ],
)
def test_types_of_top_level_values(tmp_path, body, needles):
    _fails(tmp_path, "", *needles, head=body)


def test_threads_default_to_the_machines_cores(tmp_path):
    """One setting drives every stage's thread count; 0 (the default) means the machine's."""
    from musicrec_assets.core.parallel import THREADS

    assert load_config(_load(tmp_path, "")[0]).num_threads == THREADS
    assert load_config(_load(tmp_path, "", head="threads = 3\n")[0]).num_threads == 3


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ("[als]\nfactors = 8.5\n", ("[als] factors = 8.5", "expected an integer")),
        ('[als]\nfactors = "64"\n', ("[als] factors = '64'", "expected an integer")),
        ("[als]\nwarm_start = 1\n", ("[als] warm_start = 1", "expected true or false")),
        ("[reranker]\nlearning_rate = true\n", ("learning_rate = True", "expected a number")),
        ('[playlist.contexts.run]\ntempo = "fast"\n', ("[playlist.contexts.run] tempo",)),
        ("[blend]\ngrid = 0.5\n", ("[blend] grid = 0.5", "expected a list of a number")),
        ("[storage]\ndir = 3\n", ("[storage] dir = 3", "expected a string")),
        ("[tuning]\ntrials = {als = 2.5}\n", ("[tuning] trials", "a table of an integer")),
    ],
)
def test_types_are_checked_per_key(tmp_path, body, needles):
    _fails(tmp_path, body, *needles)


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ("[als]\nfactors = -8\n", ("[als] factors = -8", "must be >= 1")),
        ("[als]\nfactors = 0\n", ("factors = 0", ">= 1")),
        ("[als]\nalpha = 0\n", ("[als] alpha = 0", "> 0")),
        ("[als]\nbm25_b = 1.2\n", ("bm25_b = 1.2", "in [0, 1]")),
        ("[playlist.contexts.run]\nw_tempo = 1.5\n", ("w_tempo = 1.5", "in [0, 1]")),
        ("[playlist]\nlength = 0\n", ("[playlist] length = 0", ">= 1")),
        ("[reranker]\nfeature_fraction = 0\n", ("feature_fraction = 0", "in (0, 1]")),
        ("[blend]\ngrid = [0.0, 1.5]\n", ("[blend] grid", "each value must be in [0, 1]")),
        ("[blend]\nalpha = 2\n", ("[blend] alpha = 2", '"auto" or a number in [0, 1]')),
        ("[tuning]\ntrials = {als = -1}\n", ("[tuning] trials", "each value must be >= 0")),
        ("[split]\nval = 0\n", ("[split] val = 0", "in (0, 1)")),
    ],
)
def test_values_are_range_checked(tmp_path, body, needles):
    _fails(tmp_path, body, *needles)


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('[split]\nmethod = "rolling"\n', ("method = 'rolling'", "one of auto, temporal, random")),
        ('[als]\nweighting = "tfidf"\n', ("weighting = 'tfidf'", "one of bm25, log1p, none")),
        ('[itemknn]\nkind = "jaccard"\n', ("kind = 'jaccard'", "one of cosine, bm25, tfidf")),
    ],
)
def test_choices_are_named(tmp_path, body, needles):
    _fails(tmp_path, body, *needles)


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('[storage]\ndir = "x"\nfolder = "y"\n', ("unknown key(s) in [storage]: folder",)),
        ("[als]\nfactor = 8\n", ("unknown key(s) in [als]: factor", "known: ")),
        ("[alss]\nfactors = 8\n", ("unknown section(s): alss",)),
        ('[sources.genres]\nformat = "x"\npath = "y"\n', ("unknown source(s): genres",)),
    ],
)
def test_every_section_and_key_is_known(tmp_path, body, needles):
    _fails(tmp_path, body, *needles)


def test_values_that_only_fail_together(tmp_path):
    _fails(tmp_path, "[split]\nval = 0.5\ntest = 0.5\n", "val + test must be below 1")


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('[schedule]\ncron = "every day"\n', ("cron = 'every day'", "five-field cron")),
        ('[schedule]\ncron = "0 25 * * *"\n', ("cron = '0 25 * * *'",)),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', ("timezone = 'Mars/Olympus'", "IANA")),
    ],
)
def test_schedule_is_a_cron_and_a_time_zone(tmp_path, body, needles):
    _fails(tmp_path, body, *needles)


def test_valid_schedules_pass(tmp_path):
    for cron in ("0 4 * * *", "*/15 8-18 * * mon-fri", "30 2 1 jan,jul *", "@daily"):
        _, load = _load(tmp_path, f'[schedule]\ncron = "{cron}"\ntimezone = "Europe/Berlin"\n')
        assert load().schedule.cron == cron


def test_sources_must_exist_before_a_run(tmp_path):
    path, load = _load(tmp_path, "")
    cfg = load()
    check_sources(cfg)  # plays.csv exists
    (tmp_path / "plays.csv").unlink()
    with pytest.raises(ConfigError) as err:
        check_sources(cfg)
    assert "[sources.listens] path" in str(err.value) and "plays.csv" in str(err.value)
    assert str(path) in str(err.value)
    glob = SOURCES.replace("plays.csv", "exports/*.csv")
    path.write_text("seed = 1\n" + glob)
    with pytest.raises(ConfigError, match="the pattern matches nothing"):
        check_sources(load_config(path))


def test_a_valid_config_loads_with_its_values(tmp_path):
    _, load = _load(tmp_path, "[als]\nfactors = 32\n[playlist.contexts.run]\ntempo = 170\n")
    cfg = load()
    assert cfg.als.factors == 32 and cfg.playlist.contexts["run"].tempo == 170.0
    assert isinstance(cfg.playlist.contexts["run"].tempo, float)  # ints stored as floats


def test_the_engine_defaults_to_local(tmp_path):
    """No [engine] section: nothing changes for current users."""
    cfg = load_config(_load(tmp_path, "")[0])
    assert cfg.engine.kind == "local"
    assert cfg.engine.spark.master == "local[2]"
    assert cfg.engine.spark.scratch_dir == cfg.storage_dir / "spark"


def test_a_spark_engine_loads_with_its_values(tmp_path):
    body = (
        '[engine]\nkind = "spark"\n[engine.spark]\nmaster = "local-cluster[2,1,1024]"\n'
        'executor_memory = "2g"\nscratch_dir = "scratch"\n'
        "conf = { 'spark.sql.shuffle.partitions' = 8, 'spark.ui.enabled' = false }\n"
        "[engine.spark.als]\nrank = 16\nreg_param = 0.1\nalpha = 5\nmax_iter = 12\n"
    )
    cfg = load_config(_load(tmp_path, body)[0])
    spark = cfg.engine.spark
    assert (spark.als.rank, spark.als.reg_param, spark.als.alpha) == (16, 0.1, 5.0)
    assert spark.als.max_iter == 12 and spark.als.checkpoint_interval == 5
    assert cfg.engine.kind == "spark" and spark.master == "local-cluster[2,1,1024]"
    assert spark.conf == {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false"}
    assert spark.executor_memory == "2g" and spark.scratch_dir == tmp_path / "scratch"
    assert spark.python is None


@pytest.mark.parametrize(
    "master",
    [
        "local",
        "local[2]",
        "local[*]",
        "local[4,3]",
        "local-cluster[2,1,1024]",
        "spark://127.0.0.1:7077",
        "spark://a:7077,b:7077",
        "k8s://https://10.0.0.1:6443",
    ],
)
def test_spark_masters_that_are_allowed(tmp_path, master):
    body = f'[engine]\nkind = "spark"\n[engine.spark]\nmaster = "{master}"\n'
    assert load_config(_load(tmp_path, body)[0]).engine.spark.master == master


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('[engine]\nkind = "ray"\n', ("[engine] kind = 'ray'", "one of local, spark")),
        ('[engine]\nkind = "spark"\ncores = 2\n', ("unknown key(s) in [engine]: cores",)),
        (
            '[engine]\nkind = "spark"\n[engine.spark]\nmaster = "local[two]"\n',
            ("[engine.spark] master = 'local[two]'", "local[N]", "spark://host:port"),
        ),
        ('[engine.spark]\nmaster = "yarn-client"\n', ("master = 'yarn-client'", "k8s://")),
        ('[engine.spark]\nmaster = "spark://host"\n', ("master = 'spark://host'",)),
        ("[engine.spark]\nmaster = 2\n", ("[engine.spark] master = 2", "expected a string")),
        ("[engine.spark]\nworkers = 2\n", ("unknown key(s) in [engine.spark]: workers",)),
        ("[engine.spark.als]\nrank = 0\n", ("[engine.spark.als] rank = 0", ">= 1")),
        ("[engine.spark.als]\nalpha = 0\n", ("[engine.spark.als] alpha = 0", "> 0")),
        ("[engine.spark.als]\nreg_param = -1\n", ("[engine.spark.als] reg_param = -1",)),
        ("[engine.spark.als]\nregularization = 1\n", ("[engine.spark.als]: regularization",)),
        (
            '[engine.spark]\nexecutor_memory = "lots"\n',
            ("[engine.spark] executor_memory = 'lots'", '"512m" or "2g"'),
        ),
        (
            "[engine.spark]\nconf = { 'sql.shuffle.partitions' = 8 }\n",
            ("[engine.spark] conf key 'sql.shuffle.partitions'", "start with 'spark.'"),
        ),
        (
            "[engine.spark]\nconf = { 'spark.master' = 'local[4]' }\n",
            ("conf key 'spark.master'", "set [engine.spark] master instead"),
        ),
        (
            "[engine.spark]\nconf = { 'spark.executor.memory' = '4g' }\n",
            ("conf key 'spark.executor.memory'", "executor_memory instead"),
        ),
        (
            "[engine.spark]\nconf = { 'spark.jars' = ['a.jar'] }\n",
            ("[engine.spark] conf", "a table of a string"),
        ),
        (
            '[engine.spark]\npython = "no/such/python3"\n',
            ("[engine.spark] python = 'no/such/python3'", "no such file"),
        ),
        (
            '[storage]\ndir = "d"\n[engine.spark]\nscratch_dir = "d"\n',
            ("[engine.spark] scratch_dir = 'd'", "must not be [storage] dir"),
        ),
    ],
)
def test_engine_settings_are_checked(tmp_path, body, needles):
    _fails(tmp_path, body, *needles)


def test_the_spark_engine_is_refused_without_pyspark_or_java(tmp_path, monkeypatch):
    """Checked before a run: each missing piece named with how to install it."""
    import importlib.util
    import shutil

    from musicrec_assets.spark import requirements

    cfg = _load(tmp_path, '[engine]\nkind = "spark"\n')[1]()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a)
    )
    with pytest.raises(ConfigError) as err:
        requirements.check_engine(cfg)
    message = str(err.value)
    assert str(cfg.path) in message
    assert "uv sync --extra spark" in message and "install a JDK 17" in message
    local = _load(tmp_path, '[engine]\nkind = "local"\n')[1]()
    requirements.check_engine(local)  # the local engine needs neither
