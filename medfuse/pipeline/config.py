"""Batch pipeline files: the YAML schema, validated on load, with errors naming file, line and field.

A pipeline names its inputs (one ``fixed`` series, one or more ``moving`` series, optional
``mask`` label maps: each a column of the study manifest) and the steps run on every study::

    name: pet_ct
    inputs:
      ct:   {role: fixed, modality: CT}
      pet:  {role: moving, modality: PT}
      mask: {role: mask, optional: true}
    steps:
      - step: load
      - step: register
        mode: auto
      - step: export
        items: [registered]
        formats: [nifti, png]

Examples
--------
>>> pipeline = parse_pipeline('''
... name: demo
... inputs: {ct: {role: fixed, modality: CT}, pet: {role: moving, modality: PT}}
... steps: [{step: load}, {step: export, items: [fixed]}]
... ''')
>>> [step.step for step in pipeline.steps], pipeline.fixed_role, pipeline.moving_roles
(['load', 'export'], 'ct', ['pet'])
>>> parse_pipeline("name: x\\ninputs: {}\\nsteps:\\n  - step: lod\\n", source="p.yaml")
Traceback (most recent call last):
medfuse.errors.PipelineError: p.yaml: line 4, steps[0].step: unknown step 'lod', expected one of load, register, fuse, quantify, report, export
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medfuse.errors import PipelineError

#: the steps a pipeline may name, in the order they may appear; each needs the earlier ones it names
STEP_NEEDS: dict[str, tuple[str, ...]] = {
    "load": (),
    "register": ("load",),
    "fuse": ("register",),
    "quantify": ("register",),
    "report": ("register",),
    "export": ("load",),
}
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """One input of every study: a manifest column holding a DICOM folder or a NIfTI file."""

    role: Literal["fixed", "moving", "mask"]
    modality: str | None = Field(None, description="modality code for NIfTI inputs (CT, MR, PT, NM)")
    units: str | None = Field(None, description="value units for NIfTI inputs (HU, SUVbw, BQML, "
                              "a.u.); DICOM records its own")
    optional: bool = False


class LoadStep(_Strict):
    """Load every input of the study (``medfuse.workflow.load_study``; an RTSTRUCT mask is
    rasterised on the fixed grid)."""

    step: Literal["load"]


class RegisterStep(_Strict):
    """Bring every moving series onto the fixed grid (``medfuse.workflow.register_study``)."""

    step: Literal["register"]
    mode: Literal["auto", "register", "geometry"] = "auto"
    preset: str | None = None
    params: Path | None = Field(None, description="elastix parameter file, relative to the pipeline")


class FuseStep(_Strict):
    """Fuse the fixed series with one registered series (``medfuse.fusion.fuse``)."""

    step: Literal["fuse"]
    method: str = "default"
    partner: str | None = Field(None, description="moving input fused with the fixed one")


class QuantifyStep(_Strict):
    """ROI statistics of every series under each mask (``medfuse.workflow.quantify_study``)."""

    step: Literal["quantify"]


class ReportStep(_Strict):
    """Write the study report (``medfuse.workflow.export_study``, reports only)."""

    step: Literal["report"]
    formats: list[Literal["json", "html", "pdf"]] = ["json", "html"]


class ExportStep(_Strict):
    """Write the study's volumes, overlays, masks and transforms in the study layout
    (``medfuse.workflow.export_study``)."""

    step: Literal["export"]
    items: list[Literal["fixed", "moving", "registered", "fused", "masks"]] = ["registered", "fused"]
    formats: list[Literal["nifti", "dicom", "png", "seg", "transforms"]] = Field(
        ["nifti"], description="nifti and dicom: the items as volumes (DICOM for those on the fixed "
        "grid, plus the overlay as Secondary Capture); png: overlay planes and montage; seg: masks "
        "as DICOM SEG (DICOM fixed series only); transforms: .tfm and elastix files")


Step = Annotated[
    Union[LoadStep, RegisterStep, FuseStep, QuantifyStep, ReportStep, ExportStep],
    Field(discriminator="step"),
]


class Pipeline(_Strict):
    """A validated pipeline; ``source`` and ``sha256`` record the file it came from."""

    kind: Literal["batch"] = "batch"
    name: str
    description: str = ""
    inputs: dict[str, InputSpec]
    steps: list[Step] = Field(min_length=1)
    timeout_s: float | None = Field(None, gt=0, description="per-study time limit in seconds")
    source: str = Field("", exclude=True)
    sha256: str = Field("", exclude=True)

    @property
    def fixed_role(self) -> str:
        """The input that every other series is registered onto."""
        return next(name for name, spec in self.inputs.items() if spec.role == "fixed")

    @property
    def moving_roles(self) -> list[str]:
        """The inputs registered onto the fixed one, in pipeline order."""
        return [name for name, spec in self.inputs.items() if spec.role == "moving"]

    @property
    def mask_roles(self) -> list[str]:
        """The label-map inputs."""
        return [name for name, spec in self.inputs.items() if spec.role == "mask"]

    def step(self, name: str) -> BaseModel | None:
        """The step called ``name``, or None when the pipeline has none."""
        return next((s for s in self.steps if s.step == name), None)


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and validate a pipeline file.

    Relative ``params`` files of a register step are resolved against the pipeline's folder.

    Raises
    ------
    PipelineError
        The file is missing, not YAML, or not a valid pipeline; the message names the file, the line
        and the field of every problem found.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PipelineError(f"cannot read the pipeline file ({err.strerror})", path=path) from err
    return parse_pipeline(data.decode("utf-8", errors="replace"), source=str(path),
                          base_dir=path.parent, sha256=hashlib.sha256(data).hexdigest())


def parse_pipeline(
    text: str, *, source: str = "<pipeline>", base_dir: Path | None = None, sha256: str | None = None
) -> Pipeline:
    """Validate pipeline YAML ``text``; ``source`` names it in errors (see :func:`load_pipeline`)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise PipelineError(f"{where}not valid YAML ({problem})", path=source) from err
    if not isinstance(data, dict):
        raise PipelineError("a pipeline must be a YAML mapping with name, inputs and steps",
                            path=source)
    if data.get("kind", "batch") != "batch":
        raise PipelineError(f"this is a {data['kind']!r} pipeline (for medfuse train), not a batch "
                            "pipeline for medfuse run", path=source)
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as err:
        problems = [_describe(e) for e in err.errors()]
        raise PipelineError(_format(problems, root), path=source) from err
    problems = _semantic_problems(pipeline)
    if problems:
        raise PipelineError(_format(problems, root), path=source)
    steps = [
        s.model_copy(update={"params": (base_dir / s.params)})
        if isinstance(s, RegisterStep) and s.params and base_dir and not s.params.is_absolute()
        else s
        for s in pipeline.steps
    ]
    return pipeline.model_copy(update={
        "steps": steps, "source": source,
        "sha256": sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest(),
    })


