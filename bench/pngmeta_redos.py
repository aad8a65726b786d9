"""The A1111 PNG-text reader against the review's ReDoS input (issue 11, item 4).

    .venv/bin/python bench/pngmeta_redos.py [--sizes 10000,20000,40000]

A `parameters` text of "prompt\\n" + "a" * N (a last line with no colon). The review's old
pattern `(\\w[\\w \\-/]+):` backtracked quadratically on it; the reader in
prompts/workspace/formats/pngmeta.py must stay linear. Prints seconds per size for both,
and the current reader on the review's million-character file.
"""

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prompts.workspace.formats.pngmeta import read_generation_metadata  # noqa: E402

OLD_PATTERN = re.compile(r"(\w[\w \-/]+):")


def seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,20000,40000")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    print("characters  old pattern (s)  current reader (s)")
    for size in sizes:
        text = "prompt\n" + "a" * size
        old = seconds(lambda text=text: OLD_PATTERN.findall(text))
        new = seconds(lambda text=text: read_generation_metadata({"parameters": text}))
        print(f"{size:>10,}  {old:>15.3f}  {new:>18.6f}")
    text = "prompt\n" + "a" * 1_000_000
    new = seconds(lambda: read_generation_metadata({"parameters": text}))
    print(f"{1_000_000:>10,}  {'(not run)':>15}  {new:>18.6f}")


if __name__ == "__main__":
    main()
