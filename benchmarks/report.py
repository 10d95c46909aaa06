"""The markdown table of a benchmark run (``benchmarks/RESULTS.md``), and the documented
reasons where a reference misses a target."""

from __future__ import annotations

#: The targets of issue 11, at the largest size.
SPEED_TARGET = 1.5    # reference time / torch time, one CPU thread
MEMORY_TARGET = 3.0   # reference's peak extra memory / bytes of its inputs

#: Why a reference misses a target, by case id (benchmarks/cases.py); shown under the table.
EXCEPTIONS: dict[str, str] = {}


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def _cells(row: dict | None) -> list[str]:
    if row is None:
        return ["", "", "", ""]
    ratio = f"{row['ratio_min']:.2f} / {row['ratio_median']:.2f}"
    return [_ms(row["reference_min_s"]), _ms(row["torch_min_s"]), ratio, f"{row['memory_ratio']:.2f}"]


def _largest(rows: list[dict]) -> dict[str, str]:
    """The largest size each case ran at (the one the targets are stated for)."""
    largest = {}
    for row in rows:
        largest[row["loss"]] = row["size"]  # rows come in size order
    return largest


def render(rows: list[dict], environment: str) -> str:
    by_key = {(r["loss"], r["size"], r["direction"]): r for r in rows}
    order = list(dict.fromkeys((r["loss"], r["size"]) for r in rows))
    largest = _largest(rows)
    spread = sorted(r["reference_median_s"] / r["reference_min_s"] for r in rows)
    lines = [
        "# Benchmarks: the references beside torch",
        "",
        "Written by `OPENBLAS_NUM_THREADS=1 python -m pytest benchmarks --benchmark-only -p no:randomly "
        "--write-results` (see `benchmarks/test_speed.py` for how each figure is measured).",
        "",
        f"Machine: {environment}.",
        "",
        "Times are the minimum over the rounds, in milliseconds; *ratio* is reference / torch "
        "(torch float64 on one CPU thread; backward = torch's forward + autograd against the "
        "reference's `_backward`), as `min / median` of the rounds, measured back to back; *mem* "
        "is the reference's peak extra memory (tracemalloc) over the bytes of its inputs. "
        f"Targets at the largest size: ratio <= {SPEED_TARGET}, mem <= {MEMORY_TARGET}; a miss is "
        "marked **bold** and explained below the table.",
        "",
        f"Noise: the reference's median / min over all {len(rows)} tests is "
        f"{spread[len(spread) // 2]:.2f} (median), {spread[int(0.9 * (len(spread) - 1))]:.2f} (90th percentile), "
        f"{spread[-1]:.2f} (worst).",
        "",
        "| loss | size | fwd ref ms | fwd torch ms | fwd ratio | fwd mem | bwd ref ms | bwd torch ms | bwd ratio "
        "| bwd mem |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for loss, size in order:
        cells = []
        for direction in ("forward", "backward"):
            row = by_key.get((loss, size, direction))
            values = _cells(row)
            if row is not None and size == largest[loss]:
                if row["ratio_min"] > SPEED_TARGET:
                    values[2] = f"**{values[2]}**"
                if row["memory_ratio"] > MEMORY_TARGET:
                    values[3] = f"**{values[3]}**"
            cells += values
        lines.append(f"| {loss} | {size} | " + " | ".join(cells) + " |")
    if any("cuda_min_s" in r for r in rows):
        lines += ["", "| loss | size | direction | torch CUDA ms |", "|---|---|---|---:|"]
        lines += [f"| {r['loss']} | {r['size']} | {r['direction']} | {_ms(r['cuda_min_s'])} |"
                  for r in rows if "cuda_min_s" in r]
    missed = sorted({r["loss"] for r in rows if r["size"] == largest[r["loss"]]
                     and (r["ratio_min"] > SPEED_TARGET or r["memory_ratio"] > MEMORY_TARGET)})
    if missed:
        lines += ["", "## Where a target is missed, and why", ""]
        lines += [f"- **{loss}**: {EXCEPTIONS.get(loss, 'not yet explained')}" for loss in missed]
    return "\n".join(lines) + "\n"
