"""Regenerate the committed sample study: ``python sample_data/make_sample.py`` (seed 0).

It writes exactly what ``medfuse sample-data -o sample_data/study --force`` writes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from medfuse.sample import write_study

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_study(Path(__file__).resolve().parent / "study", seed=0, overwrite=True)
