"""The layer list's thumbnails, painted from memory that lives while they are drawn.

napari 0.9.2's layer model answers the thumbnail role with a ``QImage`` made over a Python
``bytes`` copy of ``layer.thumbnail``. PyQt keeps that ``bytes`` alive only as long as the Python
image; the image goes back through the model as a ``QVariant``, which keeps the pixels' address and
not the ``bytes``. So the delegate paints from freed memory: stray coloured pixels in a
thumbnail's last row, which made two screenshots of one command differ. Here the delegate paints
each loaded layer's thumbnail from an image that owns a copy of the layer's array.
"""

from __future__ import annotations

from typing import Any

from napari._qt.containers._layer_delegate import LayerDelegate
from napari._qt.containers.qt_layer_model import LoadedRole
from qtpy.QtCore import Qt
from qtpy.QtGui import QImage, QPixmap


class OwnedThumbnailDelegate(LayerDelegate):
    """napari's layer delegate; a loaded layer's thumbnail is painted from its own array."""

    def _paint_thumbnail(self, painter: Any, option: Any, index: Any) -> None:
        if not index.data(LoadedRole):
            return
        if index.model().sourceModel().all_loaded():
            self._load_movie.setPaused(True)  # as napari's: one loading movie serves every row
        painter.drawPixmap(thumbnail_rect(option, index), QPixmap.fromImage(held_thumbnail(index)))


def held_thumbnail(index: Any) -> QImage:
    """The thumbnail of the layer at the layer list's ``index``, as an image owning its pixels."""
    proxy = index.model()
    thumbnail = proxy.sourceModel().getItem(proxy.mapToSource(index)).thumbnail
    height, width = thumbnail.shape[:2]
    return QImage(thumbnail.tobytes(), width, height, QImage.Format.Format_RGBA8888).copy()


def thumbnail_rect(option: Any, index: Any) -> Any:
    """Where napari's delegate puts the thumbnail of the item at ``index``."""
    side = index.data(Qt.ItemDataRole.SizeHintRole).height() - 4
    rect = option.rect.translated(-2, 2)
    rect.setWidth(side)
    rect.setHeight(side)
    return rect


def paint_owned_thumbnails(qt_viewer: Any) -> None:
    """Give ``qt_viewer``'s layer list the delegate that paints thumbnails from held memory."""
    layers = qt_viewer.layers
    if isinstance(layers.itemDelegate(), OwnedThumbnailDelegate):
        return
    delegate = OwnedThumbnailDelegate(layers)
    delegate.loading_frame_changed.connect(layers.viewport().update)
    layers.setItemDelegate(delegate)
