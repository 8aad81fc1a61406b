"""A report's HTML printed to PDF by headless Chromium (the browser the page tests already use)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


class PdfError(RuntimeError):
    """The browser is missing or could not print the page."""


def html_to_pdf(html: str, chromium: str = "chromium", timeout_s: float = 120.0) -> bytes:
    """Print ``html`` (a self-contained page) to PDF bytes with ``chromium --headless``."""
    browser = shutil.which(chromium)
    if browser is None:
        raise PdfError(f"no browser {chromium!r} on PATH to print PDFs ([reports] chromium)")
    with tempfile.TemporaryDirectory(prefix="ioc-report-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}", page.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise PdfError(f"{chromium} did not print within {timeout_s:.0f} s") from None
        if not out.exists() or out.stat().st_size == 0:
            raise PdfError(f"{chromium} printed nothing (exit {done.returncode}): "
                           f"{done.stderr.decode(errors='replace')[-300:]}")
        return out.read_bytes()
