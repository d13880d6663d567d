"""The LFW-74 record (its reader is in ``lfw74.py``)."""
from .record import DatabaseRecord, DemoSpec

DATABASE = DatabaseRecord(
    name="lfw74",
    reader="landmark_fusion.sources.lfw74:LFW74Source",
    schemes=("fw74",),
    splits=("train", "test"),
    group="B",
    demo=DemoSpec("landmark_fusion.demo.writers.landfiles:LFW74_DEMO", share=0.1, noise=0.01, rank=6),
)
