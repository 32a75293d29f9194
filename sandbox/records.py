"""The model and the record formats of the sandbox's inference (sandbox/jobs_ext.py).

``predict`` is the one simulated model: real-time, async and batch give the same answer for
a record. Batch transform splits an input object into records by TransformInput.SplitType and
assembles the results by TransformOutput.AssembleWith (CreateTransformJob API reference):
- SplitType None: the whole object is one record; Line: newline boundaries; RecordIO: MXNet
  RecordIO records (magic, flag and length, data padded to 4 bytes; a record may come in
  parts); TFRecord: length, its CRC, data, the data's CRC.
- AssembleWith Line: a newline after every record's result; None: concatenated.
"""

from __future__ import annotations

import struct


def predict(record: bytes | str) -> float:
    """The sandbox's one model: real-time, async and batch give the same answer for a record."""
    return len(record) % 7 / 7


class RecordFormatError(ValueError):
    """An input object that is not in the format its SplitType names."""


_RECORDIO_MAGIC = 0xCED7230A


def split_records(data: bytes, split_type: str) -> list[bytes]:
    """The records of one input object, as batch transform splits it (TransformInput.SplitType)."""
    if split_type == "None":
        return [data]
    if split_type == "Line":
        lines = data.split(b"\n")
        return lines[:-1] if lines[-1] == b"" else lines  # a final newline ends the last record
    if split_type == "RecordIO":
        return _recordio(data)
    if split_type == "TFRecord":
        return _tfrecord(data)
    raise RecordFormatError(f"unknown SplitType {split_type}")


def _recordio(data: bytes) -> list[bytes]:
    """MXNet RecordIO: magic, (continuation flag << 29 | length), data padded to 4 bytes; a
    record split into parts is flagged 1 (first), 2 (middle), 3 (last)."""
    records: list[bytes] = []
    part: bytes | None = None
    at = 0
    while at < len(data):
        if len(data) - at < 8:
            raise RecordFormatError(f"truncated RecordIO header at byte {at}")
        magic, word = struct.unpack_from("<II", data, at)
        if magic != _RECORDIO_MAGIC:
            raise RecordFormatError(f"no RecordIO magic number at byte {at}")
        flag, length = word >> 29, word & ((1 << 29) - 1)
        body = data[at + 8 : at + 8 + length]
        if len(body) != length:
            raise RecordFormatError(f"truncated RecordIO record at byte {at}")
        at += 8 + length + (-length % 4)
        if flag == 0:
            records.append(body)
        elif flag == 1:
            part = body
        elif part is not None:
            part += body
            if flag == 3:
                records.append(part)
                part = None
        else:
            raise RecordFormatError(f"RecordIO continuation without a first part at byte {at}")
    if part is not None:
        raise RecordFormatError("RecordIO record without its last part")
    return records


def _tfrecord(data: bytes) -> list[bytes]:
    """TFRecord: uint64 length, its masked CRC-32C, the data, the data's masked CRC-32C (the
    CRCs are not checked here)."""
    records = []
    at = 0
    while at < len(data):
        if len(data) - at < 12:
            raise RecordFormatError(f"truncated TFRecord header at byte {at}")
        (length,) = struct.unpack_from("<Q", data, at)
        body = data[at + 12 : at + 12 + length]
        if len(body) != length or len(data) < at + 12 + length + 4:
            raise RecordFormatError(f"truncated TFRecord record at byte {at}")
        records.append(body)
        at += 12 + length + 4
    return records


def assemble(predictions: list[bytes], assemble_with: str) -> bytes:
    """One output object from its records' results (TransformOutput.AssembleWith)."""
    if assemble_with == "Line":
        return b"".join(p + b"\n" for p in predictions)
    return b"".join(predictions)