def _describe(error: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    """A pydantic error as (loc, message); unknown step names get their own message."""
    loc = tuple(error["loc"])
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        found = error["input"].get("step") if isinstance(error["input"], dict) else None
        what = f"unknown step {found!r}" if found is not None else "each step needs a 'step' key"
        return loc + ("step",), f"{what}, expected one of {', '.join(STEP_NEEDS)}"
    message = error["msg"]
    if error["type"] not in ("missing", "extra_forbidden") and "input" in error:
        value = error["input"]
        if not isinstance(value, (dict, list)):
            message += f" (got {value!r})"
    return loc, message


def _semantic_problems(pipeline: Pipeline) -> list[tuple[tuple[Any, ...], str]]:
    """Checks across fields: roles, step order, the fusion partner."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    for name in pipeline.inputs:
        if not _ROLE_NAME.match(name) or name == "study_id":
            problems.append((("inputs", name),
                             f"input name {name!r} must be lower case letters, digits and _ "
                             "(it is a manifest column), and not 'study_id'"))
    roles = [spec.role for spec in pipeline.inputs.values()]
    if roles.count("fixed") != 1:
        problems.append((("inputs",), f"exactly one input must have role: fixed, found "
                                      f"{roles.count('fixed')}"))
    if "moving" not in roles:
        problems.append((("inputs",), "at least one input must have role: moving"))
    for name, spec in pipeline.inputs.items():
        if spec.optional and spec.role != "mask":
            problems.append((("inputs", name, "optional"), "only mask inputs may be optional"))
    seen: list[str] = []
    for i, step in enumerate(pipeline.steps):
        if step.step in seen:
            problems.append((("steps", i, "step"), f"step {step.step!r} appears twice"))
        missing = [need for need in STEP_NEEDS[step.step] if need not in seen]
        if missing:
            problems.append((("steps", i, "step"),
                             f"step {step.step!r} needs step {missing[0]!r} before it"))
        if isinstance(step, FuseStep) and step.partner is not None \
                and step.partner not in pipeline.moving_roles:
            problems.append((("steps", i, "partner"),
                             f"partner {step.partner!r} is not a moving input; choose one of "
                             f"{pipeline.moving_roles}"))
        seen.append(step.step)
    return problems


def _format(problems: list[tuple[tuple[Any, ...], str]], root: yaml.Node | None) -> str:
    """``line N, steps[1].mode: message`` for each problem, joined on one line."""
    parts = []
    for loc, message in problems:
        node, field = _node_at(root, loc)
        line = f"line {node.start_mark.line + 1}, " if node is not None else ""
        parts.append(f"{line}{field or '(top level)'}: {message}")
    return "; ".join(parts)


def _node_at(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[yaml.Node | None, str]:
    """The YAML node to point at for a pydantic ``loc`` (a mapping entry's key, a sequence item)
    and the field path it names.

    Union tags that pydantic inserts (``steps.1.register.mode``) have no node and are skipped.
    """
    node, mark, field = root, root, ""
    for key in loc:
        if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = mark = node.value[key]
        elif isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if entry is None and isinstance(key, str) and key in STEP_NEEDS:
                continue  # the discriminator tag, not a key of the file
            if entry is None:
                return mark, f"{field}.{key}".lstrip(".")
            mark, node = entry
        else:
            break
        field += f"[{key}]" if isinstance(key, int) else f".{key}"
    return mark, field.lstrip(".")
