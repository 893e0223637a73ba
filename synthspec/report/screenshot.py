"""Render an HTML file in headless chromium and save what a browser shows, the whole page, as a PNG.

Used to check that a report really renders (tests) and to attach a picture of
it to a pull request.  `screenshot` runs the browser twice: first on a copy of
the page with one measuring script added (its hash allowed in a copy of the
page's Content-Security-Policy), which writes the page's height into the DOM
that `--dump-dom` returns; then on the page itself, unchanged, with a window of
that height, so the PNG holds the whole page.  A page taller than `MAX_HEIGHT`
(20000 px) is cut there and `screenshot` says so through `log`.

Chromium runs with a fresh, throw-away profile, no network services and no
sandbox (it usually runs as root in CI containers); the page itself forbids
network fetches through its Content-Security-Policy.  Set SYNTH_CHROMIUM to a
browser binary to use another Chromium-family browser.  It renders; it does not
write or change the page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from synthspec.errors import Failure

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH = 1280              # CSS px (device scale factor 1, so also PNG pixels)
MEASURE_HEIGHT = 900      # window height of the measuring pass; the page's height does not depend on it
MAX_HEIGHT = 20000        # taller pages are cut here (a PNG this size is already ~25 million pixels)
HEIGHT_ATTRIBUTE = "data-synth-page-height"
MEASURE_SCRIPT = ('addEventListener("load", function () { var d = document.documentElement, b = document.body; '
                  'd.setAttribute("' + HEIGHT_ATTRIBUTE + '", String(Math.ceil(Math.max(d.scrollHeight, d.offsetHeight, '
                  'b ? b.scrollHeight : 0, b ? b.offsetHeight : 0)))); });')


class ScreenshotError(Failure):
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


def _measuring_copy(page: str) -> str:
    """The page with MEASURE_SCRIPT added and its hash allowed by the page's own policy (nothing else changed)."""
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(MEASURE_SCRIPT.encode()).digest()).decode("ascii") + "'"
    is_policy = re.compile(r"""http-equiv\s*=\s*["']?content-security-policy\b""", re.I)
    content = re.compile(r"""(\scontent\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.I)

    def allow(match: re.Match) -> str:
        policy = html.unescape(match.group(2) if match.group(2) is not None else match.group(3))
        directives = [d.strip() for d in policy.split(";") if d.strip()]
        scripts = [i for i, d in enumerate(directives) if d.split()[0].lower() == "script-src"]
        if scripts:
            directives[scripts[0]] += " " + digest
        else:
            directives.append("script-src " + digest)
        return match.group(1) + '"' + html.escape("; ".join(directives), quote=True) + '"'

    def meta(match: re.Match) -> str:
        tag = match.group(0)
        return content.sub(allow, tag, count=1) if is_policy.search(tag) else tag

    page = re.sub(r"<meta\b[^>]*>", meta, page, flags=re.I)
    tag = "<script>" + MEASURE_SCRIPT + "</script>"
    end = page.lower().rfind("</body>")
    return page[:end] + tag + page[end:] if end >= 0 else page + tag


def page_height(html_path: Path, width: int = WIDTH, timeout_s: float = 90.0) -> int:
    """The height in CSS px of the page laid out `width` px wide, once it has loaded (images included)."""
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise ScreenshotError(f"{html_path} does not exist; write the report first (`synth report`)")
    try:
        page = html_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScreenshotError(f"{html_path} cannot be read as UTF-8 HTML ({type(error).__name__})") from None
    with tempfile.TemporaryDirectory(prefix="synth-measure-") as folder:
        copy = Path(folder) / html_path.name
        copy.write_text(_measuring_copy(page), encoding="utf-8")
        code, stdout, stderr = _run_browser(copy, ["--dump-dom", f"--window-size={int(width)},{MEASURE_HEIGHT}"],
                                            timeout_s)
    found = re.search(HEIGHT_ATTRIBUTE + r'="(\d+)"', stdout)
    if code != 0 or not found:
        raise ScreenshotError(f"chromium could not measure the height of {html_path} (exit {code}): {_tail(stderr)}")
    return max(1, int(found.group(1)))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def screenshot(html_path: Path, png_path: Path, width: int = WIDTH, timeout_s: float = 90.0,
               max_height: int = MAX_HEIGHT, log: Callable[[str], None] = _stderr) -> Path:
    """Render the whole of `html_path`, `width` CSS px wide, and write `png_path` atomically; returns it.

    The PNG is as tall as the page (measured first, see the module doc), at most `max_height`
    px: a taller page is cut there and `log` is told so."""
    from synthspec.cohort.atomic import replace_atomic, temp_name

    png_path = Path(png_path).resolve()
    height = page_height(html_path, width, timeout_s)
    if height > max_height:
        log(f"screenshot: {html_path} is {height} px tall; the screenshot shows its top {max_height} px only")
        height = max_height
    png_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_png = temp_name(png_path, ".png")
    try:
        code, _, stderr = _run_browser(html_path, [f"--screenshot={tmp_png}", f"--window-size={int(width)},{height}"],
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
