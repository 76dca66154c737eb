"""PAdES sealing and validation with pyHanko (imported lazily: it costs ~0.7 s at import)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import os
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from verification import keys
from verification.keys import BUILTIN_TSA_NAME, KeyMaterial, to_asn1_cert, to_asn1_key

SEAL_FIELD_NAME = "SignFlowSeal"
# The built-in TSA's policy (RFC 3161 TSTInfo.policy): an OID of our own under the 2.25 arc
# (ITU-T X.667: a UUID written as an integer, usable without registration). Override it with
# SIGNFLOW_TSA_POLICY_OID when your organisation has its own arc.
DEFAULT_TSA_POLICY_OID = "2.25.71728794858085054624060764587457467091"
TSA_ACCURACY_SECONDS = 1
# Archive timestamps come every few years: more than this in one file is not one of ours.
MAX_DOCUMENT_TIMESTAMPS = 64


@dataclass(frozen=True)
class SealOutput:
    pdf: bytes  # empty when the sealed file was written to `path`
    timestamp_token: bytes
    timestamp_time: dt.datetime | None
    tsa_name: str
    path: str = ""


@dataclass
class SignatureReport:
    """What pyHanko says about one embedded signature, in plain fields."""

    field_name: str
    signer: str
    signer_fingerprint: str
    ours: bool
    intact: bool
    valid: bool
    trusted: bool
    coverage: str
    modification_level: str
    docmdp_ok: bool | None
    timestamp_ok: bool
    timestamp_time: dt.datetime | None
    timestamp_tsa: str
    signing_time: dt.datetime | None
    errors: list[str] = field(default_factory=list)
    # PAdES B-LTA: the document timestamps appended after this signature, oldest first.
    document_timestamps: list[DocumentTimestampReport] = field(default_factory=list)
    validation_time: dt.datetime | None = None  # the time it was validated at

    @property
    def lta_covered(self) -> bool:
        """Only DSS data and intact document timestamps follow; the newest covers the file."""
        stamps = self.document_timestamps
        return (
            self.coverage == "ENTIRE_REVISION"
            and self.modification_level == "LTA_UPDATES"
            and bool(stamps)
            and all(ts.intact for ts in stamps)
            and stamps[-1].coverage == "ENTIRE_FILE"
            and all(ts.modification_level in ("NONE", "LTA_UPDATES") for ts in stamps)
        )

    @property
    def lta_ok(self) -> bool:
        """lta_covered, and every document timestamp is valid and trusted at its time."""
        return self.lta_covered and all(ts.ok for ts in self.document_timestamps)

    @property
    def entire_file(self) -> bool:
        return self.coverage == "ENTIRE_FILE" or self.lta_covered

    @property
    def all_ok(self) -> bool:
        return (
            self.intact
            and self.valid
            and self.trusted
            and (
                (self.coverage == "ENTIRE_FILE" and self.modification_level == "NONE")
                or self.lta_ok
            )
            and self.docmdp_ok is not False
            and self.timestamp_ok
        )


@dataclass
class DocumentTimestampReport:
    """One document timestamp (PAdES B-LTA), validated at its own time with the DSS."""

    field_name: str
    time: dt.datetime | None
    tsa: str
    intact: bool
    valid: bool
    trusted: bool
    coverage: str
    modification_level: str
    revision_end: int  # the byte offset its signed bytes end at (a prefix of the file)
    tsa_not_after: dt.datetime | None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted


def tsa_display_name() -> str:
    url = settings.TSA_URL
    return url if url else BUILTIN_TSA_NAME


def _signer_classes() -> tuple[type, type]:
    """pyHanko's in-memory signer and TSA, using our already-loaded private keys.

    pyHanko re-parses the PKCS#8 key on every signature (twice per seal, plus twice for the
    timestamp) and cryptography validates RSA keys on load at ~55 ms each: reusing the key
    objects we loaded once per process saves about 200 ms per seal.
    """
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = (_loaded_key_signer_class(), _loaded_key_timestamper_class())
    return _CLASSES


def _loaded_key_signer_class() -> type:
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from pyhanko.sign import signers
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    class LoadedKeySigner(signers.SimpleSigner):
        def __init__(self, *args: Any, loaded_key: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.loaded_key = loaded_key

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            if isinstance(self.loaded_key, RSAPrivateKey) and (
                mechanism["algorithm"].native in ("rsassa_pkcs1v15", "sha256_rsa")
            ):
                return bytes(
                    self.loaded_key.sign(
                        data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm)
                    )
                )
            return bytes(super().sign_raw(data, digest_algorithm))

    return LoadedKeySigner


def _loaded_key_timestamper_class() -> type:
    from asn1crypto import cms, core
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from pyhanko.sign import general, timestamps
    from pyhanko.sign.general import simple_cms_attribute
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    class LoadedKeyTimeStamper(timestamps.DummyTimeStamper):
        def __init__(
            self, *args: Any, loaded_key: Any = None, policy: str = "", **kwargs: Any
        ) -> None:
            super().__init__(*args, **kwargs)
            self.loaded_key = loaded_key
            self.policy = policy or DEFAULT_TSA_POLICY_OID

        def _build_tst_info(self, message_imprint: Any, dt: dt.datetime, req: Any) -> Any:
            # pyHanko's test TSA names an example policy of another vendor and no accuracy:
            # ours names our own policy OID and an accuracy of one second (RFC 3161 2.4.2).
            from asn1crypto import tsp

            base = super()._build_tst_info(message_imprint, dt, req)
            args = {key: base[key] for key in base if base[key].native is not None}
            args["policy"] = tsp.ObjectIdentifier(self.policy)
            args["accuracy"] = tsp.Accuracy({"seconds": TSA_ACCURACY_SECONDS})
            return tsp.TSTInfo(args)

        def _sign_tst_info(
            self, tst_info_data: bytes, md_algorithm: str, dt: dt.datetime
        ) -> tuple[bytes, Any]:
            # Same attributes as pyHanko's DummyTimeStamper._sign_tst_info (0.38).
            digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
            digest.update(tst_info_data)
            signed_attrs = cms.CMSAttributes(
                [
                    simple_cms_attribute("content_type", "tst_info"),
                    simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                    simple_cms_attribute(
                        "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                    ),
                    simple_cms_attribute("message_digest", digest.finalize()),
                ]
            )
            signature = self.loaded_key.sign(
                signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper())
            )
            return signature, signed_attrs

    return LoadedKeyTimeStamper


_CLASSES: tuple[type, type] | None = None


def make_timestamper(material: KeyMaterial) -> Any:
    """pyHanko's HTTP client for TSA_URL, else the built-in TSA with our own key."""
    from pyhanko.sign import timestamps
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    url = settings.TSA_URL
    if url:
        return timestamps.HTTPTimeStamper(url, timeout=settings.TSA_TIMEOUT)
    timestamper_class = _signer_classes()[1]
    return timestamper_class(
        loaded_key=material.tsa_key,
        policy=settings.SIGNFLOW_TSA_POLICY_OID or DEFAULT_TSA_POLICY_OID,
        tsa_cert=to_asn1_cert(material.tsa_cert),
        tsa_key=to_asn1_key(material.tsa_key),
        certs_to_embed=SimpleCertificateStore.from_certs([to_asn1_cert(material.root_cert)]),
    )


