"""`python -m kith_common.testing.fake_monica`: serve a seeded fake Monica until interrupted."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from kith_common.testing.fake_monica.app import FakeMonica
from kith_common.testing.fake_monica.generator import generate
from kith_common.testing.fake_monica.world import World


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Monica v4 API.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--contacts", type=int, default=300)
    parser.add_argument("--fixture", type=Path, help="a World JSON file instead of the generator")
    parser.add_argument("--token", default="test-token")
    parser.add_argument(
        "--id-spread",
        type=int,
        default=1,
        help="hosted-id mode: spread the account's ids over a range this many times larger",
    )
    parser.add_argument(
        "--large-burst",
        type=int,
        action="append",
        default=[],
        help="add one burst of this many contacts (more than a page tears across pages)",
    )
    parser.add_argument("--rate-limit", type=int, default=60, help="requests per window; 0 = off")
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds each answer waits (a remote Monica)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    if args.fixture:
        world = World.from_json(args.fixture.read_text())
    else:
        world = generate(
            contacts=args.contacts,
            seed=args.seed,
            token=args.token,
            photos=12,
            documents=4,
            misc_per_contact=1.0,
            id_spread=args.id_spread,
            large_bursts=tuple(args.large_burst),
        )
    fake = FakeMonica(
        world, rate_limit=args.rate_limit, rate_window=args.rate_window, latency=args.latency
    )
    uvicorn.run(fake, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
