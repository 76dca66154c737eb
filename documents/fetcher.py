"""WeasyPrint's URL fetcher, sandboxed: data: URIs and files under the project's static/ only.

A template is written by an employee, and CRM values end up in it: neither may make the
renderer read a local file (file:///etc/passwd) or reach the network (http://127.0.0.1, cloud
metadata endpoints). Refused URLs are recorded so tests and logs can show what was attempted.
"""

import logging
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from weasyprint.urls import URLFetcher, URLFetcherResponse

logger = logging.getLogger(__name__)


def static_root() -> Path:
    """The project's own static/ directory: fonts and images templates may use."""
    return (Path(settings.BASE_DIR) / "static").resolve()


class SandboxedURLFetcher(URLFetcher):
    def __init__(self, *, root: Path | None = None) -> None:
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False)
        self.root = (root or static_root()).resolve()
        self.refused: list[str] = []

    def _refuse(self, url: str) -> None:
        self.refused.append(url)
        logger.warning("Template tried to fetch a forbidden URL: %.200s", url)
        raise ValueError(f"Forbidden URL in a document template: {url[:200]}")

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file":
            self._refuse(url)
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            self._refuse(url)
        # resolve() follows symlinks and "..": the real file must live under static/.
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            self._refuse(url)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": mime})
