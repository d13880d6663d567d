"""The 300W record (its reader is in ``w300.py``)."""
from .record import DatabaseRecord, DemoSpec

DATABASE = DatabaseRecord(
    name="300w",
    reader="landmark_fusion.sources.w300:W300Source",
    schemes=("ibug68",),
    splits=("train", "test"),
    demo=DemoSpec("landmark_fusion.demo.writers.w300:DEMO", share=0.13, noise=0.01, rank=0),
)
