"""The "who can see my data" report printed to PDF with Qt's PDF writer.

The page is the report's own HTML (``app/report.py``, every piece of server text escaped),
laid out by ``QTextDocument`` on A4 with margins, a header line on each page and page numbers.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPainter, QPdfWriter, QTextDocument

from uma_desktop.app.report import APP_NAME, Report, to_html
from uma_desktop.errors import StorageError

MARGIN_MM = 15.0
RESOLUTION = 300
LAYOUT_DPI = 96


def write_pdf(report: Report, path: Path) -> int:
    """Write ``report`` to ``path``; returns the page count. StorageError when it cannot."""
    writer = QPdfWriter(str(path))
    writer.setResolution(RESOLUTION)
    writer.setTitle(f"{APP_NAME}: who can see my data")
    writer.setCreator(APP_NAME)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
            QPageLayout.Unit.Millimeter,
        )
    )
    area = writer.pageLayout().paintRectPixels(RESOLUTION)
    scale = RESOLUTION / LAYOUT_DPI  # lay out at screen resolution, print at the writer's
    document = QTextDocument()
    font = QFont("DejaVu Sans")
    font.setPointSizeF(9.5)
    document.setDefaultFont(font)
    footer_font = QFont(font)
    footer_font.setPixelSize(11)  # in layout pixels, like the document (the painter scales)
    document.setHtml(to_html(report))
    footer_height = 28.0
    body = QSizeF(area.width() / scale, area.height() / scale - footer_height)
    document.setPageSize(body)
    pages = max(1, document.pageCount())
    painter = QPainter()
    if not painter.begin(writer):
        raise StorageError(f"Could not write the PDF report to {path}.")
    stamp = report.generated_at.strftime("%Y-%m-%d")
    try:
        painter.scale(scale, scale)
        for page in range(pages):
            if page:
                writer.newPage()
            painter.save()
            painter.translate(0, -page * body.height())
            document.drawContents(painter, QRectF(QPointF(0, page * body.height()), body))
            painter.restore()
            painter.setFont(footer_font)
            painter.drawText(
                QRectF(0, body.height(), body.width(), footer_height),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{APP_NAME} · {stamp} · page {page + 1} of {pages}",
            )
    finally:
        painter.end()
    if not path.exists() or path.stat().st_size == 0:
        raise StorageError(f"Could not write the PDF report to {path}.")
    return pages
