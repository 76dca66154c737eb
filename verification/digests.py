"""Every SHA-256 a verification needs, from one read of the file.

The registry is looked up by the SHA-256 of the whole file, and pyHanko checks each signature
against the digest of its /ByteRange: for one of our seals, the whole file but the
signature's own /Contents. pyHanko would read the file once per signature, in 4 KB blocks, after
we read it once for the registry. A /ByteRange (0, a, b, n) digest is the whole-file hash as it
stands after a bytes, copied, then fed bytes b to b + n: `read_once` reads the file once, in
1 MB blocks, and feeds each block to the whole-file hash and to the signatures whose range
holds it. Each signature's digest goes into pyHanko's own cache of it
(`EmbeddedPdfSignature.external_digests`, what `compute_digest` returns when set): pyHanko's
checks are unchanged, they get the digest they would have computed from the same bytes.

A range of another shape (not from 0, overlapping, past the end, another algorithm) or a file
with more than MAX_SHARED signatures is left to pyHanko, which digests it itself as before.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import IO, Any

CHUNK_SIZE = 1024 * 1024
# Past this many signatures each block would be fed to many hashes: pyHanko digests them.
MAX_SHARED = 8


@dataclass(frozen=True)
class FileDigests:
    sha256: str  # of the whole file
    size: int
    # SHA-256 of the file's first n bytes, for each n where a shared /ByteRange ends (the end
    # of a signed revision: archive.registered_prefix looks our copies up by it).
    prefixes: dict[int, str] = field(default_factory=dict)


@dataclass
class _Range:
    signature: Any  # pyHanko's EmbeddedPdfSignature
    spans: list[tuple[int, int]]  # (start, end): sorted, disjoint, not empty, the first from 0
    hasher: Any = None  # the whole-file hash copied at the end of the first span

    def holds(self, start: int) -> bool:
        """Whether the block from `start` (cut at every span's edges) is in a later span."""
        return any(lo <= start < hi for lo, hi in self.spans[1:])


def _range_of(signature: Any, size: int) -> _Range | None:
    """The signature's /ByteRange as spans, None when pyHanko had better digest it itself."""
    try:
        if signature.external_md_algorithm != "sha256":
            return None
        values = [int(value) for value in signature.byte_range]
    except Exception:  # a malformed signature dictionary: pyHanko reports it
        return None
    if len(values) < 2 or len(values) % 2:
        return None
    spans = [(values[i], values[i] + values[i + 1]) for i in range(0, len(values), 2)]
    previous_end = 0
    for index, (start, end) in enumerate(spans):
        if end <= start or start < previous_end or (index == 0 and start != 0):
            return None
        previous_end = end
    if previous_end > size:
        return None
    return _Range(signature=signature, spans=spans)


def feed(stream: IO[bytes], length: int, hashers: list[Any]) -> int:
    """Feed the next `length` bytes of `stream` to every hasher; the number of bytes read."""
    done = 0
    while done < length:
        chunk = stream.read(min(CHUNK_SIZE, length - done))
        if not chunk:
            break
        for hasher in hashers:
            hasher.update(chunk)
        done += len(chunk)
    return done


def read_once(stream: IO[bytes], signatures: list[Any]) -> FileDigests:
    """The file's SHA-256 and size; on the way, each signature's /ByteRange digest, put in
    pyHanko's cache. The stream is rewound."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    candidates = signatures if len(signatures) <= MAX_SHARED else []
    ranges = [r for r in (_range_of(sig, size) for sig in candidates) if r is not None]
    cuts = sorted({0, size, *(edge for r in ranges for span in r.spans for edge in span)})
    ends = {r.spans[-1][1] for r in ranges}
    whole = hashlib.sha256()
    prefixes: dict[int, str] = {}
    stream.seek(0)
    read = 0
    for start, end in zip(cuts, cuts[1:], strict=False):
        hashers = [whole, *(r.hasher for r in ranges if r.hasher is not None and r.holds(start))]
        read += feed(stream, end - start, hashers)
        if read != end:  # shorter than its size said: nothing shared, pyHanko reads it
            return _rest(stream, whole, read)
        for r in ranges:
            if r.spans[0][1] == end:
                r.hasher = whole.copy()
        if end in ends:
            prefixes[end] = whole.copy().hexdigest()
    stream.seek(0)
    for r in ranges:
        r.signature.external_digests["sha256"] = r.hasher.digest()
    return FileDigests(sha256=whole.hexdigest(), size=size, prefixes=prefixes)


def _rest(stream: IO[bytes], whole: Any, read: int) -> FileDigests:
    """The whole-file digest and size of what the stream still gives, rewound."""
    read += feed(stream, 1 << 62, [whole])
    stream.seek(0)
    return FileDigests(sha256=whole.hexdigest(), size=read)
