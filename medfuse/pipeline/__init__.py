"""Batch pipelines: a YAML pipeline, a CSV study manifest, one Dask task per study.

``run_batch(pipeline_path, manifest_path, out_dir)`` is what ``medfuse run`` calls. Dask is imported
only when a run starts.
"""

from __future__ import annotations

from medfuse.pipeline.config import Pipeline, load_pipeline, parse_pipeline
from medfuse.pipeline.manifest import Study, read_manifest
from medfuse.pipeline.runner import RunSummary, run_batch, run_pipeline

__all__ = ["Pipeline", "RunSummary", "Study", "load_pipeline", "parse_pipeline", "read_manifest",
           "run_batch", "run_pipeline"]
