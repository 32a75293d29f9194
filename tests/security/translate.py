"""Translate template.yaml to plain CloudFormation offline, as `sam deploy` would (no AWS account).

    python tests/security/translate.py [TEMPLATE] [-o OUT.json] [--param Name=Value ...]

Runs in the security tools venv (aws-sam-translator, pinned in requirements-security.txt; it
cannot share the dev venv: it pins pydantic ~=2.13 while the layer pins 2.14). The linters
then see the AWS::Lambda::Function, AWS::IAM::Role, AWS::Events::Rule, ... that SAM generates:
cfn-lint no longer expands AWS::Serverless::* itself and checkov ignores inline SAM
`Policies:`, so the translated template is what proves the IAM and event wiring.

Offline means:
- local CodeUri/ContentUri/DefinitionUri paths become placeholder S3 locations (`sam package`
  would upload them);
- AWS managed policy names resolve from the map bundled with aws-sam-translator instead of
  IAM ListPolicies;
- pseudo parameters (region, account) are fixed example values;
- function Metadata (checkov skips with their reasons) is passed through to the generated
  resources, as SAM does on deploy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
PLACEHOLDER_BUCKET = "sagemaker-rollout-offline-artifacts"
# Properties that name local paths `sam package` uploads, per resource type.
LOCAL_PATHS = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Serverless::Api": ("DefinitionUri",),
    "AWS::Serverless::HttpApi": ("DefinitionUri",),
    "AWS::Serverless::StateMachine": ("DefinitionUri",),
}


class OfflineManagedPolicyLoader:
    """ManagedPolicyLoader without IAM: the AWS managed policies bundled with the translator."""

    def load(self) -> dict[str, str]:
        from samtranslator.internal.managed_policies import (  # type: ignore[import-not-found]
            get_bundled_managed_policy_map,
        )

        return dict(get_bundled_managed_policy_map("aws") or {})


def _offline_uris(template: dict[str, Any]) -> None:
    def fix(props: dict[str, Any], key: str) -> None:
        value = props.get(key)
        if isinstance(value, str) and not value.startswith("s3://"):
            props[key] = f"s3://{PLACEHOLDER_BUCKET}/{value.strip('/').replace('/', '-')}.zip"

    for resource in template.get("Resources", {}).values():
        for key in LOCAL_PATHS.get(resource.get("Type", ""), ()):
            fix(resource.setdefault("Properties", {}), key)
    globals_ = template.get("Globals", {})
    for section, keys in (("Function", ("CodeUri",)), ("Api", ("DefinitionUri",))):
        for key in keys:
            if section in globals_:
                fix(globals_[section], key)


def translate(template_path: Path, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    from samtranslator.translator.transform import transform  # type: ignore[import-not-found]
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-not-found]

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    template: dict[str, Any] = yaml_parse(template_path.read_text())
    _offline_uris(template)
    values: dict[str, Any] = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
    values.update(parameters or {})
    translated: dict[str, Any] = transform(
        template,
        values,
        OfflineManagedPolicyLoader(),
        passthrough_metadata=True,
    )
    return translated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
    parser.add_argument("--param", action="append", default=[], help="Name=Value of a template parameter")
    args = parser.parse_args(argv)
    parameters = dict(p.split("=", 1) for p in args.param)
    try:
        translated = translate(args.template, parameters)
    except Exception as exc:  # InvalidDocumentException lists every problem SAM found
        causes = getattr(exc, "causes", None) or []
        print(f"{args.template}: SAM translation failed: {exc}", file=sys.stderr)
        for cause in causes:
            print(f"  - {getattr(cause, 'message', cause)}", file=sys.stderr)
        return 1
    text = json.dumps(translated, indent=2, sort_keys=False)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
