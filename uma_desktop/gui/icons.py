"""The GUI's icons: SVG package data, recoloured to the current palette so they work in dark mode.

Monochrome icons are drawn with ``currentColor``; we substitute the palette's text colour
before rendering, so one file serves light and dark themes. Status icons carry fixed colours
chosen to read on both. Nothing here needs a build step (no .qrc): files are read with
importlib.resources, which works from a checkout and from an installed package.
"""

from __future__ import annotations

import weakref
from functools import cache
from importlib import resources
from typing import Any

import shiboken6
from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

_PACKAGE = "uma_desktop.gui"
_SIZES = (16, 24, 32, 48)  # small, toolbar, and both at twice the pixel density


@cache
def svg_text(name: str) -> str:
    """The raw SVG source of ``icons/<name>.svg`` (raises FileNotFoundError for a bad name)."""
    return resources.files(_PACKAGE).joinpath("icons", f"{name}.svg").read_text(encoding="utf-8")


def _text_colour() -> QColor:
    app = QGuiApplication.instance()
    if app is None:
        return QColor("#202020")
    return QGuiApplication.palette().color(
        QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText
    )


def render(name: str, size: int, colour: QColor | str | None = None) -> QPixmap:
    """Render one icon at ``size`` px (device-independent), recoloured to ``colour``."""
    return QPixmap.fromImage(_render_image(name, size, QColor(colour or _text_colour()).name()))


@cache
def _renderer(name: str, colour_name: str) -> QSvgRenderer:
    """The SVG parsed once per colour (parsing costs more than drawing each size)."""
    source = svg_text(name).replace("currentColor", colour_name)
    return QSvgRenderer(QByteArray(source.encode("utf-8")))


@cache
def _render_image(name: str, size: int, colour_name: str) -> QImage:
    renderer = _renderer(name, colour_name)
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


@cache
def _icon(name: str, colour_name: str) -> QIcon:
    # Normal mode only: the style derives the disabled look from it, and rendering every
    # size twice was a tenth of the window's start-up.
    result = QIcon()
    for size in _SIZES:
        result.addPixmap(QPixmap.fromImage(_render_image(name, size, colour_name)))
    return result


def icon(name: str) -> QIcon:
    """A QIcon for ``name`` in the palette's text colour (ask again after a theme change)."""
    palette = QGuiApplication.palette()
    return _icon(
        name, palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText).name()
    )


def status_icon(status: str) -> QIcon:
    """The coloured status dot for a connection status value (ok, stale, error, ...)."""
    return icon(f"status-{status}")


@cache
def app_icon() -> QIcon:
    result = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        result.addPixmap(QPixmap.fromImage(_render_image("app", size, "#000000")))
    return result


def badge_icon(base: QIcon, count: int, size: int = 64) -> QIcon:
    """``base`` with a red count badge in its corner (tray icon with pending requests)."""
    pixmap = base.pixmap(QSize(size, size))
    if count <= 0:
        return QIcon(pixmap)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    diameter = size * 0.55
    rect = QRectF(size - diameter, 0, diameter, diameter)
    painter.setBrush(QColor("#d13b3b"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(rect)
    font = painter.font()
    font.setBold(True)
    font.setPixelSize(int(diameter * (0.62 if count < 10 else 0.48)))
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count) if count < 100 else "99+")
    painter.end()
    return QIcon(pixmap)


_bound: list[tuple[Any, str]] = []


def bind(target: Any, name: str) -> Any:
    """Give ``target`` (anything with setIcon) the icon ``name``; re-coloured by ``retheme``."""
    target.setIcon(icon(name))
    _bound.append((weakref.ref(target), name))
    return target


def retheme() -> None:
    """Re-render every bound icon in the current palette (after a light/dark switch)."""
    alive: list[tuple[Any, str]] = []
    for ref, name in _bound:
        target = ref()
        if target is None or not shiboken6.isValid(target):
            continue
        target.setIcon(icon(name))
        alive.append((ref, name))
    _bound[:] = alive
