"""The WFLW record (its reader is in ``wflw.py``)."""
from .record import DatabaseRecord, DemoSpec

DATABASE = DatabaseRecord(
    name="wflw",
    reader="landmark_fusion.sources.wflw:WFLWSource",
    schemes=("wflw98",),
    splits=("train", "test"),
    group="C",
    yaw="none; the binary large-pose attribute in extra['attributes']",
    demo=DemoSpec("landmark_fusion.demo.writers.wflw:DEMO", share=0.14, noise=0.01, rank=7),
)
