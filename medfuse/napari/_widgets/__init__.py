"""The MedFuse dock panels: Study, Register, Fuse, Inspect, ROI and Export (magicgui containers).

Each panel is thin: it collects its inputs from the viewer's layers, makes one call into the workflow
or an engine in a worker, and shows the result as layers (or the error as a message).
"""

from medfuse.napari._widgets._export import ExportPanel
from medfuse.napari._widgets._fuse import FusePanel
from medfuse.napari._widgets._inspect import InspectPanel
from medfuse.napari._widgets._register import RegisterPanel
from medfuse.napari._widgets._roi import ROIPanel
from medfuse.napari._widgets._study import StudyPanel

__all__ = ["ExportPanel", "FusePanel", "InspectPanel", "ROIPanel", "RegisterPanel", "StudyPanel"]