# The characters of the seal box's font subset: Latin-1 (French accents), Latin Extended-A
# (œ, Œ) and the common punctuation, quotes and euro sign.
_STAMP_CHARS = [*range(0x20, 0x7F), *range(0xA0, 0x180), *range(0x2010, 0x2027), 0x20AC]
_STAMP_CHARSET = frozenset(map(chr, _STAMP_CHARS))


def _stamp_safe(text: str) -> str:
    """`text` with what the seal box's font subset lacks folded to its nearest plain letters."""
    return "".join(
        char
        if char in _STAMP_CHARSET or char == "\n"
        else unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        for char in unicodedata.normalize("NFC", text)
    )


@functools.lru_cache(maxsize=1)
def _stamp_font_path() -> str:
    """DejaVu Sans at 1000 units per em, written once per machine to the temp folder.

    pyHanko 0.38 writes the font's widths (/W) in font units, which PDF reads as thousandths
    of an em: DejaVu's 2048 units would space the letters twice too wide.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    from verification.certificate import fonts_dir

    source = fonts_dir() / "DejaVuSans.ttf"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"signflow-dejavu-sans-1000-v2-{digest}.ttf"
    if not target.exists():
        font = TTFont(str(source))
        # A subset (_stamp_safe keeps the text inside it): much faster to rescale.
        options = subset.Options()
        options.drop_tables += ["FFTM"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=_STAMP_CHARS)
        subsetter.subset(font)
        scale_upem(font, 1000)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        font.save(str(partial))
        os.replace(partial, target)  # atomic: another process may write the same file
    return str(target)


def _stamp_text_style() -> Any:
    """The seal box's text in DejaVu Sans, embedded (pyHanko's default Courier is not)."""
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.pdf_utils.text import TextBoxStyle

    return TextBoxStyle(font=GlyphAccumulatorFactory(_stamp_font_path()), font_size=9)


# Room for the seal's CMS (hex): the signature, its timestamp token and both certificate
# chains take about 10 KB; an external TSA's chain may be longer. Reserving it saves pyHanko a
# dry-run signature to measure it.
BYTES_RESERVED = 32768


def signature_metadata(material: KeyMaterial, *, reason: str, location: str) -> Any:
    """The seal's pyHanko metadata: a PAdES B-LTA certification that forbids any change."""
    from pyhanko.sign import fields, signers

    return signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD_NAME,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        name="SignFlow",
        certify=True,
        subfilter=fields.SigSeedSubFilter.PADES,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        # PAdES B-LTA: the revocation data of the seal and TSA chains goes into a DSS, then a
        # document timestamp covers everything.
        embed_validation_info=True,
        use_pades_lta=True,
        validation_context=signing_validation_context(material),
        dss_settings=_dss_settings(),
    )


