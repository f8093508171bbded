"""The yield-point hook of long loops (parsing, row building, snapshot reading).

Long work calls its ``YieldPoint`` between small pieces so the window can paint first: the
GUI passes ``uma_desktop.foreground.yield_to_foreground``, everything else ``no_yield``. The
layers that take one (backends, storage) never import the GUI's rule itself.
"""

from collections.abc import Callable

YieldPoint = Callable[[], None]


def no_yield() -> None:
    """The default yield point: carry straight on."""
