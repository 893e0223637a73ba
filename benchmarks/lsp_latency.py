"""How long after an edit does the editor show `synth check`'s findings?

    .venv/bin/python benchmarks/lsp_latency.py [--edits 50] [--target-ms 100]

Starts `synth lsp` (as `python -m synthspec.cli lsp`, the interpreter this runs in) as a subprocess
over stdio, opens the largest example (examples/*.synth, by size), and sends --edits didChange
notifications one after another, each waiting for the publishDiagnostics of its own version.  Even
edits add a comment line at the end (the spec stays clean); odd edits also add an unknown top-level
field (NAM001), so half the answers carry a finding and every answer is checked against what the
edit should produce.  The latency of one edit is the time from writing its didChange to reading its
publishDiagnostics, both in this process: the full round trip the editor waits for (JSON encoding,
pipe, pygls, the compile, the reply).

Prints the start-up (spawn to initialize answered), the didOpen latency, and the median, min, max
and 90th percentile of the edits.  Exit status: 0 when the median is at most --target-ms, else 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synthspec.lsp.client import Client  # noqa: E402


def largest_example() -> Path:
    return max(sorted((ROOT / "examples").glob("*.synth")), key=lambda p: p.stat().st_size)


def edited(text: str, i: int) -> tuple[str, set[str]]:
    """The text of edit `i` and the codes its diagnostics must carry."""
    body = text.rstrip("\n") + f"\n# edit {i}\n"
    if i % 2:
        return body + "bogus_field: 1\n", {"NAM001"}
    return body, set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=50, help="didChange edits to time (default 50)")
    parser.add_argument("--target-ms", type=float, default=100.0, help="median latency to meet (default 100 ms)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one answer (default 30)")
    args = parser.parse_args()

    spec = largest_example()
    text = spec.read_text(encoding="utf-8")
    uri = spec.as_uri()
    started = time.perf_counter()
    client = Client.spawn([sys.executable, "-m", "synthspec.cli", "lsp"], cwd=ROOT)
    try:
        client.initialize(ROOT.as_uri(), timeout=args.timeout)
        startup = time.perf_counter() - started

        sent = time.perf_counter()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "synth", "version": 1,
                                                                "text": text}})
        note = client.wait("textDocument/publishDiagnostics", lambda p: p.get("version") == 1, args.timeout)
        opened = note.at - sent
        if note.params["diagnostics"]:
            print(f"warning: {spec.name} is not clean: {[d['code'] for d in note.params['diagnostics']]}")

        latencies = []
        for i in range(args.edits):
            version = i + 2
            new_text, codes = edited(text, i)
            sent = time.perf_counter()
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                     "contentChanges": [{"text": new_text}]})
            note = client.wait("textDocument/publishDiagnostics", lambda p, v=version: p.get("version") == v,
                               args.timeout)
            latencies.append(note.at - sent)
            got = {d["code"] for d in note.params["diagnostics"]}
            if got != codes:
                print(f"error: edit {i} published {sorted(got)}, expected {sorted(codes)}")
                return 1
        client.shutdown(timeout=args.timeout)
    finally:
        client.close()

    ms = sorted(x * 1000 for x in latencies)
    median = statistics.median(ms)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    lines = text.count("\n")
    print(f"spec:      {spec.relative_to(ROOT)} ({len(text.encode('utf-8')):,} bytes, {lines} lines), the largest example")
    print(f"start-up:  {startup * 1000:.0f} ms (spawn to initialize answered)")
    print(f"didOpen:   {opened * 1000:.1f} ms to publishDiagnostics (first compile in the process)")
    print(f"didChange: {len(ms)} edits, didChange to publishDiagnostics: median {median:.1f} ms, min {ms[0]:.1f} ms, "
          f"max {ms[-1]:.1f} ms, p90 {p90:.1f} ms")
    ok = median <= args.target_ms
    print(f"target:    median <= {args.target_ms:g} ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
