"""How long ``sd4match`` takes from process start to its first useful output (issue 15, item 5).

Each command runs as a fresh process (``python -m engine ...``, the interpreter running this), so
the times include the interpreter's start and every import, as a user at a shell sees them.
Three numbers per run: wall time until the first byte of the stream that carries the answer
(stdout for help and results, stderr for errors), wall time until the process has exited, and
the CPU time the process used (user + system), which other processes on a busy machine inflate
far less than wall time. A row reports the median of the runs. The child's output is
unbuffered, as on a terminal, so that a line is seen when it is printed.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image

try:
    import resource  # CPU time of the children: the cost of a command even on a busy machine
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]


@dataclass(frozen=True)
class StartupCase:
    """One command line to time.

    Attributes:
        what: the row's name in the report.
        arguments: after ``sd4match``; ``{source}``, ``{target}`` and ``{out}`` are filled with a
            generated image pair and an output file in a temporary folder.
        answer_on: "stdout" or "stderr", the stream whose first byte is the useful output.
        exit_code: the status the command must end with (a wrong one fails the measurement).
    """

    what: str
    arguments: tuple[str, ...]
    answer_on: str = "stdout"
    exit_code: int = 0


CASES = (
    StartupCase("sd4match --help", ("--help",)),
    StartupCase("sd4match match --help", ("match", "--help")),
    StartupCase("argument error (match without --points)", ("match", "{source}", "{target}"), "stderr", 2),
    StartupCase(
        "bad --points, found before any image or model loads",
        ("match", "{source}", "{target}", "--points", "1,2,3", "--out", "{out}"),
        "stderr",
        2,
    ),
    StartupCase(
        "match, SIFT backend, 640 x 480 pair, 2 points, to the result table",
        ("match", "{source}", "{target}", "--points", "100,120;300,200", "--backend", "sift", "--out", "{out}"),
    ),
)


@dataclass(frozen=True)
class StartupTime:
    """Medians over ``runs`` processes, in seconds."""

    what: str
    command: str
    first_output_s: float
    exit_s: float
    cpu_s: float | None  # user + system time of the process (None without the resource module)
    runs: int


def time_startup(runs: int = 5, cases: Sequence[StartupCase] | None = None) -> list[StartupTime]:
    """Run each case (default: :data:`CASES`) ``runs`` times in a new process; medians of the time
    to first output and to exit.

    Raises:
        RuntimeError: a command ended with another exit status than its case expects (the
            timing would be of something else, e.g. an import error).
    """
    with tempfile.TemporaryDirectory(prefix="sd4match-startup-") as folder:
        fill = {**_write_image_pair(Path(folder)), "out": str(Path(folder) / "matches.json")}
        results = []
        for case in CASES if cases is None else cases:
            arguments = [argument.format(**fill) for argument in case.arguments]
            samples = [_time_once(arguments, case, folder) for _ in range(runs)]
            shown = [argument.replace(folder + os.sep, "") for argument in arguments]
            results.append(
                StartupTime(
                    what=case.what,
                    command=shlex.join(["sd4match", *shown]),
                    first_output_s=statistics.median(sample[0] for sample in samples),
                    exit_s=statistics.median(sample[1] for sample in samples),
                    cpu_s=None if resource is None else statistics.median(sample[2] for sample in samples),
                    runs=runs,
                )
            )
    return results


def startup_markdown(times: Sequence[StartupTime]) -> str:
    """The table for docs/benchmarks.md."""
    runs = times[0].runs if times else 0
    lines = [
        f"| command, new process (median of {runs}) | to first output (s) | to exit (s) | CPU time (s) |",
        "|---|---|---|---|",
        *(
            f"| {t.what}: `{t.command}` | {t.first_output_s:.2f} | {t.exit_s:.2f} | "
            + ("" if t.cpu_s is None else f"{t.cpu_s:.2f}")
            + " |"
            for t in times
        ),
    ]
    return "\n".join(lines) + "\n"


def _time_once(arguments: list[str], case: StartupCase, folder: str) -> tuple[float, float, float]:
    """Seconds to the first byte of the answer, to exit, and of CPU the child used.

    The child runs in ``folder``: ``python -m`` puts the working folder first on the module path,
    where a checkout's own ``engine`` would stand in for the one being timed.
    """
    cpu_before = _children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=folder,
        env=_environment(),
    )
    first: dict[str, float] = {}
    captured: dict[str, bytes] = {}

    def read(name: str, stream: IO[bytes]) -> None:
        head = stream.read(1)  # returns as soon as the child writes its first byte (or at end of file)
        if head:
            first[name] = time.perf_counter()
        captured[name] = head + stream.read()

    readers = [
        threading.Thread(target=read, args=(name, stream))
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
    ]
    for reader in readers:
        reader.start()
    code = process.wait()
    ended = time.perf_counter()
    for reader in readers:
        reader.join()
    if code != case.exit_code or case.answer_on not in first:
        output = (captured.get("stdout", b"") + captured.get("stderr", b"")).decode(errors="replace")[-2000:]
        raise RuntimeError(f"`sd4match {' '.join(arguments)}` exited {code} (expected {case.exit_code}):\n{output}")
    return first[case.answer_on] - started, ended - started, _children_cpu() - cpu_before


def _children_cpu() -> float:
    """User + system seconds of this process's finished children (one child runs at a time here)."""
    if resource is None:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _environment() -> dict[str, str]:
    """This process's environment, with the engine being timed importable in the child."""
    spec = importlib.util.find_spec("engine")
    assert spec is not None and spec.origin is not None
    root = str(Path(spec.origin).parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else ""), "PYTHONUNBUFFERED": "1"}


def _write_image_pair(folder: Path) -> dict[str, str]:
    """Two 640 x 480 RGB PNGs of noise (SIFT's cost does not depend on the content)."""
    paths = {}
    for seed, name in enumerate(("source", "target")):
        pixels = np.random.default_rng(seed).integers(0, 256, (480, 640, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{name}.png")
        paths[name] = str(folder / f"{name}.png")
    return paths
