"""`python -m tools.panel_render SCRAPES_DIR OUT.png`: draw the load-run panels from saved scrapes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.panel_render.render import render_load_panels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.panel_render", description=__doc__)
    parser.add_argument("scrapes", type=Path, help="directory with index.jsonl and .prom scrapes")
    parser.add_argument("png", type=Path)
    parser.add_argument("--window-s", type=float, default=2.0, help="quantile window in seconds")
    args = parser.parse_args(argv)
    print(render_load_panels(args.scrapes, args.png, args.window_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
