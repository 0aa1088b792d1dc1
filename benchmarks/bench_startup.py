"""Start-up: ``import truceguard`` and ``truceguard --help``, against the interpreter alone and
against importing everything the public names need (what ``import truceguard`` did before its
names were served on first use).

Each case runs in a fresh interpreter ``--repeat`` times; the best wall time counts (start-up
noise only ever adds). The last line printed is one JSON object.

    python benchmarks/bench_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CASES = {
    "python alone": ["-c", "pass"],
    "import truceguard": ["-c", "import truceguard"],
    "truceguard --help": ["-m", "truceguard", "--help"],
    "every public name": ["-c", "import truceguard; [getattr(truceguard, n) for n in "
                                "truceguard.__all__]"],
}


def best_of(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    result = {name: round(best_of(argv, args.repeat), 3) for name, argv in CASES.items()}
    for name, seconds in result.items():
        print(f"{name:<20} {seconds:6.3f} s")
    # the peer: importing every public name, what `import truceguard` did before names were
    # served on first use
    ratio = result["every public name"] / max(result["import truceguard"], 1e-6)
    print(json.dumps({"benchmark": "startup", "repeat": args.repeat, "seconds": result,
                      "ratio": round(ratio, 1)}))


if __name__ == "__main__":
    main()
