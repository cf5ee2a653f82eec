"""Tesseract OCR (through pytesseract) on one image, bounded by pixels and time. Runs in the worker."""

from __future__ import annotations

import math

import pytesseract
from PIL import Image

from agent.sandbox.pieces import Stop


class Tesseract:
    """The ``tesseract`` program at ``command`` (found on PATH when None), reading ``language``."""

    def __init__(self, command: str | None = None, language: str = "eng") -> None:
        if command is not None:
            # pytesseract keeps the program in a module global; a worker only ever runs one command.
            pytesseract.pytesseract.tesseract_cmd = command
        self.language = language

    def check(self) -> None:
        """Raise ``Stop("ocr-unavailable")`` when Tesseract cannot be run."""
        try:
            pytesseract.get_tesseract_version()
        except (pytesseract.TesseractNotFoundError, OSError) as exc:
            raise Stop("ocr-unavailable") from exc

    def text(self, image: Image.Image, max_pixels: int, timeout_s: float) -> str:
        """The text Tesseract reads in ``image`` (scaled down to ``max_pixels``) within ``timeout_s``."""
        if timeout_s <= 0:
            raise Stop("time-budget")
        try:
            return str(pytesseract.image_to_string(fit(image, max_pixels), lang=self.language, timeout=timeout_s))
        except pytesseract.TesseractNotFoundError as exc:
            raise Stop("ocr-unavailable") from exc
        except pytesseract.TesseractError as exc:  # a RuntimeError too: caught first
            raise Stop("extract-failed") from exc
        except RuntimeError as exc:  # pytesseract's timeout: it has killed tesseract already
            raise Stop("time-budget") from exc


def fit(image: Image.Image, max_pixels: int) -> Image.Image:
    """``image`` in grey, scaled down (keeping its shape) so it has at most ``max_pixels`` pixels."""
    grey = image.convert("L")
    width, height = grey.size
    if width * height <= max_pixels:
        return grey
    scale = math.sqrt(max_pixels / (width * height))
    return grey.resize((max(1, int(width * scale)), max(1, int(height * scale))), Image.Resampling.LANCZOS)