def sign(
    *,
    pdf_bytes: bytes | IO[bytes],
    material: KeyMaterial,
    reason: str,
    location: str,
    stamp_text: str,
    seal_box: tuple[int, int, int, int, int] | None,
    output_path: str = "",
) -> SealOutput:
    """Certify `pdf_bytes` (bytes or a seekable file) with a timestamped PAdES B-LTA seal.

    With `output_path`, pyHanko writes the sealed file there and `SealOutput.pdf` stays empty:
    the caller hashes and stores it from the file, and no copy of it is held in memory.
    """
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError

    signer = keys.seal_signer(material)
    source = io.BytesIO(pdf_bytes) if isinstance(pdf_bytes, bytes) else pdf_bytes
    field_spec = None
    if seal_box is not None:
        page_index, x1, y1, x2, y2 = seal_box
        field_spec = fields.SigFieldSpec(SEAL_FIELD_NAME, on_page=page_index, box=(x1, y1, x2, y2))
    timestamper = make_timestamper(material)
    tokens = _record_tokens(timestamper)
    pdf_signer = signers.PdfSigner(
        signature_metadata(material, reason=reason, location=location),
        signer=signer,
        timestamper=timestamper,
        stamp_style=_stamp_style(stamp_text),
        new_field_spec=field_spec,
    )
    try:
        data = _sign_into(pdf_signer, source, output_path, BYTES_RESERVED)
    except SigningError as exc:
        if "larger than expected" not in str(exc):
            raise
        # A TSA or a seal chain larger than the reservation: let pyHanko measure it.
        tokens.clear()
        data = _sign_into(pdf_signer, source, output_path, None)
    token, ts_time = _token_and_time(tokens[0]) if tokens else (b"", None)
    return SealOutput(
        pdf=data,
        timestamp_token=token,
        timestamp_time=ts_time,
        tsa_name=tsa_display_name(),
        path=output_path,
    )


def _stamp_style(stamp_text: str) -> Any:
    """The visible seal box: the text, then the timestamp's time, in a thin frame."""
    from pyhanko import stamp

    return stamp.TextStampStyle(
        stamp_text=_stamp_safe(stamp_text) + "\n%(ts)s",
        border_width=1,
        timestamp_format="%Y-%m-%d %H:%M:%S %Z",
        text_box_style=_stamp_text_style(),
    )


