"""The synthetic face model: FaceModel contract, a vertex per canonical landmark, symmetry, table file."""
import numpy as np
import pytest
import yaml

from landmark_fusion.correspondence import canonical_landmarks, load_vocabulary
from landmark_fusion.demo import synthetic_model as sm


@pytest.fixture(scope="module")
def face():
    return sm.synthetic_model()


def test_is_a_face_model_facing_the_viewer(face):
    model = face.model
    assert model.units == "mm" and model.exp_kind == "blendshapes"
    assert model.exp_names == list(sm.EXPRESSIONS)
    v, t = model.mean.astype(float), model.triangles
    normals = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    front = np.abs(face.theta[t].mean(1)) < 30
    assert (normals[front, 2] > 0).all()  # counter-clockwise seen from the front
    assert "not a model of real people" in model.metadata["description"]


def test_every_canonical_landmark_has_a_vertex(face):
    names = set(canonical_landmarks()) | set(load_vocabulary().names)
    assert names <= set(face.table)
    assert all(0 <= v < face.model.num_vertices for v in face.table.values())


def test_landmarks_sit_where_their_names_say(face):
    p = {n: face.model.mean[v] for n, v in face.table.items()}
    assert p["nose_tip"][2] == max(q[2] for q in p.values())           # most forward
    assert p["chin"][1] == min(q[1] for q in p.values())               # lowest
    assert p["eye_r_outer"][0] < p["eye_r_inner"][0] < 0 < p["eye_l_inner"][0] < p["eye_l_outer"][0]
    assert p["brow_r_upper_mid"][1] > p["eye_r_upper_lid_mid"][1] > p["eye_r_lower_lid_mid"][1]
    assert p["mouth_upper_outer_mid"][1] > p["mouth_upper_inner_mid"][1] > p["mouth_lower_inner_mid"][1]
    assert len(set(face.table.values())) == len(face.table)            # no two landmarks share a vertex


def test_mirror_pairs_are_mirror_vertices(face):
    vocab = load_vocabulary()
    mean = face.model.mean
    for name, vertex in face.table.items():
        partner = vocab.mirror(name)
        x, y, z = mean[vertex]
        mirror_vertex = int(np.argmin(np.linalg.norm(mean - [-x, y, z], axis=1)))
        assert mirror_vertex == face.table[partner], (name, partner)


def test_expressions_move_the_right_landmarks(face):
    m = face.model
    t = face.table
    open_mouth = m.decode(np.zeros(m.num_id), np.array([1.0, 0, 0, 0]))
    gap = open_mouth[t["mouth_upper_inner_mid"], 1] - open_mouth[t["mouth_lower_inner_mid"], 1]
    assert gap > 8.0
    closed = m.decode(np.zeros(m.num_id), np.array([0, 0, 1.0, 0]))
    lid = closed[t["eye_l_upper_lid_mid"], 1] - closed[t["eye_l_lower_lid_mid"], 1]
    assert abs(lid) < 1.5
    raised = m.decode(np.zeros(m.num_id), np.array([0, 0, 0, 1.0]))
    assert raised[t["brow_r_upper_mid"], 1] - m.mean[t["brow_r_upper_mid"], 1] > 4.0


def test_committed_table_matches_the_generator():
    text = sm.table_path().read_text(encoding="utf-8")
    assert text == sm.table_yaml(), "regenerate with: python -m landmark_fusion.demo.synthetic_model"
    doc = yaml.safe_load(text)
    assert doc["num_vertices"] == sm.N_THETA * sm.N_S


def test_names_outside_the_naming_convention_are_refused():
    with pytest.raises(KeyError):
        sm.landmark_place("elbow_r")
    with pytest.raises(KeyError):
        sm.landmark_place("brow_r_upper_third")
