"""The config schema: unknown keys, types, ranges and choices are one-line errors that name the key;
overrides are validated the same way; the defaults are never changed by a load or an override."""
import copy

import pytest

from kfusion import config as config_mod
from kfusion.errors import KfusionError


def _load_text(tmp_path, text, overrides=None):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return config_mod.load(p, overrides)


def test_empty_config_is_the_defaults(tmp_path):
    assert config_mod.from_dict({}) == config_mod.DEFAULTS
    assert config_mod.from_dict(None) == config_mod.DEFAULTS
    assert _load_text(tmp_path, "") == config_mod.DEFAULTS  # an empty file loads as None


def test_given_values_replace_defaults_and_the_rest_is_filled_in():
    cfg = config_mod.from_dict({"seed": 3, "fusion": {"penalty": 250, "strategy": "late"}})
    assert cfg["seed"] == 3 and cfg["fusion"]["strategy"] == "late"
    assert cfg["fusion"]["penalty"] == 250.0 and isinstance(cfg["fusion"]["penalty"], float)  # int -> float
    assert cfg["fusion"]["epochs"] == config_mod.DEFAULTS["fusion"]["epochs"]
    assert cfg["lifting"] == config_mod.DEFAULTS["lifting"]


@pytest.mark.parametrize("given,match", [
    ({"nmae": "x"}, r"unknown key 'nmae'; did you mean 'name'\?"),
    ({"fusion": {"zzz": 1}}, r"unknown key 'fusion.zzz'; allowed: alpha_beta_2, alpha_init, "),
    ({"fusion": {"lambda": 1}}, r"unknown key 'fusion.lambda'; did you mean 'penalty'\?"),  # the paper's name
    ({"fusion": {"alpha0": 1}}, r"did you mean 'alpha_init'\?"),
    ({"hourglass": {"lr": 1e-3}}, r"unknown key 'hourglass.lr'; did you mean 'learning_rate'\?"),
    ({"data": {"records": "d", "extra": 1}}, r"unknown key 'data.extra'"),
    ({"fusion": {"fusion_rate": 4}}, r"unknown key 'fusion.fusion_rate'; did you mean 'alpha_learning_rate'"),
])
def test_unknown_keys_name_the_key_and_a_close_or_allowed_one(given, match):
    with pytest.raises(KfusionError, match=match) as e:
        config_mod.from_dict(given)
    assert "\n" not in str(e.value) and len(str(e.value)) < 200


def test_train_strategy_was_renamed_distribute():
    with pytest.raises(KfusionError, match=r"unknown key 'train.strategy'; did you mean 'distribute'\?"):
        config_mod.from_dict({"train": {"strategy": "mirrored"}})
    with pytest.raises(KfusionError, match=r"'train.strategy'.*'distribute'"):
        config_mod.override(config_mod.from_dict({}), "train.strategy", "mirrored")
    assert config_mod.from_dict({"train": {"distribute": "mirrored"}})["train"]["distribute"] == "mirrored"
    # fusion.strategy is a key of its own (the fusion strategy), not the old name
    assert config_mod.from_dict({"fusion": {"strategy": "free"}})["fusion"]["strategy"] == "free"


@pytest.mark.parametrize("given,match", [
    ({"seed": "0"}, r"'seed' is '0'; expected int"),
    ({"seed": 1.5}, r"'seed' is 1.5; expected int"),
    ({"seed": True}, r"'seed' is True; expected int"),  # a bool is not an int here
    ({"fusion": {"epochs": "many"}}, r"'fusion.epochs' is 'many'; expected int"),
    ({"fusion": {"penalty": "big"}}, r"'fusion.penalty' is 'big'; expected float"),
    ({"fusion": {"penalty": False}}, r"'fusion.penalty' is False; expected float"),
    ({"fusion": {"alpha_squared": 1}}, r"'fusion.alpha_squared' is 1; expected bool"),
    ({"train": {"validate": "yes"}}, r"'train.validate' is 'yes'; expected bool"),
    ({"name": 7}, r"'name' is 7; expected str"),
    ({"augment": {"scale": "0.8"}}, r"'augment.scale' is '0.8'; expected list"),
    ({"augment": {"scale": [0.8, "x"]}}, r"'augment.scale'.*expected list"),
    ({"hourglass": {"heatmap_size": "32"}}, r"'hourglass.heatmap_size' is '32'; expected int"),
    ({"fusion": {"beta_init": "mid"}}, r"'fusion.beta_init' is 'mid'; expected float"),
    ({"fusion": "tiny"}, r"'fusion' must be a mapping, got str"),
])
def test_wrong_types_name_key_value_and_type(given, match):
    with pytest.raises(KfusionError, match=match):
        config_mod.from_dict(given)


