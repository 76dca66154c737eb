"""Imported once by the PDF parsing fork server (signflow.pdfguard): Django set up and the
parsing libraries loaded, so that each child is a fork that imports nothing."""

import django

django.setup()

import pypdf  # noqa: E402,F401
import pypdfium2  # noqa: E402,F401
from PIL import Image  # noqa: E402,F401

import documents.sanitize  # noqa: E402,F401  (pikepdf)
import documents.text_tags  # noqa: E402,F401
import documents.uploads  # noqa: E402,F401
import verification.diffing  # noqa: E402,F401
import verification.services  # noqa: E402,F401
