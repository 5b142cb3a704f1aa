"""The document scanner's development simulator: the files it hands over are what a scanner makes (an
A4 JPEG at the asked resolution, a PDF of the pages), it says when the glass is empty or the scanner
failed, and the device reports the scanner in its heartbeat."""

from __future__ import annotations

import io
import re

from PIL import Image

from kiosk.device.scanner import SimulatedScanner


def test_a_scan_is_an_a4_jpeg_or_a_pdf_of_its_pages_and_an_empty_glass_says_so():
    scanner = SimulatedScanner()
    assert scanner.scan().outcome == "no-document"

    scanner.place("household-register")
    page = scanner.scan(dpi=150)
    scanner.place("application-form")
    form = scanner.scan(dpi=150)

    assert page.outcome == "scanned" and page.content_type == "image/jpeg" and page.pages == 1
    image = Image.open(io.BytesIO(page.content))
    assert image.format == "JPEG" and image.size == (1240, 1754)  # A4 at 150 dpi
    assert image.convert("L").getextrema()[0] < 100  # there is text on the page, not only paper
    assert form.outcome == "scanned" and form.content_type == "application/pdf" and form.pages == 2
    assert form.content.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page\b", form.content)) == 2
    assert page.name != form.name and form.name.endswith(".pdf")


def test_a_fault_is_reported_once_and_nothing_is_handed_over():
    scanner = SimulatedScanner()
    scanner.place("commitment")
    scanner.fail_next("paper-jam")

    jammed = scanner.scan(dpi=100)
    again = scanner.scan(dpi=100)

    assert jammed.outcome == "paper-jam" and jammed.content == b""
    assert again.outcome == "scanned"
