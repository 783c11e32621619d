"""Re-take the app screenshots of docs/app.md: study opened, registered, checkerboard, fused.

Run under a display from the repository root::

    medfuse sample-data -o /tmp/study
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/images/make_app_screenshots.py /tmp/study
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from medfuse.napari._app import launch, wait_for

HERE = Path(__file__).parent


def shoot(viewer, name: str) -> None:
    """Save the window as a 256-colour PNG (small enough for the docs)."""
    wait_for(lambda: False, timeout=1.5)
    image = Image.fromarray(np.asarray(viewer.screenshot(canvas_only=False, flash=False))[..., :3])
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(HERE / name, optimize=True)
    print(HERE / name, (HERE / name).stat().st_size // 1024, "KB")


def run(viewer, panels, name: str, action) -> None:
    panel = panels[name]
    viewer.window._dock_widgets[name].raise_()
    action(panel)
    wait_for(lambda: not panel.runner.running, timeout=300)


def main(study: str) -> None:
    viewer, panels = launch([study], size=(1600, 1000))
    ortho = panels["Orthogonal views"]
    wait_for(lambda: not panels["Study"].runner.running and ortho.synced, timeout=120)
    shoot(viewer, "app_study.png")
    run(viewer, panels, "Register", lambda p: (setattr(p.mode, "value", "register"), p.start()))
    wait_for(lambda: ortho.synced, timeout=30)
    lesions = viewer.layers["lesions"]
    lesions.visible = False  # the PET lesions are drawn under the lesion labels
    shoot(viewer, "app_registered.png")
    lesions.visible = True
    run(viewer, panels, "Inspect", lambda p: setattr(p.view, "value", "checkerboard"))
    viewer.cursor.position = viewer.dims.point
    panels["Inspect"]._update_readout()
    wait_for(lambda: ortho.synced, timeout=30)
    shoot(viewer, "app_checkerboard.png")
    panels["Inspect"].view.value = "overlay"
    run(viewer, panels, "Fuse", lambda p: p.start())
    wait_for(lambda: ortho.synced, timeout=30)
    shoot(viewer, "app_fused.png")
    ortho.detach()
    viewer.close()


if __name__ == "__main__":
    main(sys.argv[1])
