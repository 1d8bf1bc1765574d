"""What a file is, from its first bytes (magic numbers), and how the inbox may serve it (SPEC §11.1, §7).

A name or a declared type is what someone claims; the bytes are what a browser would act on. A file is shown inline
only when its bytes are an image, a sound or a video and every claim about it agrees; otherwise it is a download of
`application/octet-stream`, so nothing uploaded can pass for a page of ours.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

# How many leading bytes `sniff` looks at.
HEAD = 64
OCTET_STREAM = "application/octet-stream"

# Types that are the same thing under another name, by the type `sniff` answers.
_FAMILIES: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    "image/png": frozenset({"image/png", "image/apng"}),
    "image/gif": frozenset({"image/gif"}),
    "image/webp": frozenset({"image/webp"}),
    "application/pdf": frozenset({"application/pdf", "application/x-pdf"}),
    "audio/ogg": frozenset({"audio/ogg", "audio/opus", "audio/vorbis", "application/ogg", "audio/x-opus+ogg"}),
    "video/ogg": frozenset({"video/ogg", "application/ogg"}),
    "audio/mpeg": frozenset({"audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg-3", "audio/x-mp3"}),
    "audio/aac": frozenset({"audio/aac", "audio/x-aac", "audio/aacp"}),
    "audio/wav": frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}),
    "video/mp4": frozenset({"video/mp4", "audio/mp4", "audio/m4a", "audio/x-m4a", "video/x-m4v", "video/3gpp"}),
    "audio/mp4": frozenset({"audio/mp4", "audio/m4a", "audio/x-m4a", "video/mp4"}),
    "video/quicktime": frozenset({"video/quicktime", "video/mp4"}),
    "video/webm": frozenset({"video/webm", "audio/webm"}),
    "video/x-matroska": frozenset({"video/x-matroska", "audio/x-matroska", "video/webm"}),
    "application/zip": frozenset({
        "application/zip", "application/x-zip-compressed",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation", "application/epub+zip", "application/java-archive",
        "application/vnd.android.package-archive",
    }),
    # Telegram's animated stickers are gzipped Lottie.
    "application/gzip": frozenset({"application/gzip", "application/x-gzip", "application/x-tgsticker"}),
}

# What a file's name claims, by its extension (a fixed table: the machine's own mime.types differs between hosts).
_BY_EXTENSION = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg", "png": "image/png", "gif": "image/gif",
    "webp": "image/webp", "pdf": "application/pdf", "ogg": "audio/ogg", "oga": "audio/ogg", "opus": "audio/ogg",
    "ogv": "video/ogg", "mp3": "audio/mpeg", "aac": "audio/aac", "wav": "audio/wav", "mp4": "video/mp4",
    "m4a": "audio/mp4", "m4v": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "mkv": "video/x-matroska",
    "zip": "application/zip", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "epub": "application/epub+zip", "gz": "application/gzip", "tgs": "application/x-tgsticker",
    # Names that claim something no bytes of ours are: a page, a script, a vector image (it may hold script).
    "html": "text/html", "htm": "text/html", "svg": "image/svg+xml", "js": "text/javascript", "xml": "text/xml",
}
# What a sniffed type is called on disk, for a file that came without a name (a photo, a voice).
EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "application/pdf": "pdf",
    "audio/ogg": "ogg", "video/ogg": "ogv", "audio/mpeg": "mp3", "audio/aac": "aac", "audio/wav": "wav",
    "video/mp4": "mp4", "audio/mp4": "m4a", "video/quicktime": "mov", "video/webm": "webm",
    "video/x-matroska": "mkv", "application/zip": "zip", "application/gzip": "gz",
}
_INLINE = ("image/", "audio/", "video/")


def sniff(head: bytes) -> str | None:
    """The type the first bytes of a file show, or None when they show none of the kinds we know."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"\x80theora" in head else "audio/ogg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # An MPEG audio frame: layer bits 00 are AAC's ADTS, anything else MP3.
        return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "application/zip"
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    return None


def _plain(mime_type: str | None) -> str | None:
    if not mime_type:
        return None
    value = mime_type.split(";", 1)[0].strip().lower()
    return value or None


def claimed_by_name(file_name: str | None) -> str | None:
    if not file_name or "." not in file_name:
        return None
    return _BY_EXTENSION.get(file_name.rsplit(".", 1)[1].strip().lower())


def agrees(sniffed: str, claimed: str | None) -> bool:
    """A claim agrees with the bytes when it names their type or the same thing under another name; no claim (or
    the meaningless octet-stream) agrees with anything."""
    claimed = _plain(claimed)
    if claimed is None or claimed == OCTET_STREAM:
        return True
    return claimed == sniffed or claimed in _FAMILIES.get(sniffed, frozenset())


@dataclass(frozen=True)
class Serving:
    content_type: str
    inline: bool
    # The type the bytes show (None: none we know), whatever is served.
    sniffed: str | None


def serving(head: bytes, *, declared: str | None, file_name: str | None) -> Serving:
    """How to serve a file: its sniffed type, inline only for an image, sound or video whose declared type and name
    agree with the bytes; anything else (unknown bytes, a claim the bytes contradict) an octet-stream download."""
    sniffed = sniff(head)
    if sniffed is None or not agrees(sniffed, declared) or not agrees(sniffed, claimed_by_name(file_name)):
        return Serving(OCTET_STREAM, False, sniffed)
    return Serving(sniffed, sniffed.startswith(_INLINE), sniffed)


def safe_filename(name: str | None, fallback: str) -> str:
    """A file name fit for a header: no folders, quotes, control characters; `fallback` when nothing is left."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r'[\x00-\x1f\x7f"*:<>?|;]+', "_", name).strip(" .")
    return name[:200] or fallback


def content_disposition(inline: bool, name: str) -> str:
    """`inline` or `attachment` with the name twice: as ASCII for old clients, and exactly (RFC 6266 / 5987)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()+-]", "_", ascii_name).strip() or "file"
    return f'{"inline" if inline else "attachment"}; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(name, safe="")}'