def _sign_into(pdf_signer: Any, source: IO[bytes], output_path: str, reserved: int | None) -> bytes:
    """Sign `source` into `output_path` (returns b"") or into memory (returns the file)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    source.seek(0)
    writer = IncrementalPdfFileWriter(source, strict=False)
    if not output_path:
        return bytes(pdf_signer.sign_pdf(writer, bytes_reserved=reserved).getvalue())
    with open(output_path, "w+b") as out:
        pdf_signer.sign_pdf(writer, bytes_reserved=reserved, output=out)
    return b""


def _record_tokens(timestamper: Any) -> list[Any]:
    """The tokens `timestamper` hands out while signing, in order (the size-estimation dummy
    left out): the first is the seal's signature timestamp, the one its unsigned attributes
    carry, so it need not be read back from the signed file."""
    from pyhanko.sign.timestamps.common_utils import dummy_digest

    tokens: list[Any] = []
    request = timestamper.async_timestamp

    async def async_timestamp(message_digest: bytes, md_algorithm: str) -> Any:
        token = await request(message_digest, md_algorithm)
        if message_digest != dummy_digest(md_algorithm):
            tokens.append(token)
        return token

    timestamper.async_timestamp = async_timestamp
    return tokens


def _token_and_time(token: Any) -> tuple[bytes, dt.datetime | None]:
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    return token.dump(), tst_info["gen_time"].native


def _timestamp_dss_settings() -> Any:
    from pyhanko.sign.signers.pdf_signer import TimestampDSSContentSettings

    # The document timestamp's own revocation data goes in before it, not in a DSS revision
    # after it: the newest timestamp then covers the whole file (pdfsig: "Total document
    # signed"), and nothing unsigned follows it.
    return TimestampDSSContentSettings(update_before_ts=True, include_vri=False)


def _dss_settings() -> Any:
    from pyhanko.sign.signers.pdf_signer import DSSContentSettings

    return DSSContentSettings(next_ts_settings=_timestamp_dss_settings())


def signing_validation_context(material: KeyMaterial) -> Any:
    """What pyHanko checks (revocation forced) and embeds in the DSS when sealing.

    Our chain's revocation data is our own CRL, handed over directly: nothing is fetched.
    A seal certificate from SEAL_PKCS12_PATH or an external TSA has its own CA's revocation
    data, fetched from the URLs in its certificates.
    """
    from pyhanko_certvalidator import ValidationContext

    from verification.crl import current_crl, to_asn1_crl

    external = bool(settings.TSA_URL) or material.source != "generated"
    return ValidationContext(
        trust_roots=[to_asn1_cert(c) for c in material.trust_roots],
        other_certs=[to_asn1_cert(c) for c in [*material.seal_chain, material.tsa_cert]],
        crls=[to_asn1_crl(current_crl(material))],
        allow_fetching=external,
        revocation_mode="hard-fail",
    )


def archive_timestamp(*, pdf_bytes: bytes, material: KeyMaterial) -> bytes:
    """Append fresh DSS data and a new document timestamp (PAdES B-LTA archive timestamp).

    Like pyHanko's `update_archival_timestamp_chain`, except that the new timestamp's own
    revocation data goes in before it, so the new timestamp covers the whole file.
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    from verification.crl import current_crl, to_asn1_crl

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
    previous = writer.prev.embedded_timestamp_signatures
    md_algorithm = previous[-1].md_algorithm if previous else "sha256"
    # Fresh revocation data for the chains already in the file (their certificates are in
    # the DSS or in the tokens; our CRL covers every leaf of our root).
    extra_certs = [ts.signer_cert for ts in previous]
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        None,
        certs=extra_certs,
        crls=[to_asn1_crl(current_crl(material))],
    )
    out = io.BytesIO()
    signers.PdfTimeStamper(make_timestamper(material)).timestamp_pdf(
        writer,
        md_algorithm,
        signing_validation_context(material),
        output=out,
        dss_settings=_timestamp_dss_settings(),
    )
    return out.getvalue()


def _embedded_signatures(reader: Any) -> list[Any]:
    return list(reader.embedded_signatures)


