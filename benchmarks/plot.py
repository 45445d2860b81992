"""Plot build time against rows for Meshwork and the DuckDB script, as SVG and PNG.

The SVG is drawn here (log-scaled orders, linear seconds); the PNG is the SVG rendered by the
system's headless Chromium, so the report needs no plotting library.

    .venv/bin/python -m benchmarks.plot mesh_build.json docs/benchmarks/build_vs_rows
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 170, 40, 60
SERIES = (("mesh_seconds", "Meshwork (mesh build)", "#4e79a7"), ("baseline_seconds", "plain DuckDB script", "#f28e2b"))


def svg(results: list[dict]) -> str:
    xs = [math.log10(r["orders"]) for r in results]
    top = max(max(r[k] for r in results) for k, _, _ in SERIES) * 1.1
    x0, x1 = min(xs) - 0.2, max(xs) + 0.2
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + w * (x - x0) / (x1 - x0)

    def py(y: float) -> float:
        return TOP + h - h * y / top

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" '
        'font-size="13"><rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="24" font-size="16">Full mesh build time against orders (medians)</text>',
        f'<line x1="{LEFT}" y1="{TOP + h}" x2="{LEFT + w}" y2="{TOP + h}" stroke="#333"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + h}" stroke="#333"/>',
        f'<text x="{LEFT + w / 2}" y="{HEIGHT - 15}" text-anchor="middle">orders (log scale)</text>',
        f'<text x="18" y="{TOP + h / 2}" transform="rotate(-90 18 {TOP + h / 2})" text-anchor="middle">seconds</text>',
    ]
    for step in range(0, 6):
        y = top * step / 5
        out.append(f'<line x1="{LEFT - 4}" y1="{py(y):.1f}" x2="{LEFT + w}" y2="{py(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.0f}</text>')
    for r, x in zip(results, xs, strict=True):
        out.append(f'<text x="{px(x):.1f}" y="{TOP + h + 18}" text-anchor="middle">{r["orders"]:,}</text>')
    for i, (key, label, color) in enumerate(SERIES):
        points = [(px(x), py(r[key])) for r, x in zip(results, xs, strict=True)]
        path = " ".join(f"{'M' if j == 0 else 'L'}{a:.1f},{b:.1f}" for j, (a, b) in enumerate(points))
        out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>')
        for (a, b), r in zip(points, results, strict=True):
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{color}"/>')
            out.append(f'<text x="{a + 6:.1f}" y="{b - 6:.1f}" fill="{color}">{r[key]:.1f}s</text>')
        ly = TOP + 20 + 22 * i
        out.append(f'<rect x="{LEFT + w + 16}" y="{ly - 10}" width="14" height="4" fill="{color}"/>')
        out.append(f'<text x="{LEFT + w + 36}" y="{ly - 4}">{escape(label)}</text>')
    for r, x in zip(results, xs, strict=True):
        out.append(
            f'<text x="{px(x):.1f}" y="{py(r["mesh_seconds"]) - 22:.1f}" text-anchor="middle" fill="#555">'
            f"{r['ratio']}x</text>"
        )
    out.append("</svg>")
    return "".join(out)


def png(svg_file: Path, png_file: Path) -> bool:
    """Render with the system Chromium; False (and no PNG) when it is not installed."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return False
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--no-first-run", f"--user-data-dir={profile}",
                "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={png_file}",
                svg_file.resolve().as_uri(),
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return png_file.is_file()


def main() -> None:
    results, stem = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
    stem.parent.mkdir(parents=True, exist_ok=True)
    svg_file = stem.with_suffix(".svg")
    svg_file.write_text(svg(results), encoding="utf-8")
    print(svg_file, stem.with_suffix(".png") if png(svg_file, stem.with_suffix(".png")) else "(no chromium: no PNG)")


if __name__ == "__main__":
    main()
