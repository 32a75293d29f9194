"""Python client and CLI for the sagemaker-rollout API (SigV4 through botocore)."""

from .client import ApiError, InvokeResult, RolloutClient

__all__ = ["ApiError", "InvokeResult", "RolloutClient"]