def extract_timestamp_token(pdf_bytes: bytes) -> tuple[bytes, dt.datetime | None]:
    """The RFC 3161 token (DER ContentInfo) in the seal's unsigned attributes, and its time."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
    for sig in _embedded_signatures(reader):
        signer_info = sig.signer_info
        for attr in signer_info["unsigned_attrs"] or []:
            if attr["type"].native == "signature_time_stamp_token":
                return _token_and_time(attr["values"][0])
    return b"", None


def validation_context(
    material: KeyMaterial, *, reader: Any = None, moment: dt.datetime | None = None
) -> Any:
    """Our trust roots plus, when the file has one, its DSS (certificates and CRLs).

    Revocation checking is forced (hard-fail, nothing fetched): a certificate that names a CRL
    must find it in the file. `moment` validates at that time instead of now.
    """
    from pyhanko_certvalidator import ValidationContext

    kwargs: dict[str, Any] = {
        "trust_roots": [to_asn1_cert(c) for c in material.trust_roots],
        "other_certs": [to_asn1_cert(c) for c in material.seal_chain],
        "allow_fetching": False,
        "revocation_mode": "hard-fail",
        # A file sealed before B-LTA has no DSS: its certificates name no CRL either, so an
        # empty list is all they need.
        "crls": [],
        "ocsps": [],
    }
    if moment is not None:
        kwargs["moment"] = moment
    if reader is not None:
        from pyhanko.sign.validation.dss import DocumentSecurityStore
        from pyhanko.sign.validation.errors import NoDSSFoundError

        try:
            return DocumentSecurityStore.read_dss(reader).as_validation_context(kwargs)
        except NoDSSFoundError:
            pass
    return ValidationContext(**kwargs)


def _name_of(cert: Any) -> str:
    try:
        return str(cert.subject.human_friendly)
    except Exception:  # pragma: no cover - exotic names
        return ""


def _token_time(signed_data: Any) -> dt.datetime | None:
    """genTime of an RFC 3161 token (unverified: only used to pick the validation time)."""
    try:
        return signed_data["encap_content_info"]["content"].parsed["gen_time"].native
    except Exception:
        return None


def _signature_ts_time(sig: Any) -> dt.datetime | None:
    for attr in sig.signer_info["unsigned_attrs"] or []:
        if attr["type"].native == "signature_time_stamp_token":
            return _token_time(attr["values"][0]["content"])
    return None


def _fill_status(report: SignatureReport | DocumentTimestampReport, status: Any) -> None:
    """What pyHanko's validation status says, as both reports keep it."""
    report.intact = bool(status.intact)
    report.valid = bool(status.valid)
    report.trusted = bool(status.trusted)
    report.coverage = status.coverage.name if status.coverage else "UNKNOWN"
    level = status.modification_level
    report.modification_level = level.name if level is not None else "UNKNOWN"


def _document_timestamps(reader: Any, material: KeyMaterial) -> list[DocumentTimestampReport]:
    """Each document timestamp validated at its own time, with the DSS, revocation forced.

    The newest one is trusted at its own time too: for a registered file the registry (and
    the archive timestamps we keep adding to our copy, verification.tasks) is the witness
    that it existed then; each older one is covered by the next.
    """
    from pyhanko.sign.validation import validate_pdf_timestamp

    out: list[DocumentTimestampReport] = []
    stamps = reader.embedded_timestamp_signatures
    if len(stamps) > MAX_DOCUMENT_TIMESTAMPS:
        # A stranger's file with thousands of timestamps would cost a validation each: ours
        # gain one every few years, so a file with this many is not one of ours.
        raise ValueError(f"{len(stamps)} document timestamps (at most {MAX_DOCUMENT_TIMESTAMPS})")
    for ts_sig in stamps:
        byte_range = list(ts_sig.byte_range)
        report = DocumentTimestampReport(
            field_name=ts_sig.field_name or "",
            time=_token_time(ts_sig.signed_data),
            tsa="",
            intact=False,
            valid=False,
            trusted=False,
            coverage="UNKNOWN",
            modification_level="UNKNOWN",
            revision_end=int(byte_range[2]) + int(byte_range[3]),
            tsa_not_after=None,
        )
        try:
            cert = ts_sig.signer_cert
            report.tsa = _name_of(cert)
            report.tsa_not_after = cert["tbs_certificate"]["validity"]["not_after"].native
            status = validate_pdf_timestamp(
                ts_sig,
                validation_context=validation_context(material, reader=reader, moment=report.time),
            )
            _fill_status(report, status)
        except Exception as exc:
            report.errors.append(f"{type(exc).__name__}: {exc}")
        out.append(report)
    return out


