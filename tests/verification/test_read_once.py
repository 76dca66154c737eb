"""verify_pdf reads a sealed file once for every hash, and spends the bounded pdfium child only
on files that are not our sealed file as it was (verification.digests)."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from pyhanko.sign.general import byte_range_digest

from tests.verification import pdfs
from verification import digests, pades
from verification.models import SealedDocument
from verification.services import _stripe_code, verify_pdf


class FakeSignature:
    """What digests.read_once reads of pyHanko's EmbeddedPdfSignature."""

    def __init__(self, byte_range: list[int], algorithm: str = "sha256") -> None:
        self.byte_range = byte_range
        self.external_md_algorithm = algorithm
        self.external_digests: dict[str, bytes] = {}


def ranged_digest(data: bytes, byte_range: list[int]) -> bytes:
    return byte_range_digest(io.BytesIO(data), byte_range=byte_range, md_algorithm="sha256")[1]


def test_the_shared_digests_are_pyhanko_s_own(sealed_bytes: bytes) -> None:
    reader = pades.open_reader(io.BytesIO(sealed_bytes))
    signatures = reader.embedded_signatures
    assert [s.sig_object_type for s in signatures] == ["/Sig", "/DocTimeStamp"]

    found = digests.read_once(io.BytesIO(sealed_bytes), signatures)

    assert found.sha256 == hashlib.sha256(sealed_bytes).hexdigest()
    assert found.size == len(sealed_bytes)
    for signature in signatures:
        byte_range = [int(v) for v in signature.byte_range]
        assert signature.external_digests["sha256"] == ranged_digest(sealed_bytes, byte_range)
        end = byte_range[2] + byte_range[3]
        assert found.prefixes[end] == hashlib.sha256(sealed_bytes[:end]).hexdigest()