@pytest.mark.parametrize("given,match", [
    ({"fusion": {"epochs": 0}}, r"'fusion.epochs' is 0; expected >= 1"),
    ({"lifting": {"batch_size": -4}}, r"'lifting.batch_size' is -4; expected >= 1"),
    ({"fusion": {"penalty": -1}}, r"'fusion.penalty' is -1.0; expected >= 0.0"),
    ({"fusion": {"teacher_weight": -0.5}}, r"'fusion.teacher_weight' is -0.5; expected >= 0.0"),
    ({"data": {"num_test": -1}}, r"'data.num_test' is -1; expected >= 0"),
    ({"train": {"steps_per_epoch": 0}}, r"'train.steps_per_epoch' is 0; expected >= 1"),
    ({"fusion": {"learning_rate": 0}}, r"'fusion.learning_rate' is 0.0; expected > 0.0"),
    ({"hourglass": {"sigma": -0.5}}, r"'hourglass.sigma' is -0.5; expected > 0.0"),
    ({"fusion": {"alpha_learning_rate": 0.0}}, r"expected > 0.0"),
    ({"lifting": {"dropout": 1.0}}, r"'lifting.dropout' is 1.0; expected a rate in \[0, 1\)"),
    ({"fusion": {"alpha_beta_2": 1.0}}, r"expected Adam's beta_2 in \(0, 1\)"),
    ({"fusion": {"alpha_beta_2": 0}}, r"expected Adam's beta_2 in \(0, 1\)"),
    ({"hourglass": {"zoom_test": 1.0}}, r"'hourglass.zoom_test' is 1.0; expected a fraction in \(0, 1\) of the crop"),
    ({"hourglass": {"zoom_test": "yes"}}, r"'hourglass.zoom_test' is 'yes'; expected float"),
    ({"data": {"background_share": 1.5}}, r"'data.background_share' is 1.5; expected a fraction in \[0, 1\]"),
    ({"data": {"backgrounds": 5}}, r"'data.backgrounds' is 5; expected a folder path \(a string\) or null"),
    ({"data": {"backgrounds": ""}}, r"'data.backgrounds' is ''; expected a folder path"),
])
def test_values_out_of_range_are_refused(given, match):
    with pytest.raises(KfusionError, match=match):
        config_mod.from_dict(given)


def test_range_bounds_themselves_are_allowed():
    cfg = config_mod.from_dict({"fusion": {"epochs": 1, "penalty": 0, "alpha_beta_2": 0.5},
                                "lifting": {"dropout": 0.0, "blocks": 0}, "data": {"num_test": 0, "background_share": 1.0,
                                                                                  "backgrounds": "photos/"},
                                "train": {"checkpoint_every": 0}})
    assert cfg["fusion"]["penalty"] == 0.0 and cfg["lifting"]["blocks"] == 0


@pytest.mark.parametrize("path,bad,good", [
    (("data", "source"), "coco", "lsp"),
    (("fusion", "strategy"), "sideways", "cm_only"),
    (("train", "distribute"), "tpu", "multiworker"),
    (("lifting", "schedule"), "linear", "cosine"),
    (("fusion", "alpha_optimizer"), "separate", "shared"),
    (("train", "mixed_precision"), "float16", "mixed_bfloat16"),
])
def test_choices(path, bad, good):
    section, key = path
    with pytest.raises(KfusionError, match=rf"'{section}.{key}' is '{bad}'; expected one of \["):
        config_mod.from_dict({section: {key: bad}})
    assert config_mod.from_dict({section: {key: good}})[section][key] == good


def test_choices_refuse_none_unless_none_is_a_choice():
    with pytest.raises(KfusionError, match="'fusion.strategy' is None"):
        config_mod.from_dict({"fusion": {"strategy": None}})
    assert config_mod.from_dict({"train": {"mixed_precision": None}})["train"]["mixed_precision"] is None