def open_reader(stream: IO[bytes]) -> Any:
    """pyHanko's reader of the PDF, its signatures found; raises on unreadable files."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(stream, strict=False)
    reader.embedded_signatures  # noqa: B018 (read once here, cached by the reader)
    return reader


def page_count(reader: Any) -> int | None:
    """/Count of the page tree, as pyHanko reads it (for our own files: pdfium's count)."""
    try:
        return int(reader.root["/Pages"]["/Count"])
    except Exception:
        return None


def inspect_signatures(
    *, stream: IO[bytes], material: KeyMaterial, reader: Any = None
) -> tuple[list[Any], Any]:
    """Validate the PDF's signatures with pyHanko (`reader`: open_reader's, when the caller
    already opened it); returns (reports, reader). Raises on unreadable files.

    Each signature is validated at the time its timestamp proves, not today: certificates
    expire, the evidence does not (PAdES B-LTA, with the revocation data in the file's DSS).
    """
    from verification.keys import fingerprint

    ours = {fingerprint(material.seal_cert)}
    if reader is None:
        reader = open_reader(stream)
    reports: list[SignatureReport] = []
    doc_timestamps: list[DocumentTimestampReport] | None = None
    for sig in reader.embedded_regular_signatures:
        report = _unvalidated_report(sig, ours)
        try:
            _validate_into(report, sig, reader, material)
            if report.modification_level == "LTA_UPDATES":
                if doc_timestamps is None:
                    doc_timestamps = _document_timestamps(reader, material)
                end = int(sig.byte_range[2]) + int(sig.byte_range[3])
                report.document_timestamps = [t for t in doc_timestamps if t.revision_end > end]
                # A document timestamp that does not validate is a timestamp problem too.
                report.timestamp_ok = report.timestamp_ok and all(
                    t.ok for t in report.document_timestamps
                )
        except Exception as exc:
            report.errors.append(f"{type(exc).__name__}: {exc}")
        reports.append(report)
    return reports, reader


def _unvalidated_report(sig: Any, ours: set[str]) -> SignatureReport:
    """Who signed `sig` (ours: our seal certificate or our field), nothing validated yet."""
    errors: list[str] = []
    try:
        cert = sig.signer_cert
        signer_fp = cert.sha256.hex()
        signer_name = _name_of(cert)
    except Exception as exc:
        signer_fp, signer_name = "", ""
        errors.append(f"signer certificate: {exc}")
    return SignatureReport(
        field_name=sig.field_name or "",
        signer=signer_name,
        signer_fingerprint=signer_fp,
        ours=signer_fp in ours or sig.field_name == SEAL_FIELD_NAME,
        intact=False,
        valid=False,
        trusted=False,
        coverage="UNKNOWN",
        modification_level="UNKNOWN",
        docmdp_ok=None,
        timestamp_ok=False,
        timestamp_time=None,
        timestamp_tsa="",
        signing_time=None,
        errors=errors,
    )


def _validate_into(report: SignatureReport, sig: Any, reader: Any, material: KeyMaterial) -> None:
    """pyHanko's validation of `sig` at its timestamp's time, written into `report`."""
    from pyhanko.sign.validation import validate_pdf_signature

    moment = _signature_ts_time(sig)
    report.validation_time = moment
    # One context (same time, same DSS) for the seal and its signature timestamp.
    status = validate_pdf_signature(
        sig,
        signer_validation_context=validation_context(material, reader=reader, moment=moment),
    )
    _fill_status(report, status)
    report.docmdp_ok = status.docmdp_ok
    report.signing_time = status.signer_reported_dt
    ts = status.timestamp_validity
    if ts is not None:
        report.timestamp_ok = bool(ts.intact and ts.valid and ts.trusted)
        report.timestamp_time = ts.timestamp
        report.timestamp_tsa = _name_of(ts.signing_cert) if ts.signing_cert else ""
