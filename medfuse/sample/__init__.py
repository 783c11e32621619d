"""The bundled sample study: a seeded digital phantom seen by CT, MR and PET, with its truth.

Examples
--------
>>> from medfuse.sample import Phantom, LESIONS
>>> len(LESIONS)
3
"""

from __future__ import annotations

from medfuse.sample.phantom import LESIONS, TISSUES, Grid, Phantom
from medfuse.sample.study import SampleStudy, make_ct_series, make_study, write_study

__all__ = ["LESIONS", "TISSUES", "Grid", "Phantom", "SampleStudy", "make_ct_series", "make_study",
           "write_study"]
