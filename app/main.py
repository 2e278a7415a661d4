"""Entry point: `lecs` alone opens the dashboard; `lecs NOUN VERB …` runs the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        from app.tui.run import run_dashboard

        return run_dashboard()
    from app.cli.parser import run_cli

    return run_cli(args)


if __name__ == "__main__":
    raise SystemExit(main())
