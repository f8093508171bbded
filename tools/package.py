#!/usr/bin/env python3
"""Build the packages into dist/: wheel + sdist, the one-folder bundle and the Debian package.

    python tools/package.py            everything (what `make package` runs)
    python tools/package.py --no-deb   wheel, sdist and bundle only

Outputs (the version comes from pyproject.toml, nowhere else):
    dist/uma_desktop-<v>-py3-none-any.whl, dist/uma_desktop-<v>.tar.gz   (python -m build)
    dist/uma-desktop/                                                   (PyInstaller bundle)
    dist/uma-desktop_<v>_<arch>.deb                                     (dpkg-deb)

The Debian package installs the bundle under /opt/uma-desktop with /usr/bin/uma-desktop
linking to it, the .desktop file, AppStream metainfo, hicolor icons, a man page and bash/zsh
completions generated from the program's own parsers (tools/command_reference.py).

Only dist/ and build/ in the checkout are written; PyInstaller's work folder (its analysis
cache, which makes rebuilds faster) lives in $UMA_CACHE/pyinstaller. Sizes and build times
go to build/package-report.json.
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
BUILD = ROOT / "build"
PACKAGING = ROOT / "packaging"
APP_ID = "org.umadesktop.UmaDesktop"
PACKAGE = "uma-desktop"
INSTALL_DIR = Path("opt") / PACKAGE
MAINTAINER = "The UMA Desktop developers <maintainers@umadesktop.org>"
HOMEPAGE = "https://umadesktop.org"
CACHE = Path(os.environ.get("UMA_CACHE") or Path.home() / ".cache" / "uma-desktop")
ELF_MAGIC = b"\x7fELF"


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def debian_version(version: str) -> str:
    """PEP 440 pre-releases sort before the release in Debian with a tilde (1.0rc1 -> 1.0~rc1)."""
    return re.sub(r"(?<=\d)\.?(a|b|rc|dev)(\d*)", r"~\1\2", version)


def run(*command: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"failed ({done.returncode}): {' '.join(map(str, command))}")
    return done.stdout


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# -- wheel, sdist, bundle -----------------------------------------------------------------


def build_python_packages(version: str) -> list[Path]:
    for old in [*DIST.glob("uma_desktop-*.whl"), *DIST.glob("uma_desktop-*.tar.gz")]:
        old.unlink()
    run(sys.executable, "-m", "build", "--outdir", DIST, ROOT)
    built = [
        DIST / f"uma_desktop-{version}-py3-none-any.whl",
        DIST / f"uma_desktop-{version}.tar.gz",
    ]
    missing = [p.name for p in built if not p.is_file()]
    if missing:
        raise SystemExit(f"python -m build did not write {missing}")
    return built


def build_bundle() -> Path:
    work = CACHE / "pyinstaller" / "work"
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    run(
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
        "--distpath", DIST, "--workpath", work, PACKAGING / "uma-desktop.spec",
        env=env,
    )  # fmt: skip
    bundle = DIST / PACKAGE
    if not (bundle / PACKAGE).is_file():
        raise SystemExit(f"PyInstaller did not write {bundle / PACKAGE}")
    return bundle


# -- the Debian package -------------------------------------------------------------------


def command_reference(what: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    return run(sys.executable, ROOT / "tools" / "command_reference.py", what, env=env)


def write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    path.chmod(mode)


def write_gzip(path: Path, text: str) -> None:
    write(path, gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def elf_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as file:
                if file.read(4) == ELF_MAGIC:
                    yield path


def normalise_modes(folder: Path, executable: Path) -> None:
    """Folders 0755; the program 0755; everything else (shared objects too) 0644."""
    for path in folder.rglob("*"):
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if path == executable else 0o644)


def system_libraries() -> dict[str, Path]:
    """Shared library name -> path, as the dynamic linker's cache knows them."""
    found: dict[str, Path] = {}
    for line in run("/sbin/ldconfig", "-p").splitlines():
        match = re.match(r"\s*(\S+) \((libc6,x86-64|libc6,AArch64|[^)]*)\) => (\S+)", line)
        if match and match.group(1) not in found:
            found[match.group(1)] = Path(match.group(3))
    return found


def owning_packages(paths: list[Path]) -> dict[Path, str]:
    """Which Debian package installed each path (merged /usr: /lib and /usr/lib both tried)."""
    candidates: dict[str, Path] = {}
    for path in paths:
        text = str(path)
        candidates[text] = path
        alias = text.removeprefix("/usr") if text.startswith("/usr/lib/") else "/usr" + text
        candidates[alias] = path
    done = subprocess.run(
        ["dpkg-query", "-S", *candidates], capture_output=True, text=True, check=False
    )
    owners: dict[Path, str] = {}
    for line in done.stdout.splitlines():
        package, _, where = line.partition(": ")
        if where in candidates and "," not in package:
            owners[candidates[where]] = package.split(":")[0]
    return owners


