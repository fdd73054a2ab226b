"""Exec round trips with httpx, the seed Python SDK's HTTP client, left as that SDK uses it:
one keep-alive Client, JSON bodies (httpx writes the headers and the body in separate sends,
with Nagle's algorithm on). Runs in its own process; prints one JSON object on stdout.

usage: python3 httpx_exec.py URL API_KEY SANDBOX_ID RUNS WARMUP
"""
import json
import sys
import time

import httpx


def main() -> None:
    url, key, sandbox, runs, warmup = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    samples = []
    server_timing = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for i in range(warmup + runs):
            start = time.perf_counter()
            res = client.post("/v1/exec", json={"sandbox": sandbox, "command": "true"})
            ms = (time.perf_counter() - start) * 1000
            res.raise_for_status()
            if res.json()["exit_code"] != 0:
                raise SystemExit("true did not exit 0")
            if i >= warmup:
                samples.append(ms)
                server_timing.append(res.headers.get("server-timing", ""))
    json.dump({"samples": samples, "serverTiming": server_timing[-1:]}, sys.stdout)


if __name__ == "__main__":
    main()
