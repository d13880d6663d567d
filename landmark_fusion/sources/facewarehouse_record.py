"""The FaceWarehouse record (its reader is in ``facewarehouse.py``)."""
from .record import DatabaseRecord, DemoSpec

DATABASE = DatabaseRecord(
    name="facewarehouse",
    reader="landmark_fusion.sources.facewarehouse:FaceWarehouseSource",
    schemes=("fw74",),
    splits=("train", "test"),
    group="B",
    demo=DemoSpec("landmark_fusion.demo.writers.landfiles:FACEWAREHOUSE_DEMO", share=0.13,
                   noise=0.008, rank=5),
)
