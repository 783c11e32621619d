"""MedFuse plugin for DICOM RT Dose: a modality (``RTDOSE``), a ``dose_wash`` fusion method and
dose-volume statistics per ROI.

MedFuse finds it through the entry points in this package's ``pyproject.toml``; nothing in MedFuse
names it. Import what you need from here:

>>> from medfuse_rtdose import RTDOSE, dose_statistics, dose_wash, read_rtdose
>>> RTDOSE.code, RTDOSE.default_units
('RTDOSE', 'Gy')
"""

from medfuse_rtdose.fusion import dose_wash
from medfuse_rtdose.metrics import dose_statistics
from medfuse_rtdose.reader import read_rtdose
from medfuse_rtdose.spec import RTDOSE, normalize_to_max

__all__ = ["RTDOSE", "dose_statistics", "dose_wash", "normalize_to_max", "read_rtdose"]
__version__ = "0.1.0"
