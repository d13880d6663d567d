"""Command-line entry points: ``fuse`` (fusion stage) and ``train`` (trainer).

The commands themselves live with the code they drive: ``landmark_fusion.commands`` and
``trainer.cli``. Heavy libraries are imported inside the commands, so ``--help`` stays fast.
"""
from landmark_fusion.commands import fuse
from trainer.cli import train

__all__ = ["fuse", "train"]

if __name__ == "__main__":  # pragma: no cover
    fuse()