def needed_libraries(elves: list[Path]) -> set[str]:
    needed: set[str] = set()
    for start in range(0, len(elves), 100):
        output = run("readelf", "--dynamic", "--wide", *elves[start : start + 100])
        needed.update(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", output))
    return needed


def use_system_libraries(staged_bundle: Path) -> str:
    """Drop the bundle's copies of Debian's own libraries; return the Depends line.

    PyInstaller copies the system libraries Qt and Python load (libX11, libpng, ...) so the
    folder in dist/ runs anywhere; the Debian package uses Debian's instead (security
    updates reach them) and depends on their packages, as it does for the libraries the
    bundle never carries (glibc, libGL, ...).
    """
    system = system_libraries()
    internal = staged_bundle / "_internal"
    copies = {
        path: system[path.name]
        for path in internal.iterdir()
        if path.is_file()
        and path.name in system
        and path.name.startswith("lib")
        and not path.name.startswith("libpython")
    }
    owners = owning_packages(list(copies.values()))
    packages: set[str] = set()
    for copy, original in copies.items():
        if original in owners:
            copy.unlink()
            packages.add(owners[original])
    bundled = {path.name for path in staged_bundle.rglob("*.so*")}
    missing = sorted(needed_libraries(list(elf_files(staged_bundle))) - bundled)
    unknown = [name for name in missing if name not in system]
    if unknown:
        raise SystemExit(f"the bundle needs libraries this system does not have: {unknown}")
    owners = owning_packages([system[name] for name in missing])
    unowned = [name for name in missing if system[name] not in owners]
    if unowned:
        raise SystemExit(f"no Debian package provides {unowned}")
    packages.update(owners.values())
    packages.discard("libc6")
    glibc = run("dpkg-query", "-W", "-f=${Version}", "libc6").split("-")[0]
    return ", ".join([f"libc6 (>= {glibc})", *sorted(packages)])


def control_file(version: str, arch: str, depends: str, installed_kib: int) -> str:
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\n"
        f"Depends: {depends}\n"
        "Recommends: gnome-keyring | kwalletmanager | keepassxc\n"
        "Section: utils\n"
        "Priority: optional\n"
        f"Homepage: {HOMEPAGE}\n"
        "Description: control who may access your data across UMA 2.0 servers\n"
        " UMA Desktop is one native window over the User-Managed Access (UMA 2.0)\n"
        " authorization servers a person uses: every registered resource in one\n"
        " table, one inbox of pending access requests to approve or deny, sharing\n"
        " and revoking per resource, and a local history of every decision.\n"
        " .\n"
        " Tokens are kept only in the system keyring (Secret Service). A demo mode\n"
        " starts a built-in UMA 2.0 sandbox server with a protocol trace, and\n"
        " `uma-desktop sandbox` runs that server on its own for interop testing.\n"
        " .\n"
        " This package carries its own Python and Qt under /opt/uma-desktop.\n"
    )


def copyright_file() -> str:
    return (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: UMA Desktop\n"
        f"Source: {HOMEPAGE}\n"
        "\n"
        "Files: *\n"
        "Copyright: 2026 The UMA Desktop developers\n"
        "License: Apache-2.0\n"
        "\n"
        f"Files: {INSTALL_DIR}/_internal/*\n"
        "Copyright: the copyright holders of each bundled component\n"
        "License: bundled-components\n"
        "\n"
        "License: Apache-2.0\n"
        " On Debian systems the full text of the Apache License, Version 2.0 is in\n"
        " /usr/share/common-licenses/Apache-2.0.\n"
        "\n"
        "License: bundled-components\n"
        " The bundle under /opt/uma-desktop/_internal carries the Python runtime (PSF\n"
        " License), Qt and PySide6 (LGPL-3.0) and the Python libraries listed in\n"
        " pyproject.toml, each under its own license; their license files are in the\n"
        " *.dist-info folders next to them.\n"
    )


def changelog(version: str) -> str:
    when = email.utils.formatdate(
        float(os.environ.get("SOURCE_DATE_EPOCH") or time.time()), usegmt=False
    )
    return (
        f"{PACKAGE} ({version}) unstable; urgency=medium\n\n"
        f"  * Release {version}.\n\n"
        f" -- {MAINTAINER}  {when}\n"
    )


