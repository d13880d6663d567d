"""docs/trainer.md "Options" lists every training option with its flag, config key and default, as
TrainConfig defines them."""
from dataclasses import fields
from pathlib import Path

from trainer.cli import _flag
from trainer.config import TrainConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "trainer.md"


def test_the_options_table_matches_train_config():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Options", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[2].strip().strip("`"): [c.strip() for c in line.split("|")[1:4]]
            for line in section.splitlines() if line.startswith("| `")}
    assert set(rows) == {f.name for f in fields(TrainConfig)}
    for f in fields(TrainConfig):
        flag, _, default = rows[f.name]
        assert flag.strip("`").split(" / ")[0] == _flag(f), f.name
        d = f.default
        expected = "–" if d is None or d == "" else (str(d).lower() if isinstance(d, bool) else str(d))
        assert default == expected, f.name
