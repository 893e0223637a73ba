"""Render an HTML file in headless chromium and save what a browser shows as a PNG.

Used to check that a report really renders (tests) and to attach a picture of
it to a pull request.  Chromium runs with a fresh, throw-away profile, no
network services and no sandbox (it usually runs as root in CI containers);
the page itself forbids network fetches through its Content-Security-Policy.
Set SYNTH_CHROMIUM to a browser binary to use another Chromium-family browser.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1280, 2400)


class ScreenshotError(Exception):
    """The page could not be rendered; the message says why and what to install."""


def find_chromium() -> str | None:
    """The browser binary: $SYNTH_CHROMIUM, else the first of CANDIDATES on PATH."""
    explicit = os.environ.get("SYNTH_CHROMIUM")
    if explicit:
        return explicit if shutil.which(explicit) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _flags(profile: str) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
            f"--user-data-dir={profile}"]


def _run_browser(html_path: Path, extra: list[str], timeout_s: float) -> tuple[int, str, str]:
    """Run headless chromium on `html_path` with a throw-away profile; (exit code, stdout, stderr)."""
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise ScreenshotError(f"{html_path} does not exist; write the report first (`synth report`)")
    browser = find_chromium()
    if browser is None:
        raise ScreenshotError("chromium is not installed, so the page cannot be rendered; install it "
                              "(Debian/Ubuntu: `apt-get install chromium`) or set SYNTH_CHROMIUM to a Chromium binary")
    with tempfile.TemporaryDirectory(prefix="synth-chromium-") as profile:
        command = [browser, *_flags(profile), *extra, html_path.as_uri()]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True, env={**os.environ, "HOME": profile})
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the browser and the helpers it started, nothing else
            process.communicate()
            raise ScreenshotError(f"chromium did not finish rendering {html_path} within {timeout_s:.0f} s") from None
    return process.returncode, stdout or "", stderr or ""


def _tail(stderr: str) -> str:
    return " | ".join(stderr.strip().splitlines()[-3:])[:400]


def screenshot(html_path: Path, png_path: Path, window: tuple[int, int] = WINDOW, timeout_s: float = 90.0) -> Path:
    """Render `html_path` at `window` (width, height) CSS pixels and write `png_path` atomically; returns it."""
    from synthspec.cohort.atomic import replace_atomic, temp_name

    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_png = temp_name(png_path, ".png")
    width, height = (int(v) for v in window)
    try:
        code, _, stderr = _run_browser(html_path, [f"--screenshot={tmp_png}", f"--window-size={width},{height}"],
                                       timeout_s)
        if code != 0 or not tmp_png.is_file() or tmp_png.stat().st_size == 0:
            raise ScreenshotError(f"chromium could not render {html_path} (exit {code}): {_tail(stderr)}")
        replace_atomic(tmp_png, png_path)
    finally:
        tmp_png.unlink(missing_ok=True)
    return png_path


def dump_dom(html_path: Path, timeout_s: float = 90.0) -> str:
    """The page's DOM after its scripts ran, serialised by headless chromium (for testing pages with scripts)."""
    code, stdout, stderr = _run_browser(html_path, ["--dump-dom"], timeout_s)
    if code != 0 or not stdout.strip():
        raise ScreenshotError(f"chromium could not load {html_path} (exit {code}): {_tail(stderr)}")
    return stdout
