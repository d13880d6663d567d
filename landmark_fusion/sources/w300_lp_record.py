"""The 300W-LP record (its reader is in ``w300_lp.py``)."""
from .record import DatabaseRecord, DemoSpec

DATABASE = DatabaseRecord(
    name="300w_lp",
    reader="landmark_fusion.sources.w300_lp:W300LPSource",
    schemes=("ibug68_fixed", "ibug68"),
    splits=("train", "val"),
    group="A",
    yaw="fitted Pose_Para",
    demo=DemoSpec("landmark_fusion.demo.writers.w300_lp:DEMO", share=0.2, noise=0.004, rank=1),
)