def test_a_sealed_file_is_read_once_and_not_handed_to_the_child(
    sealed: SealedDocument, sealed_bytes: bytes, monkeypatch: Any
) -> None:
    from pyhanko.sign.validation import pdf_embedded

    from signflow import pdfguard

    def no_second_read(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("pyHanko digested the file again")

    def no_child(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the pdfium child ran for our own sealed file")

    pages = _stripe_code(io.BytesIO(sealed_bytes))[1]  # pdfium's count, before the patches
    monkeypatch.setattr(pdf_embedded, "byte_range_digest", no_second_read)
    monkeypatch.setattr(pdfguard, "run", no_child)
    result = verify_pdf(data=io.BytesIO(sealed_bytes))
    assert result.verdict == "authentic" and result.sealed == sealed
    assert result.seal is not None and result.seal.all_ok and result.seal.document_timestamps
    assert pages and result.page_count == pages


def test_the_caller_s_hash_is_not_needed_for_a_signed_file_but_spares_an_unsigned_one(
    sealed: SealedDocument, sealed_bytes: bytes, monkeypatch: Any
) -> None:
    result = verify_pdf(data=sealed_bytes, sha256=sealed.sha256)
    assert result.verdict == "authentic" and result.sha256 == sealed.sha256

    def no_read(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("an unsigned file was hashed again")

    monkeypatch.setattr(digests, "read_once", no_read)
    plain = pdfs.weasyprint_pdf()
    unknown = verify_pdf(data=plain, sha256=hashlib.sha256(plain).hexdigest())
    assert unknown.verdict == "unknown" and unknown.size == len(plain)


def test_a_changed_byte_under_a_shared_digest_still_breaks_the_seal(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    # The header's version: in both signatures' ranges, hashed once for all three digests.
    assert sealed_bytes[:7] == b"%PDF-1." and sealed_bytes[7:8] != b"4"
    tampered = sealed_bytes[:7] + b"4" + sealed_bytes[8:]
    result = verify_pdf(data=tampered, with_diff=False)
    assert result.verdict == "modified" and "bytes_changed" in result.reasons
    reader = pades.open_reader(io.BytesIO(tampered))
    digests.read_once(io.BytesIO(tampered), reader.embedded_signatures)
    for signature in reader.embedded_signatures:
        byte_range = [int(v) for v in signature.byte_range]
        assert signature.external_digests["sha256"] == ranged_digest(tampered, byte_range)
        assert signature.external_digests["sha256"] != ranged_digest(sealed_bytes, byte_range)


@pytest.mark.parametrize(
    ("byte_range", "algorithm"),
    [
        ([10, 20, 40, 10], "sha256"),  # not from the start of the file
        ([0, 30, 20, 10], "sha256"),  # spans overlapping
        ([0, 30, 60, 1000], "sha256"),  # past the end
        ([0, 30, 60], "sha256"),  # odd: malformed
        ([0, 0, 60, 10], "sha256"),  # an empty span
        ([0, 30, 60, 10], "sha512"),  # another algorithm
        ([0, "x", 60, 10], "sha256"),  # not numbers
    ],
)
def test_ranges_of_another_shape_are_left_to_pyhanko(byte_range: list[Any], algorithm: str) -> None:
    data = bytes(range(100))
    signature = FakeSignature(byte_range, algorithm)
    found = digests.read_once(io.BytesIO(data), [signature])
    assert signature.external_digests == {}
    assert found.sha256 == hashlib.sha256(data).hexdigest() and found.size == 100


def test_adjacent_and_single_spans_are_digested_like_pyhanko() -> None:
    data = bytes(range(256)) * 5000  # more than one 1 MB block would hold per span, cut finely
    ranges = [[0, 700_000, 700_000, 500_000], [0, 1_280_000], [0, 5, 900_000, 380_000]]
    signatures = [FakeSignature(r) for r in ranges]
    found = digests.read_once(io.BytesIO(data), signatures)
    for signature, byte_range in zip(signatures, ranges, strict=True):
        assert signature.external_digests["sha256"] == ranged_digest(data, byte_range)
    assert found.prefixes == {
        1_200_000: hashlib.sha256(data[:1_200_000]).hexdigest(),
        1_280_000: hashlib.sha256(data).hexdigest(),
    }


def test_too_many_signatures_are_left_to_pyhanko() -> None:
    data = bytes(100)
    signatures = [FakeSignature([0, 10, 20, 10]) for _ in range(digests.MAX_SHARED + 1)]
    digests.read_once(io.BytesIO(data), signatures)
    assert all(s.external_digests == {} for s in signatures)


def test_a_stream_shorter_than_its_size_shares_nothing() -> None:
    class Short(io.BytesIO):
        def tell(self) -> int:
            return super().tell() + 50  # says 150 bytes, gives 100

    data = bytes(range(100))
    signature = FakeSignature([0, 40, 60, 80])
    found = digests.read_once(Short(data), [signature])
    assert signature.external_digests == {}
    assert found.sha256 == hashlib.sha256(data).hexdigest() and found.size == 100


def test_an_archive_copy_is_found_by_the_prefix_hashed_on_the_way(
    sealed: SealedDocument, sealed_bytes: bytes, monkeypatch: Any
) -> None:
    from verification import archive

    extended = archive_copy(sealed, sealed_bytes)

    def no_prefix_read(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the prefix was read again")

    monkeypatch.setattr(archive, "_prefix_sha256", no_prefix_read)
    result = verify_pdf(data=extended, with_diff=False)
    assert result.verdict == "authentic" and result.sealed == sealed


def archive_copy(sealed: SealedDocument, sealed_bytes: bytes) -> bytes:
    """Our copy with one archive timestamp appended (DSS and a document timestamp)."""
    from verification import archive

    assert archive.add_archive_timestamp(sealed, force=True)
    _path, extended = archive.current_copy(sealed)
    assert len(extended) > len(sealed_bytes) and extended.startswith(sealed_bytes)
    return extended


def test_without_a_known_prefix_it_is_hashed_here_in_blocks(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    from verification import archive

    extended = archive_copy(sealed, sealed_bytes)
    seal = verify_pdf(data=extended, with_diff=False).seal
    assert seal is not None and seal.lta_ok
    assert archive.registered_prefix(io.BytesIO(extended), seal) == sealed
    assert (
        archive.registered_prefix(io.BytesIO(extended), seal, {len(sealed_bytes): "0" * 64}) is None
    )
