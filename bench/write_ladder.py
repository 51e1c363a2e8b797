"""The write latency curve: p50 / p99 and CPU per request of the api and of the bare writer
(``bench/bare_write.py``) at a ladder of paced rates, interleaved, 32 connections (a
diagnostic beside ``bench.write_path``, which gives the one figure at half the api's peak).

    .venv/bin/python -m bench.write_ladder [--rates 100,300,600,950] [--seconds 6]
"""

from __future__ import annotations

import argparse

from bench.stack import stack
from bench.write_path import calibrated_pace, pacer, start_bare_writer, user_tokens


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.write_ladder")
    parser.add_argument("--rates", default="100,300,600,950")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    rates = [int(rate) for rate in args.rates.split(",")]
    with stack() as running:
        services = {"api": running.start_service("api", workers=2)}
        running.put_board(services["api"])
        services["bare"] = start_bare_writer(running, 2)
        with user_tokens(running) as tokens:
            print("| rate (req/s) | service | achieved | p50 ms | p99 ms | CPU per request ms |")
            print("|---:|---|---:|---:|---:|---:|")
            for rate in rates:
                for name, service in services.items():
                    paced = pacer(service, tokens, args.connections)
                    result = paced(calibrated_pace(paced, args.connections, rate), args.seconds)
                    cpu_ms = 1000 * result.server_cpu_per_request_s(args.seconds)
                    print(
                        f"| {rate} | {name} | {result.requests_per_second:,.0f} | "
                        f"{result.p50_ms:.2f} | {result.p99_ms:.2f} | {cpu_ms:.2f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
