"""Pipeline files: the shipped pipelines load, and every error names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from medfuse.errors import PipelineError
from medfuse.pipeline.config import RegisterStep, load_pipeline, parse_pipeline

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ["pet_ct", "mr_ct", "spect_ct", "mr_pet", "pet_ct_quick"]

VALID = """\
name: t
inputs:
  ct: {role: fixed, modality: CT}
  pet: {role: moving, modality: PT}
  mask: {role: mask, optional: true}
steps:
  - step: load
  - step: register
    mode: geometry
  - step: export
    items: [registered]
"""


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_pipelines_load(name: str) -> None:
    pipeline = load_pipeline(REPO / "pipelines" / f"{name}.yaml")
    assert pipeline.name == name
    assert pipeline.step("load") is not None and pipeline.step("register") is not None
    assert len(pipeline.sha256) == 64


def test_pet_ct_roles() -> None:
    pipeline = load_pipeline(REPO / "pipelines" / "pet_ct.yaml")
    assert (pipeline.fixed_role, pipeline.moving_roles, pipeline.mask_roles) == \
        ("ct", ["pet"], ["mask"])
    assert pipeline.inputs["mask"].optional and not pipeline.inputs["pet"].optional


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    mode: geometry", "    mode: regster",
     r"t\.yaml: line 9, steps\[1\]\.mode: Input should be 'auto', 'register' or 'geometry' "
     r"\(got 'regster'\)"),
    ("  - step: export", "  - step: exprt", r"line 10, steps\[2\]\.step: unknown step 'exprt'"),
    ("    items: [registered]", "    items: [registered, nope]", r"line 11, steps\[2\]\.items\[1\]"),
    ("    mode: geometry", "    mode: geometry\n    colour: red",
     r"line 10, steps\[1\]\.colour: Extra inputs are not permitted"),
    ("  pet: {role: moving, modality: PT}", "  pet: {role: movin, modality: PT}",
     r"line 4, inputs\.pet\.role: Input should be"),
    ("  pet: {role: moving, modality: PT}", "  pet: {modality: PT}",
     r"line 4, inputs\.pet\.role: Field required"),
    ("  pet: {role: moving, modality: PT}", "  pet: {role: fixed, modality: PT}",
     r"line 2, inputs: exactly one input must have role: fixed, found 2"),
    ("  - step: load\n", "", r"line 7, steps\[0\]\.step: step 'register' needs step 'load'"),
    ("  ct: {role", "  CT-scan: {role", r"line 3, inputs\.CT-scan: input name 'CT-scan' must be"),
    ("  pet: {role: moving, modality: PT}", "  pet: {role: moving, optional: true}",
     r"line 4, inputs\.pet\.optional: only mask inputs may be optional"),
])
def test_errors_name_file_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in VALID
    with pytest.raises(PipelineError, match=expected):
        parse_pipeline(VALID.replace(old, new, 1), source="t.yaml")


def test_several_errors_reported_at_once() -> None:
    text = VALID.replace("mode: geometry", "mode: x").replace("items: [registered]", "items: [y]")
    with pytest.raises(PipelineError, match=r"line 9, steps\[1\]\.mode.*; line 11, steps\[2\]"):
        parse_pipeline(text, source="t.yaml")


def test_yaml_syntax_error_names_line() -> None:
    with pytest.raises(PipelineError, match=r"t\.yaml: line 3: not valid YAML"):
        parse_pipeline("name: t\ninputs: {ct: [\nsteps: : :\n", source="t.yaml")


def test_fuse_partner_must_be_moving() -> None:
    text = VALID.replace("  - step: export", "  - step: fuse\n    partner: ct\n  - step: export")
    with pytest.raises(PipelineError, match=r"line 11, steps\[2\]\.partner: partner 'ct' is not a "
                                            r"moving input; choose one of \['pet'\]"):
        parse_pipeline(text, source="t.yaml")


def test_missing_file_and_training_pipeline(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=r"nope\.yaml: cannot read the pipeline file"):
        load_pipeline(tmp_path / "nope.yaml")
    train = tmp_path / "train.yaml"
    train.write_text("kind: fusion2d\nname: x\n")
    with pytest.raises(PipelineError, match=r"train\.yaml: this is a 'fusion2d' pipeline"):
        load_pipeline(train)


def test_params_file_relative_to_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(VALID.replace("mode: geometry", "mode: register\n    params: elastix.txt"))
    step = load_pipeline(path).step("register")
    assert isinstance(step, RegisterStep) and step.params == tmp_path / "elastix.txt"
