"""Command line: run the mock engine as an HTTP server speaking one engine's wire format.

python -m mock_engine --wire llamacpp --port 8080 --slots 2 --token-delay-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from mock_engine.faults import Faults, MockConfig
from mock_engine.server import DEFAULT_TRITON_MODEL, WIRES, serve_mock


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The CLI options; every fault can also be changed later through POST /admin/faults."""
    parser = argparse.ArgumentParser(prog="python -m mock_engine", description=__doc__.split("\n")[1])
    parser.add_argument("--wire", choices=WIRES, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--ctx", type=int, default=4096, help="context window in tokens")
    parser.add_argument("--model-id", default="mock-model")
    parser.add_argument("--triton-model", default=DEFAULT_TRITON_MODEL)
    parser.add_argument(
        "--loading-s", type=float, default=0.0, help="503 (llama.cpp) or refuse (others) for N s"
    )
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--token-delay-ms", type=float, default=0.0)
    parser.add_argument("--fail-at", type=int, help="drop the connection after k tokens")
    parser.add_argument("--error-at", type=int, help="send an in-stream error after k tokens")
    parser.add_argument("--stall-at", type=int, help="stop sending after k tokens")
    parser.add_argument("--eos-at", type=int, help="end with eos after k tokens")
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    """Serve until interrupted."""
    config = MockConfig(slots=args.slots, ctx_max=args.ctx, model_id=args.model_id, loading_s=args.loading_s)
    faults = Faults(
        ttft_ms=args.ttft_ms,
        token_delay_ms=args.token_delay_ms,
        fail_at=args.fail_at,
        error_at=args.error_at,
        stall_at=args.stall_at,
        eos_at=args.eos_at,
    )
    async with serve_mock(
        args.wire,
        config,
        faults,
        host=args.host,
        port=args.port,
        triton_model=args.triton_model,
        log_level=args.log_level,
    ) as server:
        sys.stdout.write(f"mock {server.wire} engine on {server.base_url}\n")
        sys.stdout.flush()
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point; Ctrl-C or SIGTERM stops the server."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
