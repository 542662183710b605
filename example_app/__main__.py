"""Run the example app: ``python -m example_app [--host HOST] [--port PORT]``."""

from __future__ import annotations

import argparse

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the litestar-kvstores example app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    print(f"litestar-kvstores example app: http://{args.host}:{args.port}/", flush=True)
    uvicorn.run("example_app.app:app", host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
