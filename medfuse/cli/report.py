"""``medfuse report FIXED MOVING... [--mask M]... -o DIR``: run the study and write its report."""

from __future__ import annotations

from pathlib import Path

import typer

from medfuse.cli._app import app


@app.command()
def report(
    fixed: Path = typer.Argument(..., help="Fixed (reference) series: DICOM folder or NIfTI file."),
    moving: list[Path] = typer.Argument(..., help="One or more moving series."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder for report.json/html/pdf."),
    mask: list[Path] = typer.Option([], "--mask", help="Label map or RTSTRUCT in the fixed "
                                    "series' space (repeatable)."),
    modality: list[str] = typer.Option([], "--modality", help="Modality (and units) of a NIfTI "
                                       "input as PATH=CODE[:UNITS], e.g. pet.nii.gz=PT:SUVbw "
                                       "(repeatable)."),
    registration: str = typer.Option("auto", help="auto, register or geometry."),
    preset: str | None = typer.Option(None, help="Registration preset name."),
    params: Path | None = typer.Option(None, help="Your own elastix parameter file."),
    fusion_method: str = typer.Option("default", "--fusion-method", help="Fusion method name."),
    include_patient_identity: bool = typer.Option(
        False, "--include-patient-identity",
        help="Write patient name, ID, birth date and input paths into the report, and the "
             "patient's identity into exported DICOM (withheld by default)."),
    export: bool = typer.Option(False, "--export", help="Also write DIR/export/: registered and "
                                "fused volumes (NIfTI, DICOM), overlays (PNG, DICOM Secondary "
                                "Capture), masks (DICOM SEG), transforms."),
    export_format: list[str] = typer.Option(
        [], "--export-format", help="Export only these: nifti, dicom, png, seg, transforms "
        "(repeatable; implies --export)."),
) -> None:
    """Register each MOVING series to FIXED, fuse, quantify ROIs and write the report."""
    from medfuse.io import load
    from medfuse.quantify.rtstruct import is_rtstruct, rtstruct_to_mask
    from medfuse.report import write_report
    from medfuse.report.document import patient_identity
    from medfuse.report.exports import FORMATS, check_formats, export_study
    from medfuse.workflow import StudyInputs, run_study

    formats = check_formats(export_format) if export_format else (FORMATS if export else ())
    codes: dict[str, tuple[str, str | None]] = {}
    for item in modality:
        path, _, spec = item.rpartition("=")
        code, _, units = spec.partition(":")
        if not path or not code:
            raise typer.BadParameter(f"--modality must be PATH=CODE[:UNITS], not {item!r}")
        codes[path] = (code.upper(), units or None)

    inputs = StudyInputs(fixed=fixed, moving=list(moving),
                         masks=[m for m in mask if not is_rtstruct(m)],
                         modalities={path: code for path, (code, _) in codes.items()},
                         units={path: units for path, (_, units) in codes.items() if units})
    if any(is_rtstruct(m) for m in mask):  # contours are rasterised onto the fixed grid
        code, units = codes.get(str(fixed), (None, None))
        inputs.fixed = load(fixed, modality=code, units=units)
        inputs.masks = [rtstruct_to_mask(m, inputs.fixed)[0] if is_rtstruct(m) else m for m in mask]
    result = run_study(inputs, registration_mode=registration, preset=preset, params=params,
                       fusion_method=fusion_method)
    exported = {}
    if formats:
        identity = patient_identity([result.fixed]) if include_patient_identity else None
        exported = export_study(result, out / "export", formats=formats, patient=identity)
    written = write_report(result, out, include_patient_identity=include_patient_identity,
                           exports=exported)
    for kind, path in {**written, **exported}.items():
        typer.echo(f"{kind}: {path}")
