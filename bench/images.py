"""Benchmark prepare_reference on a 24 MP camera-like JPEG (about 10 MB).

    .venv/bin/python bench/images.py [--runs 7]

Goal: p50 wall time <= 350 ms and peak RSS growth <= 80 MB for one call. Memory is
measured in a fresh subprocess from the kernel's RSS high-water mark, because Pillow's
pixel buffers are C allocations that tracemalloc does not see.
"""

import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import PIL
from PIL import Image, ImageChops, ImageCms, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prompts.workspace.images import prepare_reference  # noqa: E402

GOAL_P50_MS = 350
GOAL_PEAK_MB = 80
PHOTO_SIZE = (6000, 4000)
NOISE_SIGMA = 7


def photo_like_jpeg(size: tuple[int, int] = PHOTO_SIZE) -> bytes:
    """Smooth colour gradients plus sensor-like noise and some edges, saved at quality 95:
    compresses like a real photo (pure noise would be far bigger, flat colour far smaller)."""
    width, height = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.linear_gradient("L").rotate(90).resize(size)
    base = Image.merge("RGB", (red, green, blue))
    edges = Image.effect_mandelbrot((width // 8, height // 8), (-2.0, -1.2, 1.0, 1.2), 64)
    edges = edges.resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.SMOOTH)
    base = Image.blend(base, Image.merge("RGB", (edges, edges, edges)), 0.35)
    noise = Image.effect_noise(size, NOISE_SIGMA).convert("RGB")
    photo = ImageChops.add(base, noise, scale=1.0, offset=-100)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def with_wide_gamut_profile(data: bytes) -> bytes:
    """The same photo carrying a profile that is not sRGB, as iPhone (Display P3) files do,
    so the colour conversion runs. No P3 profile ships with Pillow; a relabelled sRGB one
    costs the same transform."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    profile = profile.replace(
        "sRGB built-in".encode("utf-16-be"), "Wide built-in".encode("utf-16-be")
    )
    with Image.open(io.BytesIO(data)) as photo:
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=95, icc_profile=profile)
    return buffer.getvalue()


def p50_ms(data: bytes, runs: int) -> tuple[float, list[float]]:
    prepare_reference(data, max_bytes=len(data))  # warm-up: codec and profile set-up
    times_ms = []
    for _ in range(runs):
        started = time.perf_counter()
        prepare_reference(data, max_bytes=len(data))
        times_ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(times_ms), times_ms


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def measure_memory(path: str) -> None:
    """Run in a fresh process: print the RSS growth (MB) of one prepare_reference call."""
    data = Path(path).read_bytes()
    # Writing 5 resets VmHWM to the current RSS, so imports and reading the file don't count.
    Path("/proc/self/clear_refs").write_text("5")
    before_kb = _proc_status_kb("VmRSS")
    prepare_reference(data, max_bytes=len(data))
    peak_kb = _proc_status_kb("VmHWM")
    print((peak_kb - before_kb) / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--measure-memory", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_memory:
        measure_memory(args.measure_memory)
        return

    data = photo_like_jpeg()
    with tempfile.NamedTemporaryFile(suffix=".jpg") as photo_file:
        photo_file.write(data)
        photo_file.flush()
        peaks_mb = [
            float(
                subprocess.run(
                    [sys.executable, __file__, "--measure-memory", photo_file.name],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for _ in range(3)
        ]

    p50, times_ms = p50_ms(data, args.runs)
    wide_gamut_p50, _ = p50_ms(with_wide_gamut_profile(data), args.runs)
    prepared = prepare_reference(data, max_bytes=len(data))
    peak = max(peaks_mb)
    print(f"command: {sys.executable} {' '.join(sys.argv)}  (cwd {os.getcwd()})")
    print(
        f"machine: nproc={os.cpu_count()} python={platform.python_version()} "
        f"Pillow={PIL.__version__} {platform.machine()} {platform.system()}"
    )
    print(f"input: {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG q95, {len(data) / 1e6:.1f} MB")
    print(
        f"output: send JPEG {prepared.send_width}x{prepared.send_height} "
        f"{len(prepared.send_jpeg) / 1e6:.2f} MB, thumbnail {len(prepared.thumbnail) / 1e3:.0f} kB"
    )
    print(
        f"wall time over {args.runs} runs: p50 {p50:.0f} ms, min {min(times_ms):.0f} ms, "
        f"max {max(times_ms):.0f} ms (goal <= {GOAL_P50_MS} ms)"
    )
    print(f"wall time p50 with a non-sRGB ICC profile (converted to sRGB): {wide_gamut_p50:.0f} ms")
    print(f"peak RSS growth, fresh process, worst of 3: {peak:.1f} MB (goal <= {GOAL_PEAK_MB} MB)")
    met = max(p50, wide_gamut_p50) <= GOAL_P50_MS and peak <= GOAL_PEAK_MB
    print("goal met" if met else "GOAL MISSED")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
