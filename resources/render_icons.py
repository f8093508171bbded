"""Render the app icon's PNG sizes from its SVG (for platforms that need bitmaps).

Run from a checkout: ``QT_QPA_PLATFORM=offscreen .venv/bin/python resources/render_icons.py``.
Writes resources/icons/hicolor/<n>x<n>/apps/org.umadesktop.UmaDesktop.png and
copies the SVG to the package's icons (the window icon).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

APP_ID = "org.umadesktop.UmaDesktop"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
HERE = Path(__file__).resolve().parent
SOURCE = HERE / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
PACKAGE_COPY = HERE.parent / "uma_desktop" / "gui" / "icons" / "app.svg"


def render(size: int, target: Path) -> None:
    renderer = QSvgRenderer(str(SOURCE))
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(target)):
        raise OSError(f"could not write {target}")


def main() -> int:
    QGuiApplication(sys.argv[:1])
    for size in SIZES:
        render(size, HERE / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png")
    shutil.copyfile(SOURCE, PACKAGE_COPY)
    print(f"rendered {len(SIZES)} sizes from {SOURCE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
