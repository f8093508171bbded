"""What `make package` built: the wheel and sdist, the Debian package's metadata and files,
lintian's verdict, and the man page and completions it installs."""

from __future__ import annotations

import json
import subprocess
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

from tests.packaging.conftest import (
    APP_ID,
    BUILD_REPORT,
    INSTALL_DIR,
    ROOT,
    project_version,
    require_tool,
)

PACKAGE_DATA = ("uma_desktop/gui/icons/app.svg", "uma_desktop/py.typed")


def test_the_version_is_declared_once_and_released_in_the_metainfo(version: str) -> None:
    """pyproject.toml has the version; the AppStream metainfo's newest release matches it."""
    metainfo = ET.parse(ROOT / "packaging" / f"{APP_ID}.metainfo.xml").getroot()
    releases = [r.get("version") for r in metainfo.iter("release")]
    assert releases and releases[0] == version


def test_wheel_and_sdist_carry_the_package_data(wheel: Path, sdist: Path, version: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"uma_desktop-{version}.dist-info/METADATA").decode()
        entry_points = archive.read(f"uma_desktop-{version}.dist-info/entry_points.txt").decode()
    for wanted in PACKAGE_DATA:
        assert any(name.startswith(wanted) for name in names), wanted
    assert f"\nVersion: {version}\n" in metadata
    assert "uma-desktop = uma_desktop.__main__:main" in entry_points
    assert not any(name.startswith(("tests/", "tools/")) for name in names)
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    top = f"uma_desktop-{version}"
    assert f"{top}/pyproject.toml" in members and f"{top}/uma_desktop/cli.py" in members


def test_the_deb_describes_itself(deb: Path, version: str) -> None:
    require_tool("dpkg-deb")
    fields = subprocess.run(
        ["dpkg-deb", "--field", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert "Package: uma-desktop\n" in fields
    assert f"Version: {version}\n" in fields
    depends = next(line for line in fields.splitlines() if line.startswith("Depends: "))
    assert "libc6 (>= " in depends and "libegl1" in depends and "libfontconfig1" in depends
    # Every dependency is a real package, installed here (where the smoke tests run it).
    names = [part.split()[0] for part in depends.removeprefix("Depends: ").split(", ")]
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", *names],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    installed = {
        line.split()[0] for line in status.stdout.splitlines() if line.split()[1:] == ["installed"]
    }
    assert not set(names) - installed, status.stderr


def test_the_deb_installs_the_desktop_integration(deb_root: Path) -> None:
    share = deb_root / "usr" / "share"
    program = deb_root / "usr" / "bin" / "uma-desktop"
    assert program.is_symlink() and str(program.readlink()) == f"/{INSTALL_DIR}/uma-desktop"
    assert (deb_root / INSTALL_DIR / "uma-desktop").is_file()
    expected = [
        f"applications/{APP_ID}.desktop",
        f"metainfo/{APP_ID}.metainfo.xml",
        f"icons/hicolor/scalable/apps/{APP_ID}.svg",
        *(f"icons/hicolor/{n}x{n}/apps/{APP_ID}.png" for n in (16, 24, 32, 48, 64, 128, 256)),
        "man/man1/uma-desktop.1.gz",
        "bash-completion/completions/uma-desktop",
        "zsh/vendor-completions/_uma-desktop",
        "doc/uma-desktop/copyright",
        "doc/uma-desktop/changelog.gz",
    ]
    missing = [path for path in expected if not (share / path).is_file()]
    assert not missing
    # The bundle carries the app's icons (the sandbox renders its pages in code).
    icons = deb_root / INSTALL_DIR / "_internal" / "uma_desktop" / "gui" / "icons"
    assert (icons / "app.svg").is_file() and (icons / "approve.svg").is_file()


def test_installed_desktop_file_and_metainfo_validate(deb_root: Path) -> None:
    share = deb_root / "usr" / "share"
    for command in (
        [require_tool("desktop-file-validate"), str(share / "applications" / f"{APP_ID}.desktop")],
        [require_tool("appstreamcli"), "validate", "--no-net",
         str(share / "metainfo" / f"{APP_ID}.metainfo.xml")],
    ):  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_lintian_finds_no_errors(deb: Path, report_figure: Any) -> None:
    lintian = require_tool("lintian")
    done = subprocess.run(
        [lintian, "--no-tag-display-limit", str(deb)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    tags = [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:")]
    errors = [line for line in tags if line.startswith("E:")]
    assert not errors, "\n".join(errors)
    warnings = sorted({line.split()[2] for line in tags})
    report_figure(f"lintian warnings: {', '.join(warnings) or 'none'}")


def test_the_man_page_renders_without_warnings(deb_root: Path) -> None:
    man = require_tool("man")
    page = deb_root / "usr" / "share" / "man" / "man1" / "uma-desktop.1.gz"
    done = subprocess.run(
        [man, "--warnings", "-l", str(page)],
        capture_output=True, text=True, timeout=120, check=False,
        env={"MANWIDTH": "100", "MANPAGER": "cat", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    text = done.stdout
    assert "uma-desktop sandbox" in text and "--demo" in text and "--print-config" in text


def test_bash_completes_commands_and_options(deb_root: Path) -> None:
    bash = require_tool("bash")
    script = deb_root / "usr" / "share" / "bash-completion" / "completions" / "uma-desktop"

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        program = (
            f'source "{script}"; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
            f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; '
            '_shtab_uma_desktop uma-desktop; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(
            [bash, "-c", program], capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout.split()

    assert complete("uma-desktop", "conn") == ["connections"]
    assert "shared-with-me" in complete("uma-desktop", "sha")
    assert complete("uma-desktop", "sandbox", "--print") == ["--print-config"]
    zsh = (deb_root / "usr" / "share" / "zsh" / "vendor-completions" / "_uma-desktop").read_text()
    assert zsh.startswith("#compdef uma-desktop")


def test_build_figures(report_figure: Any) -> None:
    """Sizes and build times of the last `make package` (build/package-report.json)."""
    report = json.loads(BUILD_REPORT.read_text())
    assert report["version"] == project_version()
    assert all(size > 0 for size in report["bytes"].values())
    report_figure(
        "sizes: "
        + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in report["bytes"].items())
        + "; build: "
        + ", ".join(f"{step} {secs:.0f} s" for step, secs in report["seconds"].items())
    )
