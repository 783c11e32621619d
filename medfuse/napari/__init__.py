"""The MedFuse napari plugin: readers, a NIfTI writer, the sample study and the MedFuse dock panels.

napari finds it through the ``napari.manifest`` entry point (``napari.yaml`` in this package); every
contribution is imported only when napari uses it.
"""
