"""django-storages' S3 backend, with timeouts and its errors raised as OSError.

`S3Storage` is `storages.backends.s3.S3Storage` (boto3) with three more options,
`connect_timeout`, `read_timeout` and `max_attempts` (an unreachable endpoint fails in seconds,
not after boto3's default minute and retries), and every botocore error turned into
`signflow.storage.StorageUnavailable`, an OSError, naming the operation, object, bucket and S3
error code. A missing object stays FileNotFoundError (django-storages' own). A file opened for
reading is downloaded at once, so a failure shows at `open`, not at the first `read`.
Configured by signflow.storage.default_storage_setting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from storages.backends import s3

from signflow.storage import StorageUnavailable


@contextlib.contextmanager
def _s3_errors(bucket: str, operation: str, name: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        code = error.get("Code") or status
        detail = f"{code} ({error['Message']})" if error.get("Message") else str(code)
        if status == 403:  # a HEAD's answer has no body: say what to check
            detail += "; check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy"
        raise StorageUnavailable(
            f"S3 {operation} of {name!r} in bucket {bucket!r} failed: {detail}"
        ) from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(
            f"S3 {operation} of {name!r} in bucket {bucket!r} failed: {exc}"
        ) from exc


class S3Storage(s3.S3Storage):
    client_config: Config
    bucket_name: str
    connect_timeout: int
    read_timeout: int
    max_attempts: int

    def get_default_settings(self) -> dict[str, Any]:
        return {
            **super().get_default_settings(),
            "connect_timeout": 5,
            "read_timeout": 30,
            "max_attempts": 3,
        }

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.client_config = self.client_config.merge(
            Config(
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            )
        )

    def _errors(self, operation: str, name: str) -> contextlib.AbstractContextManager[None]:
        return _s3_errors(self.bucket_name, operation, name)

    def _open(self, name: str, mode: str = "rb") -> Any:
        with self._errors("read" if "r" in mode else "open", name):
            file = super()._open(name, mode)
            if "r" in mode:
                file.file  # noqa: B018 - downloads now, so that errors show here
        return file

    def _save(self, name: str, content: Any) -> str:
        with self._errors("write", name):
            return str(super()._save(name, content))

    def delete(self, name: str) -> None:
        with self._errors("delete", name):
            super().delete(name)

    def exists(self, name: str) -> bool:
        with self._errors("lookup", name):
            return bool(super().exists(name))

    def size(self, name: str) -> int:
        with self._errors("size", name):
            return int(super().size(name))

    def listdir(self, name: str) -> tuple[list[str], list[str]]:
        with self._errors("listing", name):
            directories, files = super().listdir(name)
            return list(directories), list(files)

    def get_modified_time(self, name: str) -> datetime:
        with self._errors("lookup", name):
            modified: datetime = super().get_modified_time(name)
            return modified
