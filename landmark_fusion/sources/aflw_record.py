"""The AFLW record (its reader is in ``aflw.py``)."""
from .record import DatabaseRecord, DemoSpec

DATABASE = DatabaseRecord(
    name="aflw",
    reader="landmark_fusion.sources.aflw:AFLWSource",
    schemes=("aflw21",),
    splits=("test",),
    yaw="FacePose yaw (sqlite form) or AFLW_GT_crop_yaws.npy (3DDFA form)",
    protocol="3DDFA's AFLW protocol: 21 points composed from the predicted 68, NME per |yaw| bucket",
    demo=DemoSpec("landmark_fusion.demo.writers.aflw:DEMO", share=0.1, noise=0.012, rank=3),
)
