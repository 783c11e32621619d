"""Study manifests: a CSV with a ``study_id`` column and one column per input the pipeline names.

Each cell is a DICOM folder or a NIfTI file, absolute or relative to the manifest's folder. The whole
manifest is checked before anything runs, and every problem is reported at once.

Examples
--------
>>> import tempfile, pathlib
>>> from medfuse.pipeline.config import parse_pipeline
>>> pipeline = parse_pipeline('''
... name: demo
... inputs: {ct: {role: fixed}, pet: {role: moving}, mask: {role: mask, optional: true}}
... steps: [{step: load}]
... ''')
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> for name in ("ct.nii.gz", "pet.nii.gz"):
...     _ = (folder / name).write_bytes(b"x")
>>> _ = (folder / "studies.csv").write_text("study_id,ct,pet\\ns1,ct.nii.gz,pet.nii.gz\\n")
>>> [(s.study_id, sorted(s.inputs)) for s in read_manifest(folder / "studies.csv", pipeline)]
[('s1', ['ct', 'pet'])]
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from medfuse.errors import PipelineError
from medfuse.pipeline.config import Pipeline

_STUDY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Study:
    """One manifest row: its id, the resolved input paths by role, and the row as written."""

    study_id: str
    inputs: dict[str, Path]
    row: dict[str, str] = field(default_factory=dict)
    line: int = 0


def read_manifest(path: str | Path, pipeline: Pipeline) -> list[Study]:
    """Read and check a study manifest against ``pipeline``'s inputs.

    Raises
    ------
    PipelineError
        The file cannot be read, a column is missing or unknown, a study id is empty, repeated or
        not usable as a folder name, or input paths do not exist: all problems in one message.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise PipelineError(f"cannot read the study manifest ({err})", path=path) from err
    problems = _column_problems(columns, pipeline)
    studies, seen = [], set()
    for line, raw in rows:
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue
        study_id = row.get("study_id", "")
        where = f"line {line}" + (f" ({study_id})" if study_id else "")
        has_ids = "study_id" in columns  # else reported once, as a missing column
        if has_ids and not _STUDY_ID.match(study_id):
            problems.append(f"{where}: study_id {study_id!r} must be letters, digits, '.', '_' "
                            "or '-' (it names the study's output folder)")
        elif has_ids and study_id in seen:
            problems.append(f"{where}: study_id {study_id!r} appears twice")
        seen.add(study_id)
        inputs = {}
        for role, spec in pipeline.inputs.items():
            cell = row.get(role, "")
            if not cell:
                if not spec.optional and role in columns:
                    problems.append(f"{where}: {role} is empty")
                continue
            resolved = Path(cell).expanduser()
            resolved = resolved if resolved.is_absolute() else path.absolute().parent / resolved
            if not resolved.exists():
                problems.append(f"{where}: {role} {cell!r} does not exist")
            inputs[role] = resolved
        studies.append(Study(study_id, inputs, row, line))
    if problems:
        raise PipelineError(f"{len(problems)} problem(s): " + "; ".join(problems), path=path)
    if not studies:
        raise PipelineError("the study manifest lists no studies", path=path)
    return studies


def manifest_sha256(path: str | Path) -> str:
    """SHA-256 of the manifest file, for provenance."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _column_problems(columns: list[str], pipeline: Pipeline) -> list[str]:
    """Missing and unknown columns, as problems of the manifest (reported with the rows' ones)."""
    expected = ["study_id", *pipeline.inputs]
    missing = [c for c in expected
               if c not in columns and not (c in pipeline.inputs and pipeline.inputs[c].optional)]
    unknown = [c for c in columns if c not in expected]
    problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
    problems += [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
    if problems:
        problems[-1] += f" (pipeline {pipeline.name!r} expects columns {', '.join(expected)})"
    return problems
