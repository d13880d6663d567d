"""Print one of the two commands of README.md's "Fresh machine" section: ``demo`` (the first bash
block) or ``test`` (the second), exactly as a user reads them; .ci/run runs what this prints."""
from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Fresh machine"
KINDS = ("demo", "test")


def fresh_machine_commands(text: str) -> dict[str, str]:
    """{"demo": …, "test": …}: the bash blocks of the "Fresh machine" section, in that order."""
    if SECTION not in text:
        raise ValueError(f"README.md has no {SECTION!r} section")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, re.S)]
    if len(blocks) != len(KINDS) or any("\n" in b for b in blocks):
        raise ValueError(f"README.md's {SECTION!r} section must hold {len(KINDS)} one-line bash blocks, "
                         f"it holds {blocks}")
    return dict(zip(KINDS, blocks, strict=True))


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in KINDS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(KINDS)}")
    print(fresh_machine_commands(README.read_text(encoding="utf-8"))[sys.argv[1]])
