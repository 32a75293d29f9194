"""The sandbox's batch transform gives back what SageMaker would: one prediction per record.

Records are split by TransformInput.SplitType and the results assembled by
TransformOutput.AssembleWith (sandbox/jobs_ext.py), with the model real-time inference uses.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from sandbox.records import RecordFormatError, assemble, predict, split_records
from sandbox.stack import JOBS_BUCKET, Sandbox

from .test_inference_api import INVOKE, body_of
from .test_jobs import create, status


def recordio(*records: bytes, split_last: bool = False) -> bytes:
    """MXNet RecordIO: magic, (flag << 29 | length), data padded to 4 bytes."""
    out = b""
    for n, record in enumerate(records):
        parts = [(0, record)]
        if split_last and n == len(records) - 1:
            half = len(record) // 2
            parts = [(1, record[:half]), (3, record[half:])]
        for flag, part in parts:
            out += struct.pack("<II", 0xCED7230A, flag << 29 | len(part)) + part + b"\0" * (-len(part) % 4)
    return out


def tfrecord(*records: bytes) -> bytes:
    return b"".join(struct.pack("<Q", len(r)) + b"\0" * 4 + r + b"\0" * 4 for r in records)


@pytest.mark.parametrize(
    ("data", "split_type", "records"),
    [
        (b"1,2\n333\n", "Line", [b"1,2", b"333"]),
        (b"1,2\n333", "Line", [b"1,2", b"333"]),  # no final newline: still two records
        (b"1,2\n\n333\n", "Line", [b"1,2", b"", b"333"]),
        (b"1,2\n333\n", "None", [b"1,2\n333\n"]),  # the whole object is one record
        (recordio(b"a", b"bcdef"), "RecordIO", [b"a", b"bcdef"]),
        (recordio(b"a", b"bcdefgh", split_last=True), "RecordIO", [b"a", b"bcdefgh"]),
        (tfrecord(b"xy", b"z"), "TFRecord", [b"xy", b"z"]),
    ],
)
def test_records_are_split_as_the_split_type_says(data: bytes, split_type: str, records: list[bytes]):
    assert split_records(data, split_type) == records


@pytest.mark.parametrize(("data", "split_type"), [(b"not recordio", "RecordIO"), (b"\x05\0\0\0", "TFRecord")])
def test_an_object_not_in_its_split_format_is_refused(data: bytes, split_type: str):
    with pytest.raises(RecordFormatError):
        split_records(data, split_type)


def test_results_are_assembled_as_assemble_with_says():
    assert assemble([b"a", b"b"], "Line") == b"a\nb\n"
    assert assemble([b"a", b"b"], "None") == b"ab"


def _run(stack: Sandbox, records: bytes, **settings: Any) -> Any:
    """A transform job on the model the endpoint serves, over one uploaded object."""
    sm, s3 = stack.client("sagemaker"), stack.client("s3")
    config = sm.describe_endpoint(EndpointName="churn-endpoint")["EndpointConfigName"]
    model = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"]
    s3.put_object(Bucket=JOBS_BUCKET, Key="inputs/t1/sub/data.bin", Body=records)
    sm.create_transform_job(
        TransformJobName="sr-t1",
        ModelName=model,
        MaxPayloadInMB=settings.pop("max_payload_mb", 6),
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{JOBS_BUCKET}/inputs/t1/"}},
            "SplitType": settings.pop("split_type", "None"),
        },
        TransformOutput={"S3OutputPath": f"s3://{JOBS_BUCKET}/outputs/batch/t1/", **settings},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    stack.advance(120)
    return sm.describe_transform_job(TransformJobName="sr-t1")


def _output(stack: Sandbox) -> bytes:
    # In the object's subfolder below the input prefix, named <object>.out.
    found = stack.client("s3").get_object(Bucket=JOBS_BUCKET, Key="outputs/batch/t1/sub/data.bin.out")
    body: bytes = found["Body"].read()
    return body


def _prediction(record: bytes) -> bytes:
    return json.dumps({"prediction": predict(record)}).encode()


def test_one_prediction_per_record_assembled_by_line(serving_stack: Sandbox):
    job = _run(serving_stack, recordio(b"1", b"22", b"333"), split_type="RecordIO", AssembleWith="Line")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert _output(serving_stack) == b"".join(_prediction(r) + b"\n" for r in (b"1", b"22", b"333"))


def test_an_unsplit_object_is_one_record_concatenated(serving_stack: Sandbox):
    job = _run(serving_stack, b"1,2\n3,4\n", split_type="None", AssembleWith="None")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert _output(serving_stack) == _prediction(b"1,2\n3,4\n")


def test_a_record_over_max_payload_fails_the_job(serving_stack: Sandbox):
    job = _run(serving_stack, b"7" * (1024 * 1024 + 1), split_type="None", max_payload_mb=1)
    assert job["TransformJobStatus"] == "Failed"
    assert "MaxPayloadInMB" in job["FailureReason"]


def test_batch_predictions_are_the_real_time_ones(serving_stack: Sandbox):
    """What a user of `sandbox serve` gets back: the same prediction for a record, whichever route."""
    rows = [b"1,2", b"10,20,30", b"5"]
    code, job = create(
        serving_stack, endpoint="churn-endpoint", mode="batch", content_type="text/csv", split_type="Line"
    )
    assert code == 201
    assert serving_stack.upload(job["upload"], b"\n".join(rows) + b"\n") == 204
    serving_stack.advance(120)
    assert status(serving_stack, job["job_id"])["status"] == "SUCCEEDED"
    key = f"outputs/batch/{job['job_id']}/input.out"
    lines = serving_stack.client("s3").get_object(Bucket=JOBS_BUCKET, Key=key)["Body"].read().splitlines()
    batch = [json.loads(line)["prediction"] for line in lines]
    real_time = []
    for row in rows:
        response = serving_stack.api("POST", INVOKE, row, {"Content-Type": "text/csv"})
        assert response["statusCode"] == 200
        real_time.append(json.loads(body_of(response))["prediction"])
    assert len(batch) == len(rows)
    assert batch == real_time


def test_a_transform_job_with_no_input_objects_is_refused(serving_stack: Sandbox):
    """SageMaker refuses CreateTransformJob itself when nothing is under the input prefix
    (ValidationException "No S3 objects found under S3 URL ...")."""
    sm = serving_stack.client("sagemaker")
    config = sm.describe_endpoint(EndpointName="churn-endpoint")["EndpointConfigName"]
    model = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"]
    with pytest.raises(sm.exceptions.ClientError) as refused:
        sm.create_transform_job(
            TransformJobName="sr-empty",
            ModelName=model,
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{JOBS_BUCKET}/inputs/none/"}}
            },
            TransformOutput={"S3OutputPath": f"s3://{JOBS_BUCKET}/outputs/batch/none/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "No S3 objects found under S3 URL" in refused.value.response["Error"]["Message"]
    assert "sr-empty" not in {j["TransformJobName"] for j in sm.list_transform_jobs()["TransformJobSummaries"]}