# Each override names why the rule does not fit a self-contained bundle under /opt.
LINTIAN_OVERRIDES = """\
# The bundle carries its own Python and Qt, so it lives in one folder under /opt.
uma-desktop: dir-or-file-in-opt
# PySide6's libraries find Qt's next to them through their RUNPATH ($ORIGIN/...).
uma-desktop: custom-library-search-path
# Python's own extension modules and Qt's image plugins link these statically, as their
# projects build them (pyexpat: expat; Qt's jpeg and tiff plugins).
uma-desktop: embedded-library
# Python's extension modules resolve libc through the interpreter that loads them.
uma-desktop: library-not-linked-against-libc
"""


def stage_deb_root(bundle: Path, version: str) -> Path:
    root = BUILD / "deb" / "root"
    shutil.rmtree(root.parent, ignore_errors=True)
    opt = root / INSTALL_DIR
    shutil.copytree(bundle, opt, symlinks=True)
    normalise_modes(opt, opt / PACKAGE)
    usr = root / "usr"
    (usr / "bin").mkdir(parents=True)
    (usr / "bin" / PACKAGE).symlink_to(f"/{INSTALL_DIR}/{PACKAGE}")
    share = usr / "share"
    write(
        share / "applications" / f"{APP_ID}.desktop", (PACKAGING / f"{APP_ID}.desktop").read_text()
    )
    write(
        share / "metainfo" / f"{APP_ID}.metainfo.xml",
        (PACKAGING / f"{APP_ID}.metainfo.xml").read_text(),
    )
    icons = ROOT / "resources" / "icons" / "hicolor"
    for icon in sorted(icons.rglob(f"{APP_ID}.*")):
        write(share / "icons" / "hicolor" / icon.relative_to(icons), icon.read_bytes())
    write_gzip(share / "man" / "man1" / f"{PACKAGE}.1.gz", command_reference("man"))
    write(share / "bash-completion" / "completions" / PACKAGE, command_reference("bash"))
    write(share / "zsh" / "vendor-completions" / f"_{PACKAGE}", command_reference("zsh"))
    doc = share / "doc" / PACKAGE
    write(doc / "copyright", copyright_file())
    write_gzip(doc / "changelog.gz", changelog(version))
    write(share / "lintian" / "overrides" / PACKAGE, LINTIAN_OVERRIDES)
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        folder.chmod(0o755)
    return root


def md5sums(root: Path) -> str:
    lines = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and "DEBIAN" not in path.parts:
            digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
            lines.append(f"{digest}  {path.relative_to(root)}\n")
    return "".join(lines)


def build_deb(bundle: Path, python_version: str) -> Path:
    version = debian_version(python_version)
    arch = run("dpkg", "--print-architecture").strip()
    root = stage_deb_root(bundle, version)
    depends = use_system_libraries(root / INSTALL_DIR)
    installed_kib = (tree_size(root) + 1023) // 1024
    control = root / "DEBIAN"
    write(control / "control", control_file(version, arch, depends, installed_kib))
    write(control / "md5sums", md5sums(root))
    for old in DIST.glob(f"{PACKAGE}_*.deb"):
        old.unlink()
    target = DIST / f"{PACKAGE}_{version}_{arch}.deb"
    run("dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", root, target)
    shutil.rmtree(root.parent)  # the staged copy of the bundle
    return target


# -- main ---------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-deb", action="store_true", help="skip the Debian package")
    options = parser.parse_args(argv)
    version = project_version()
    DIST.mkdir(exist_ok=True)
    BUILD.mkdir(exist_ok=True)
    seconds: dict[str, float] = {}
    sizes: dict[str, int] = {}

    started = time.monotonic()
    for artifact in build_python_packages(version):
        sizes[artifact.name] = tree_size(artifact)
    seconds["wheel+sdist"] = time.monotonic() - started

    started = time.monotonic()
    bundle = build_bundle()
    sizes["bundle folder"] = tree_size(bundle)
    seconds["bundle"] = time.monotonic() - started

    if not options.no_deb:
        started = time.monotonic()
        deb = build_deb(bundle, version)
        sizes[deb.name] = tree_size(deb)
        seconds["deb"] = time.monotonic() - started

    report = {"version": version, "seconds": seconds, "bytes": sizes}
    write(BUILD / "package-report.json", json.dumps(report, indent=2) + "\n")
    for name, size in sizes.items():
        print(f"{name}: {size / 1e6:.1f} MB")
    print("build time: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
