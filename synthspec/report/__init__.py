"""What a cohort tells the people who use it: the cohort card, the HTML report, a blinded reader pack.

    card.py               cohort_card(cohort, validation) -> dict; write_card -> cohort_card.md + cohort_card.json
    card_markdown.py      the card dict as Markdown
    validation_summary.py each validation family's state (pass / fail / not run) and the overall verdict
    inputs.py             what the report reads from the plan and the cohort (windows, lung labels, image, spec)
    pixels.py             HU slices to windowed, resampled PNGs (shared by the report and the reader pack)
    plots.py              distribution plots (matplotlib, off-screen)
    html.py               write_report(cohort, validation, out_path) -> one self-contained HTML file
    screenshot.py         screenshot(html_path, png_path) renders the whole page in headless chromium
    reader_pack.py        make_reader_pack / score_answers: can a radiologist tell synthetic from real?

Everything here is imported lazily (numpy, jinja2, matplotlib only when used), so
`synth check` never pays for it.  The report reads cohorts (`synthspec.cohort.read`)
and validation results; it never imports the generator's internals.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "ReportError": ".card",
    "cohort_card": ".card",
    "write_card": ".card",
    "load_validation": ".card",
    "write_report": ".html",
    "render_report": ".html",
    "screenshot": ".screenshot",
    "ScreenshotError": ".screenshot",
    "find_chromium": ".screenshot",
    "dump_dom": ".screenshot",
    "page_height": ".screenshot",
    "make_reader_pack": ".reader_pack",
    "score_answers": ".reader_pack",
    "slices_from_nifti": ".reader_pack",
    "ReaderPackError": ".reader_pack",
    "wilson_interval": ".reader_pack",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        value = getattr(import_module(_EXPORTS[name], __name__), name)
        # importing a submodule binds its name on this package; `screenshot` the function must win over
        # `screenshot` the module, so bind the exported value last
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
