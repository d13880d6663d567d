"""The AFLW2000-3D record (its reader is in ``aflw2000_3d.py``)."""
from .record import DatabaseRecord, DemoSpec

DATABASE = DatabaseRecord(
    name="aflw2000_3d",
    reader="landmark_fusion.sources.aflw2000_3d:AFLW2000Source",
    schemes=("ibug68_fixed",),
    splits=("test",),
    yaw="fitted Pose_Para",
    protocol="3DDFA's AFLW2000-3D protocol: NME of the 68 fixed points per |yaw| bucket",
    demo=DemoSpec("landmark_fusion.demo.writers.aflw2000_3d:DEMO", share=0.1, noise=0.004, rank=2),
)
