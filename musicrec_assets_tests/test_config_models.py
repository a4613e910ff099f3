"""The model sections of the config: generators, the search budget, explicit values that the
search must not touch, and errors that name the file and the key."""

from pathlib import Path

import pytest

from musicrec_assets.core.config import GENERATORS, ConfigError, load_config
from musicrec_assets.core.model.generators.stages import apply_choice, settings_from_config

HEAD = """
seed = 3
[sources.listens]
format = "plays_table"
path = "plays.csv"
"""


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "musicrec.toml"
    path.write_text(HEAD + body)
    return path


def test_defaults_run_every_generator_and_search_everything(tmp_path):
    cfg = load_config(_config(tmp_path, ""))
    assert cfg.candidates.generators == GENERATORS
    assert cfg.fixed == {}
    assert cfg.tuning.enabled and cfg.tuning.trials["als"] > cfg.tuning.trials["ease"] > 0
    assert set(cfg.reranker.objectives) == {"binary", "lambdarank"}
    assert cfg.reranker.gate_confidence == 0.9


def test_explicit_values_are_recorded_as_fixed_and_win_over_the_search(tmp_path):
    cfg = load_config(
        _config(
            tmp_path,
            """
[als]
factors = 32
weighting = "bm25"
[ease]
regularization = 250.0
[tuning]
seconds = 10
trials = {als = 7}
""",
        )
    )
    assert cfg.fixed == {
        "als": {"factors": 32, "weighting": "bm25"},
        "ease": {"regularization": 250.0},
    }
    assert cfg.tuning.trials["als"] == 7 and cfg.tuning.trials["ease"] == 8  # others default
    # a choice that tried to change a fixed value cannot: the search never varies it (tuning),
    # and applying a choice keeps the config's other values
    settings = apply_choice(settings_from_config(cfg), {"als": {"alpha": 3.0, "factors": 32}})
    assert settings["als"].alpha == 3.0 and settings["als"].factors == 32
    assert settings["als"].weighting == "bm25" and settings["ease"].regularization == 250.0


def test_generators_can_be_limited_but_als_stays(tmp_path):
    cfg = load_config(
        _config(tmp_path, '[candidates]\ngenerators = ["popularity", "ease", "als"]\n')
    )
    assert cfg.candidates.generators == ("als", "ease", "popularity")  # canonical order
    assert set(settings_from_config(cfg)) == {"als", "ease", "popularity"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[candidates]\ngenerators = ["ease"]\n', "must include als"),
        ('[candidates]\ngenerators = ["als", "slim"]\n', r"generators = \['als', 'slim'\].*one of"),
        ('[ease]\nweighting = "bm25"\n', r"\[ease\] weighting = 'bm25' is not allowed: .*one of"),
        ('[itemknn]\nkind = "jaccard"\n', r"\[itemknn\] kind = 'jaccard' is not allowed"),
        ("[tuning]\ntrials = {popularity = 3}\n", r"\[tuning\] trials = .*keys must be among"),
        ("[tuning]\nbudget = 3\n", r"unknown key\(s\) in \[tuning\]: budget"),
        ('[reranker]\nobjectives = ["xendcg"]\n', r"\[reranker\] objectives = \['xendcg'\]"),
        ("[reranker]\ngate_confidence = 1.5\n", r"gate_confidence = 1.5 .* in \(0, 1\)"),
        ("[rp3beta]\nbeta = 0.5\ngamma = 1\n", r"unknown key\(s\) in \[rp3beta\]: gamma"),
    ],
)
def test_bad_model_settings_name_the_file_and_the_key(tmp_path, body, message):
    path = _config(tmp_path, body)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path)
    assert str(path) in str(err.value)
