"""S3: presigned URLs only. The functions never read or write a job's payload themselves."""

from __future__ import annotations

from typing import Any

UPLOAD_EXPIRY_SECONDS = 900
DOWNLOAD_EXPIRY_SECONDS = 300


def split_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class Storage:
    def __init__(self, client: Any) -> None:
        self._s3 = client

    def presign_upload(self, bucket: str, key: str, content_type: str, max_bytes: int) -> dict[str, Any]:
        """A presigned POST for exactly this key, this content type and 1..max_bytes bytes."""
        post = self._s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=UPLOAD_EXPIRY_SECONDS,
        )
        return {
            "method": "POST",
            "url": post["url"],
            "fields": post["fields"],
            "max_bytes": max_bytes,
            "expires_in": UPLOAD_EXPIRY_SECONDS,
        }

    def presign_download(self, uri: str) -> dict[str, Any]:
        bucket, key = split_uri(uri)
        url = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=DOWNLOAD_EXPIRY_SECONDS
        )
        return {"method": "GET", "url": url, "expires_in": DOWNLOAD_EXPIRY_SECONDS}

    def first_key(self, uri_prefix: str) -> str | None:
        """The first object under an s3:// prefix (a batch job's output), or None."""
        bucket, prefix = split_uri(uri_prefix)
        listed = self._s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        contents = listed.get("Contents", [])
        return f"s3://{bucket}/{contents[0]['Key']}" if contents else None
