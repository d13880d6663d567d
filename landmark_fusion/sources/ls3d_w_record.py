"""The LS3D-W record (its reader is in ``ls3d_w.py``)."""
from .record import DatabaseRecord, DemoSpec

DATABASE = DatabaseRecord(
    name="ls3d_w",
    reader="landmark_fusion.sources.ls3d_w:LS3DWSource",
    schemes=("ibug68_fixed",),
    splits=("train", "test"),
    group="D",
    yaw="none; the Balanced set's yaw range in extra['yaw_bucket']",
    demo=DemoSpec("landmark_fusion.demo.writers.ls3d_w:DEMO", share=0.1, noise=0.008, rank=4),
)
