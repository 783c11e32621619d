"""``medfuse report FIXED MOVING... [--mask M]... -o DIR``: run the study and write its folder."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app
from medfuse.cli._options import out_option, per_path, units_per_path_option


@app.command()
def report(
    fixed: Path = typer.Argument(..., help="Fixed (reference) series: DICOM folder or NIfTI file.",
                                 metavar="FIXED", show_default=False),
    moving: list[Path] = typer.Argument(..., help="One or more moving series.", metavar="MOVING",
                                        show_default=False),
    out: Path = out_option("Study folder to write (report.json/html/pdf; exports beside them); "
                           "may sit beside the inputs."),
    mask: list[Path] = typer.Option([], "--mask", metavar="PATH", help="Label map or RTSTRUCT in "
                                    "the fixed series' space (repeatable)."),
    modality: list[str] = typer.Option([], "--modality", metavar="PATH=CODE[:UNITS]",
                                       help="Modality (and units) of a NIfTI input, e.g. "
                                       "pet.nii.gz=PT:SUVbw (repeatable)."),
    units: list[str] = units_per_path_option(),
    registration: str = typer.Option("auto", "--registration", metavar="MODE",
                                     help="auto (scanner alignment for PET/CT of one scanner, "
                                     "registration otherwise), register or geometry."),
    preset: str = typer.Option(None, "--preset", metavar="NAME", help="Registration preset."),
    params: Path = typer.Option(None, "--params", metavar="FILE",
                                help="Your own elastix parameter file."),
    fusion_method: str = typer.Option("default", "--fusion-method", metavar="NAME",
                                      help="Fusion method name."),
    include_patient_identity: bool = typer.Option(
        False, "--include-patient-identity",
        help="Write patient name, ID, birth date and input paths into the report, and the "
             "patient's identity into exported DICOM (withheld by default)."),
    export: bool = typer.Option(False, "--export", help="Also write the registered and fused "
                                "volumes (NIfTI, DICOM), overlays (PNG, DICOM Secondary Capture), "
                                "masks (DICOM SEG) and transforms into the study folder."),
    export_format: list[str] = typer.Option(
        [], "--export-format", metavar="FORMAT", help="Export only these: nifti, dicom, png, "
        "seg, transforms (repeatable; implies --export)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary."),
) -> None:
    """Register each MOVING series to FIXED, fuse, quantify ROIs and write the study folder."""
    from medfuse.io.paths import check_inputs_exist
    from medfuse.workflow import EXPORT_FORMATS, StudyInputs, check_choices, check_study_output, \
        run_study, write_study
    from medfuse.workflow.summary import study_summary

    formats = check_choices(export_format) if export_format else \
        (EXPORT_FORMATS if export else ())
    codes = {path: value.partition(":")
             for path, value in per_path(modality, "--modality", "PATH=CODE[:UNITS]").items()}
    value_units = {path: u for path, (_, _, u) in codes.items() if u}
    value_units.update(per_path(units, "--units", "PATH=UNITS"))
    inputs = StudyInputs(fixed=fixed, moving=list(moving), masks=list(mask),
                         modalities={path: code.upper() for path, (code, _, _) in codes.items()},
                         units=value_units)
    check_inputs_exist(inputs.paths())
    check_study_output(out, inputs.paths())
    say = (lambda text: None) if quiet else (lambda text: typer.echo(text, err=True))
    study = run_study(inputs, registration_mode=registration, preset=preset, params=params,
                      fusion_method=fusion_method,
                      progress=lambda done, total, message: say(f"[{done}/{total}] {message}"))
    items = ("registered", "fused", "masks") if formats else ()
    written = write_study(study, out, inputs=inputs.paths(), items=items, formats=formats,
                          include_patient_identity=include_patient_identity)
    if not quiet:
        for line in study_summary(study):
            typer.echo(line)
        parts = sorted({Path(p).relative_to(out).parts[0] for p in written.values()})
        typer.echo(f"wrote {out}: {', '.join(parts)}")
