"""Evidence files of an assessment: what may be uploaded, checked before anything is stored.

A file is accepted when its type is one evaluators hand in (PDF, PNG, JPEG, Word and Excel
documents, plain text and CSV) and its first bytes are that type's: a declared type the
bytes contradict is refused, and a file declared without a useful type
(``application/octet-stream``, as ``curl`` and some browsers send) is typed by its bytes
and its name's extension. The name is kept without any folder part. Sizes are bounded by
the caller (``Settings.assessment_evidence_max_bytes`` for a version's files together).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from citybrain.kernel.i18n import Catalogue

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

MAX_FILES = 10
MAX_NAME = 200

PDF, PNG, JPEG = "application/pdf", "image/png", "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT, CSV = "text/plain", "text/csv"
# The types accepted, and the extensions that name each.
TYPES: dict[str, tuple[str, ...]] = {
    PDF: (".pdf",), PNG: (".png",), JPEG: (".jpg", ".jpeg"), DOCX: (".docx",), XLSX: (".xlsx",),
    TEXT: (".txt",), CSV: (".csv",),
}
# What a browser or a tool may declare instead of the type itself.
_UNTYPED = {"", "application/octet-stream", "binary/octet-stream"}
_ALIASES = {"image/jpg": JPEG, "application/csv": CSV, "text/comma-separated-values": CSV,
            "application/vnd.ms-excel": CSV}   # Windows declares .csv files so


class EvidenceError(ValueError):
    """An evidence file that cannot be accepted; the message says why, in the current language."""


@dataclass(frozen=True)
class Upload:
    """A file as uploaded: its name, the type it was declared with, its bytes."""

    file_name: str
    content_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _is_text(content: bytes) -> bool:
    if b"\x00" in content:
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def sniffed(content: bytes, extension: str) -> str | None:
    """The accepted type these bytes are (the extension tells a .docx from a .xlsx and a
    .csv from a .txt, which share their first bytes); None when they are none of them."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"PK\x03\x04"):
        return XLSX if extension == ".xlsx" else DOCX if extension == ".docx" else None
    if _is_text(content):
        return CSV if extension == ".csv" else TEXT if extension in ("", ".txt") else None
    return None


def clean_name(name: str) -> str:
    """The file's own name without any folder (a browser on Windows may send C:\\…)."""
    base = PureWindowsPath(PurePosixPath(name.strip()).name).name.strip()
    if not base or base in (".", "..") or len(base) > MAX_NAME or any(
            ord(c) < 32 or ord(c) == 127 for c in base):
        raise EvidenceError(_("the evidence file name {name} is not usable: give a plain name of at most "
                              "{limit} characters").format(name=repr(name[:60]), limit=MAX_NAME))
    try:
        base.encode("utf-8")
    except UnicodeEncodeError:
        raise EvidenceError(_("the evidence file name {name} is not usable: give a plain name of at most "
                              "{limit} characters").format(name=ascii(name[:60]), limit=MAX_NAME)) from None
    return base


def checked(upload: Upload) -> Upload:
    """The upload with a clean name and its confirmed type; EvidenceError otherwise."""
    name = clean_name(upload.file_name)
    if not upload.content:
        raise EvidenceError(_("the evidence file {name} is empty").format(name=name))
    extension = PurePosixPath(name).suffix.lower()
    declared = upload.content_type.split(";", 1)[0].strip().lower()
    declared = _ALIASES.get(declared, declared)
    actual = sniffed(upload.content, extension)
    allowed = ", ".join(sorted({e for exts in TYPES.values() for e in exts}))
    if declared not in _UNTYPED and declared not in TYPES:
        raise EvidenceError(_("the evidence file {name} is of type {type}, which is not accepted; give a "
                              "file of one of these kinds: {allowed}").format(
            name=name, type=declared, allowed=allowed))
    if actual is None:
        raise EvidenceError(_("the evidence file {name} is not a file of an accepted kind (its bytes are "
                              "none of {allowed})").format(name=name, allowed=allowed))
    if declared not in _UNTYPED and declared != actual and not (declared == TEXT and actual == CSV):
        raise EvidenceError(_("the evidence file {name} is declared as {declared}, but its bytes are {actual}"
                              ).format(name=name, declared=declared, actual=actual))
    return Upload(name, actual, upload.content)
