"""The Python example of the repository's README, run as written (only the
server address changed) against a live server, twice in a row: it must end
by itself each time, and a second run must cope with what the first left."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"
ADDRESS = "127.0.0.1:50051"


def python_example() -> str:
    """The ```python block of the README's `### Python` section."""
    text = README.read_text()
    section = text[text.index("\n### Python\n") + len("\n### Python\n") :]
    following = re.search(r"^#{1,3} ", section, flags=re.M)  # the next heading
    section = section[: following.start()] if following else section
    blocks = re.findall(r"^```python\n(.*?)^```$", section, flags=re.S | re.M)
    assert len(blocks) == 1, f"{len(blocks)} python blocks in the README's Python section"
    return blocks[0]


def test_the_readme_example_runs_twice_in_a_row(server_address: str, tmp_path: Path) -> None:
    example = python_example()
    assert example.count(ADDRESS) == 1, "the example should name the default address once"
    script = tmp_path / "example.py"
    script.write_text(example.replace(ADDRESS, server_address))

    for run in (1, 2):
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"run {run}:\n{done.stdout}\n{done.stderr}"
        lines = done.stdout.splitlines()
        # What it wrote, read back as a stream (its commits make the second
        # run read only its own records), then the state: sku-2 is deleted.
        stream = sorted(line for line in lines if line.startswith("stream:"))
        assert stream == ["stream: sku-1 {'price': 10}", "stream: sku-2 None"], (run, lines)
        state = [line for line in lines if line.startswith("state:")]
        assert state == ["state: sku-1 {'price': 10}"], (run, lines)
