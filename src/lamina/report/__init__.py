"""The HTML training report: ``model.report(path, x, y)`` and the ``lamina.callbacks.Report`` callback write one
self-contained file (learning curves, learning rate, gradient norms, the lr_find curve, confusion matrix,
per-class precision/recall, the most confidently wrong examples, the model graph). See docs/report.md.

>>> from lamina.report import write_report, find_chromium
"""

from lamina.report.browser import BrowserResult, find_chromium, render_in_browser
from lamina.report.page import SECTION_IDS, build_report, write_report

__all__ = ["SECTION_IDS", "BrowserResult", "build_report", "find_chromium", "render_in_browser", "write_report"]
