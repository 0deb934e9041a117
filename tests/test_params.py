"""Typed params: the shipped params.yaml parses; unknown or ill-typed keys are one-line errors naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from msrgan.errors import UserError
from msrgan.params import SECTIONS, load_params, parse_section, section
from msrgan.stage import run_stage

REPO = Path(__file__).resolve().parents[1]


def test_shipped_params_parse_with_every_section():
    data = load_params(REPO / "params.yaml")
    assert isinstance(data["seed"], int)
    for name in SECTIONS:
        seed, params = section(name, REPO / "params.yaml")
        assert seed == data["seed"] and params == parse_section(name, data.get(name) or {})
    fetch = parse_section("fetch", data["fetch"])
    assert fetch.local.layout == "auto" and data["prepare"]["hr_size"] == 96 and data["prepare"]["scale"] == 4


@pytest.mark.parametrize("text, message", [
    ("prepare:\n  hr_sise: 64\n", "p.yaml: prepare.hr_sise: unknown key"),
    ("prepare:\n  split:\n    vall: 0.1\n", "p.yaml: prepare.split.vall: unknown key"),
    ("prepare:\n  hr_size: big\n", "p.yaml: prepare.hr_size: "),
    ("prepare:\n  split:\n    test: 1.5\n", "p.yaml: prepare.split.test: "),
    ("fetch:\n  local:\n    layout: zip\n", "p.yaml: fetch.local.layout: "),
    ("merge:\n  percentiles: [99, 1]\n", "p.yaml: merge.percentiles: expected [low, high] with 0 <= low < high"),
    ("merge:\n  rgb: [red, green]\n", "p.yaml: merge.rgb"),
    ("merge:\n  png_compression: 10\n", "p.yaml: merge.png_compression: "),
    ("seed: one\n", "p.yaml: seed: expected an integer"),
    ("fetsh: {}\n", "p.yaml: unknown section 'fetsh'"),
    ("prepare: [1\n", "p.yaml: not valid YAML"),
])
def test_bad_params_name_the_key(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(text)
    name = text.split(":")[0] if text.split(":")[0] in SECTIONS else "prepare"
    with pytest.raises(UserError) as err:
        section(name, "p.yaml")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_missing_params_file(tmp_path):
    with pytest.raises(UserError, match="params file not found"):
        section("fetch", tmp_path / "none.yaml")


def test_a_stage_reads_several_sections_through_run_stage(tmp_path, capsys):
    """report reads evaluate's and segment's examples: both typed, the seed once, a bad key one line and exit 2."""
    (tmp_path / "p.yaml").write_text("seed: 7\nevaluate:\n  examples: 3\nsegment:\n  examples: 2\n")
    got = []
    run_stage(("evaluate", "segment"), lambda seed, e, s: got.append((seed, e.examples, s.examples)),
              str(tmp_path / "p.yaml"))
    assert got == [(7, 3, 2)]
    (tmp_path / "p.yaml").write_text("segment:\n  exampels: 2\n")
    with pytest.raises(SystemExit) as exit_:
        run_stage(("evaluate", "segment"), lambda *_: None, str(tmp_path / "p.yaml"))
    assert exit_.value.code == 2 and "segment.exampels: unknown key" in capsys.readouterr().err


@pytest.mark.parametrize("text, root, labels", [
    ("root: 2017", "2017", ""),                       # a folder named like a number
    ("root: 2024-01-15", "2024-01-15", ""),           # ... or like a date
    ("root: data\nlabels: null", "data", ""),         # null / ~ means no labels file given, like ""
    ("root: data\nlabels: ~", "data", ""),
])
def test_path_params_are_taken_as_the_paths_they_are(text, root, labels):
    local = parse_section("fetch", {"local": yaml.safe_load(text)}).local
    assert (local.root, local.labels) == (root, labels)


def test_params_yaml_states_the_typed_defaults():
    """Defaults live in one place: the typed params, and the shipped params.yaml says exactly them."""
    shipped = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    for name, model in SECTIONS.items():
        assert parse_section(name, shipped[name]) == model(), f"params.yaml section {name} differs from its defaults"


def test_the_paper_overlay_names_real_keys_with_valid_values():
    """params/paper-gpu.args: every -S key exists in params.yaml and the overlaid sections still validate."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for line in (REPO / "params" / "paper-gpu.args").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        flag, assignment = line.split(maxsplit=1)
        key, value = assignment.split("=", 1)
        assert flag == "-S", line
        *parents, leaf = key.split(".")
        node = raw
        for part in parents:
            node = node[part]
        assert leaf in node, f"{key}: not a key of params.yaml"
        node[leaf] = yaml.safe_load(value)
    for name in ("train_vgg", "train_srresnet", "train_srgan"):
        parse_section(name, raw[name])
    assert raw["train_srresnet"]["norm"] == "batch" and raw["train_srresnet"]["upsample"] == "shuffle"
