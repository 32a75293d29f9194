"""The core layer as `sam build` makes it, from layers/rollout_core alone, and the runtime's Python.

    python3 tests/deployed/layer.py python    print the interpreter for the venv: the runtime's (template.yaml)
                                           when the machine has it, else the closest (a note on stderr)
    python tests/deployed/layer.py install    install the layer's requirements for Lambda and natively; print both

Standard library only: the Makefile runs it with the machine's python3 before any venv exists.

What `sam build` does for the layer (aws-lambda-builders, python_pip workflow): it copies the
ContentUri's files (the rollout_core package and requirements.txt) into ``python/`` and installs
the requirements there from wheels for the function's architecture and Python version. The same
requirements are installed here twice, each into a cached directory keyed by the requirements
file's hash:

- for Lambda (``manylinux_2_34_aarch64``, cp313; the platform tags sam accepts for arm64), to
  measure the real artifact;
- for this machine's platform and the runtime Python found here, to import it: aarch64 wheels
  with compiled parts (pydantic_core, wrapt) cannot be imported on x86_64.

Both resolve the same distributions at the same versions (tests/deployed/test_layer.py checks it).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
LAYER_SOURCE = ROOT / "layers" / "rollout_core"  # the CoreLayer's ContentUri
REQUIREMENTS = LAYER_SOURCE / "requirements.txt"
CACHE = ROOT / ".layer-cache"  # gitignored

# "Lambda quotas" (Lambda Developer Guide) and GetAccountSettings' AccountLimit: 250 MB for a
# function's deployment package and all its layers extracted (CodeSizeUnzipped), 50 MB for a .zip
# uploaded directly to Lambda (CodeSizeZipped; larger ones go through S3, as `sam deploy` does).
UNZIPPED_LIMIT = 262_144_000
ZIPPED_DIRECT_LIMIT = 52_428_800

FLOOR = (3, 11)  # pyproject.toml's requires-python

# aws-lambda-builders' DependencyBuilder: the platform tags it accepts per architecture (besides
# "any"); for cp312 and later, Lambda's glibc is 2.34 (Amazon Linux 2023).
PLATFORMS = {
    "arm64": ["linux_aarch64", "manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"],
    "x86_64": ["linux_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"],
}
GLIBC_2_34 = {"arm64": "manylinux_2_34_aarch64", "x86_64": "manylinux_2_34_x86_64"}

# What sam build leaves out when it copies the ContentUri (aws-lambda-builders' excluded files).
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


# --- the runtime, as template.yaml declares it -----------------------------------------------------


def runtime() -> tuple[str, str]:
    """(Python version, architecture) of the functions: Globals.Function.Runtime and
    Architectures in template.yaml (read with a regex: no YAML parser before the venv exists)."""
    text = TEMPLATE.read_text()
    globals_ = text.split("\nGlobals:", 1)[1].split("\nResources:", 1)[0]
    version = re.search(r"^\s+Runtime:\s*python(\d+\.\d+)\s*$", globals_, re.M)
    arch = re.search(r"^\s+Architectures:\s*\[\s*(\w+)\s*\]", globals_, re.M)
    if version is None or arch is None:
        raise SystemExit("template.yaml: Globals.Function has no python Runtime or no Architectures")
    return version.group(1), arch.group(1)


def _version_of(python: str) -> tuple[str, tuple[int, int]] | None:
    """(real executable, (major, minor)) of an interpreter, or None when it does not run (e.g. a
    pyenv shim for a version that is not selected)."""
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.executable); print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    major, minor = out[1].split()
    return out[0], (int(major), int(minor))


def _candidates() -> list[str]:
    """Every CPython 3 interpreter the machine offers: python3.N on PATH and pyenv's versions
    (in its root, whether or not pyenv itself is on PATH)."""
    found = [exe for n in range(FLOOR[1], 30) if (exe := shutil.which(f"python3.{n}"))]
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    for python in sorted(pyenv_root.glob("versions/3.*/bin/python")):
        release = re.fullmatch(r"3\.(\d+)\.\d+", python.parent.parent.name)  # not 3.13-dev, 3.13.0t
        if release and int(release.group(1)) >= FLOOR[1]:
            found.append(str(python))
    return found


def find_python(version: str) -> tuple[str, str]:
    """The interpreter for ``version`` ("3.13"), else the closest one at or above the floor (the
    newer of two equally close). Returns (executable, version found)."""
    want = tuple(int(p) for p in version.split("."))
    runnable: dict[tuple[int, int], str] = {}
    for candidate in _candidates():
        found = _version_of(candidate)
        if found is not None and found[1] >= FLOOR:
            runnable.setdefault(found[1], found[0])
    if not runnable:
        return sys.executable, f"{sys.version_info[0]}.{sys.version_info[1]}"
    best = min(runnable, key=lambda v: (abs(v[1] - want[1]) if v[0] == want[0] else 99, -v[1]))
    return runnable[best], f"{best[0]}.{best[1]}"


def runtime_python() -> tuple[str, str, str]:
    """(executable, its version, the runtime's version): the interpreter the venv, the import check
    and the cold-start bench use."""
    version, _ = runtime()
    python, found = find_python(version)
    return python, found, version


# --- installing the layer's requirements -------------------------------------------------------------


def _platforms(arch: str, version: str) -> list[str]:
    tags = list(PLATFORMS[arch])
    if tuple(int(p) for p in version.split(".")) >= (3, 12):
        tags.append(GLIBC_2_34[arch])
    return tags


def native_arch() -> str:
    machine = platform.machine().lower()
    return {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}[machine]


def install(version: str, arch: str, pip_python: str = sys.executable) -> Path:
    """The layer's requirements installed for CPython ``version`` on Linux ``arch``, from wheels
    only (as sam build without a container), into a directory cached by the requirements' hash.
    ``pip_python`` runs pip: any interpreter with pip will do, the target is given by the tags."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    kind = f"cp{version.replace('.', '')}-{arch}"
    dest = CACHE / f"{kind}-{digest}"
    if dest.is_dir():
        return dest
    CACHE.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=CACHE))
    try:
        platforms = [arg for tag in _platforms(arch, version) for arg in ("--platform", tag)]
        pip = subprocess.run(
            [
                pip_python,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-compile",  # sam build unpacks wheels without compiling them
                "--target",
                str(work),
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--python-version",
                version,
                "--abi",
                f"cp{version.replace('.', '')}",
                *platforms,
                "-r",
                str(REQUIREMENTS),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if pip.returncode != 0:
            raise RuntimeError(f"the layer's requirements do not install for {kind}:\n{pip.stdout}\n{pip.stderr}")
        try:
            work.rename(dest)
        except OSError:  # another run got there first: the same install
            shutil.rmtree(work)
    finally:
        if work.exists():
            shutil.rmtree(work)
    for stale in CACHE.glob(f"{kind}-*"):  # older requirements
        if stale != dest:
            shutil.rmtree(stale, ignore_errors=True)
    return dest


def assemble(installed: Path, dest: Path, leave_out: tuple[str, ...] = ()) -> Path:
    """``dest/python``: the layer as sam build lays it out (the installed requirements, then the
    ContentUri's files). ``leave_out`` drops top-level packages (the import check's canary)."""
    python = dest / "python"

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)  # the cache is only read through it
        except OSError:
            shutil.copy2(src, dst)

    ignore = shutil.ignore_patterns(*leave_out) if leave_out else None
    shutil.copytree(installed, python, copy_function=link, ignore=ignore)
    for item in sorted(LAYER_SOURCE.iterdir()):
        if item.name.startswith(".") or item.name == "__pycache__":
            continue
        if item.is_dir():
            shutil.copytree(item, python / item.name, ignore=COPY_IGNORE)
        else:
            shutil.copy2(item, python / item.name)
    return python


def sizes(python: Path) -> tuple[int, int]:
    """(bytes extracted, bytes of the .zip) of a layer whose content is ``python/``."""
    unzipped = sum(f.stat().st_size for f in python.rglob("*") if f.is_file())
    with tempfile.TemporaryFile() as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
            for f in sorted(python.rglob("*")):
                if f.is_file():
                    archive.write(f, f.relative_to(python.parent).as_posix())
        zipped = fh.tell()
    return unzipped, zipped


def main(argv: list[str]) -> int:
    if argv == ["python"]:
        python, found, wanted = runtime_python()
        if found != wanted:
            print(
                f"note: no Python {wanted} (the functions' runtime) on this machine; using {found}",
                file=sys.stderr,
            )
        print(python)
        return 0
    if argv == ["install"]:
        _, found, wanted = runtime_python()
        print(install(wanted, runtime()[1]))
        print(install(found, native_arch()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
