"""The Model Registry across accounts, which moto lacks: a package of another account, read as
its model package group's resource policy allows.

SageMaker lets another account describe a model package version and create a model from it
when the group's resource policy allows that account ("Cross-account discoverability",
SageMaker model registry; ``PutModelPackageGroupPolicy`` / ``AWS::SageMaker::ModelPackageGroup``
``ModelPackageGroupPolicy``). moto keeps each account's packages in that account's backend and
looks a package ARN up in the caller's only. Here a package ARN of another account is looked
up in its owner's backend if the owner's group policy (``policies``, from registry/template.yaml:
sandbox/chain.py) allows the calling account ``sagemaker:DescribeModelPackage`` on it; else
the call is refused with AccessDeniedException (the caller's own policy is checked by
tests/security/test_iam_coverage.py, as for every call). CreateModel from such a package goes
through the same lookup (sandbox/sagemaker_ext.py reads the package first).
"""

from __future__ import annotations

from typing import Any

from moto.sagemaker.exceptions import SagemakerClientError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends

from .iam_policy import Access, Statement, explicitly_allows, explicitly_denies


class AccessDenied(SagemakerClientError):
    code = "AccessDeniedException"


class RegistryShare:
    def __init__(self) -> None:
        # (owner account, group) -> the statements of the group's resource policy
        self.policies: dict[tuple[str, str], list[Statement]] = {}
        self._saved: Any = None

    def install(self) -> RegistryShare:
        share = self
        self._saved = SageMakerModelBackend.describe_model_package
        original = self._saved

        def describe(backend: SageMakerModelBackend, model_package_name: str) -> Any:
            owner = _owner(model_package_name)
            if owner is None or owner == backend.account_id:
                return original(backend, model_package_name)
            share.check(backend.account_id, owner, model_package_name)
            return original(sagemaker_backends[owner][backend.region_name], model_package_name)

        SageMakerModelBackend.describe_model_package = describe  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            SageMakerModelBackend.describe_model_package = self._saved  # type: ignore[method-assign]
            self._saved = None

    def check(self, caller: str, owner: str, package_arn: str) -> None:
        group = package_arn.split(":", 5)[5].split("/")[1]
        statements = self.policies.get((owner, group), [])
        access = Access("sagemaker:DescribeModelPackage", package_arn, (("aws:PrincipalAccount", caller),))
        principal = f"arn:aws:iam::{caller}:root"
        if explicitly_denies(statements, access, principal) or not explicitly_allows(statements, access, principal):
            raise AccessDenied(
                f"User: arn:aws:iam::{caller}:root is not authorized to perform: sagemaker:DescribeModelPackage "
                f"on resource: {package_arn} because no resource-based policy allows it"
            )


def _owner(name: str) -> str | None:
    """The account in a model package ARN (None for a plain name)."""
    parts = name.split(":")
    return parts[4] if name.startswith("arn:") and len(parts) > 5 else None
