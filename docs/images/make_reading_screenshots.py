"""Take the real-data reading screenshots of docs/app.md (STS_001 of the real test data): PET/CT
with MIP and colour bars, the ROI panel, a typed window/level with a PET preset, the fused PET/CT
with its SUV colour bar, MR/CT checkerboard.

Run under a display from the repository root (the data are read in place, never copied)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/images/make_reading_screenshots.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from medfuse.napari._app import launch, wait_for

HERE = Path(__file__).parent
STS = Path(os.environ.get("MEDFUSE_TEST_DATA", HERE.parents[2] / "shared" / "data")) / "volumes" \
    / "sts" / "STS_001"
AT = (70.0, 12.0, -791.0)  # LPS mm, the centre of the STS_001 GTV (its RTSTRUCT on the CT grid)


def shoot(viewer, panels, name: str) -> None:
    """Save the window, once every view has drawn, as a 256-colour PNG."""
    ortho = panels["Orthogonal views"]
    wait_for(lambda: ortho.settled, timeout=120)
    ortho.redraw_all()
    image = Image.fromarray(np.asarray(viewer.screenshot(canvas_only=False, flash=False))[..., :3])
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(HERE / name, optimize=True)
    print(HERE / name)


def opened(paths, **kwargs):
    viewer, panels = launch([str(p) for p in paths], size=(1600, 1000), at=AT, **kwargs)
    wait_for(lambda: not panels["Study"].runner.running and panels["Orthogonal views"].settled,
             timeout=300)
    return viewer, panels


def close(viewer, panels) -> None:
    panels["Orthogonal views"].detach()
    viewer.close()


def main() -> None:
    viewer, panels = opened([STS])  # CT, PET, MR and the RTSTRUCT GTV
    shoot(viewer, panels, "app_petct.png")
    viewer.window._dock_widgets["ROI"].raise_()
    roi = panels["ROI"]
    roi.mask.value = "GTV_Mass_PET"
    roi.refresh()
    wait_for(lambda: roi.table.rowCount() > 0 and not roi.runner.running, timeout=120)
    shoot(viewer, panels, "app_roi.png")
    close(viewer, panels)

    viewer, panels = opened([STS / "CT" / "dicom" / "image", STS / "PET" / "dicom" / "image"],
                            layout="1x3")
    viewer.window._dock_widgets["Inspect"].raise_()
    inspect = panels["Inspect"]
    viewer.layers.selection.active = next(x for x in viewer.layers
                                          if x.metadata.get("modality") == "CT")
    inspect.wl_width.value, inspect.wl_level.value = 1800.0, 400.0  # typed: a bone window
    viewer.layers.selection.active = next(x for x in viewer.layers
                                          if x.metadata.get("modality") == "PT")
    inspect.window.value = next(c for c in inspect.window.choices if c and c[1] == (0.0, 5.0))
    shoot(viewer, panels, "app_window_level.png")
    close(viewer, panels)

    viewer, panels = opened([STS / "CT" / "dicom" / "image", STS / "PET" / "dicom" / "image"])
    viewer.window._dock_widgets["Fuse"].raise_()
    fuse = panels["Fuse"]
    fuse.start()
    wait_for(lambda: not fuse.runner.running and not any(
        x.visible for x in viewer.layers if x.metadata.get("modality") == "PT"), timeout=300)
    shoot(viewer, panels, "app_petct_fused.png")
    close(viewer, panels)

    viewer, panels = opened([STS / "CT" / "dicom" / "image", STS / "MR_T1" / "dicom" / "image"],
                            layout="1x3")
    viewer.window._dock_widgets["Inspect"].raise_()
    inspect = panels["Inspect"]
    inspect.view.value = "checkerboard"
    wait_for(lambda: not inspect.runner.running, timeout=120)
    shoot(viewer, panels, "app_mrct_checkerboard.png")
    close(viewer, panels)


if __name__ == "__main__":
    main()
