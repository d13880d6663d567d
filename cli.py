"""Command-line entry points: ``fuse`` (fusion stage) and ``train`` (trainer).

The commands themselves live with the code they drive: ``landmark_fusion.commands`` and
``trainer.cli``. Heavy libraries are imported inside the commands, so ``--help`` stays fast.
Both take ``--version`` (the installed package's version).
"""
from landmark_fusion.commands import fuse, version_option
from trainer.cli import train

if not any(param.name == "version" for param in train.params):
    version_option("train")(train)

__all__ = ["fuse", "train"]

if __name__ == "__main__":  # pragma: no cover
    fuse()