def test_none_means_automatic_where_the_default_is_none():
    cfg = config_mod.from_dict({"hourglass": {"heatmap_size": None}, "fusion": {"beta_init": None}})
    assert cfg["hourglass"]["heatmap_size"] is None and cfg["fusion"]["beta_init"] is None
    assert config_mod.from_dict({"fusion": {"beta_init": 2}})["fusion"]["beta_init"] == 2.0
    assert config_mod.from_dict({"hourglass": {"zoom_test": 0.875}})["hourglass"]["zoom_test"] == 0.875


def test_override_sets_one_key_validated_and_leaves_the_input_alone():
    cfg = config_mod.from_dict({})
    before = copy.deepcopy(cfg)
    new = config_mod.override(cfg, "fusion.epochs", 3)
    assert new["fusion"]["epochs"] == 3 and cfg == before
    assert config_mod.override(new, "fusion.penalty", 10)["fusion"]["penalty"] == 10.0
    assert config_mod.override(cfg, "seed", 9)["seed"] == 9
    with pytest.raises(KfusionError, match=r"'fusion.epochs' is 'x'; expected int"):
        config_mod.override(cfg, "fusion.epochs", "x")
    with pytest.raises(KfusionError, match=r"'fusion.epochs' is 0; expected >= 1"):
        config_mod.override(cfg, "fusion.epochs", 0)
    with pytest.raises(KfusionError, match=r"'fusion.strategy' is 'x'; expected one of"):
        config_mod.override(cfg, "fusion.strategy", "x")
    with pytest.raises(KfusionError, match=r"unknown key 'fusion.lambda'; did you mean 'penalty'\?"):
        config_mod.override(cfg, "fusion.lambda", 1.0)
    with pytest.raises(KfusionError, match=r"unknown key 'fusoin.epochs'"):
        config_mod.override(cfg, "fusoin.epochs", 1)
    with pytest.raises(KfusionError, match=r"unknown key 'seed.x'"):
        config_mod.override(cfg, "seed.x", 1)  # not a section
    assert cfg == before


def test_load_applies_overrides_after_the_file(tmp_path):
    cfg = _load_text(tmp_path, "fusion:\n  epochs: 5\n", {"fusion.epochs": 2, "train.distribute": "mirrored"})
    assert cfg["fusion"]["epochs"] == 2 and cfg["train"]["distribute"] == "mirrored"
    with pytest.raises(KfusionError, match=r"c.yaml: 'fusion.epochs' is -1"):  # the file is named
        _load_text(tmp_path, "", {"fusion.epochs": -1})
    with pytest.raises(KfusionError, match=r"c.yaml: unknown key 'fusion.epoch'"):
        _load_text(tmp_path, "fusion:\n  epoch: 5\n")


def test_parse_override_reads_yaml_values():
    assert config_mod.parse_override("fusion.penalty=1.0e+3") == ("fusion.penalty", 1000.0)
    assert config_mod.parse_override("fusion.epochs = 4") == ("fusion.epochs", 4)
    assert config_mod.parse_override("fusion.beta_init=null") == ("fusion.beta_init", None)
    assert config_mod.parse_override("augment.scale=[0.5, 1]") == ("augment.scale", [0.5, 1])
    assert config_mod.parse_override("name=a=b") == ("name", "a=b")
    with pytest.raises(KfusionError, match="expected KEY=VALUE"):
        config_mod.parse_override("fusion.epochs")


@pytest.mark.parametrize("text,value", [("fusion.penalty=1e3", 1000.0), ("fusion.learning_rate=5e-3", 0.005)])
def test_exponents_without_a_dot_are_numbers(text, value):
    key, parsed = config_mod.parse_override(text)
    assert config_mod.override(config_mod.from_dict({}), key, parsed)["fusion"][key.split(".")[1]] == value


def test_loading_never_changes_the_defaults():
    before = copy.deepcopy(config_mod.DEFAULTS)
    cfg = config_mod.from_dict({"augment": {"scale": [0.5, 1.0]}})
    cfg["augment"]["scale"].append(3.0)
    config_mod.override(cfg, "fusion.epochs", 2)
    plain = config_mod.from_dict({"augment": {"flip": True}})  # lists it was not given: still copies
    plain["augment"]["scale"].append(3.0)
    assert config_mod.DEFAULTS == before


def test_dump_round_trips(tmp_path):
    cfg = config_mod.from_dict({"fusion": {"preset": "tiny", "penalty": 12.5}, "augment": {"scale": [0.5, 1.0]}})
    assert _load_text(tmp_path, config_mod.dump(cfg)) == cfg
