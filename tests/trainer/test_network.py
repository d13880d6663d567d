import pytest
import torch

from trainer.network import EncoderConfig, MobileNetV1Encoder, count_macs, count_parameters


def test_paper_sizes_at_128():
    """≈3.47 M parameters, ≈186 M multiply-adds for 100 id + 29 exp + 3·20 correction (docs/trainer.md §Network)."""
    net = MobileNetV1Encoder(EncoderConfig(100, 29, 20, 1.0))
    assert count_parameters(net) == 3_466_691
    assert count_macs(net) == 185_636_224


def test_mac_count_matches_hand_count_for_half_width():
    cfg = EncoderConfig(10, 5, 2, 0.5)
    net = MobileNetV1Encoder(cfg)
    # hand count: stem 3x3x3x16 over 64², then each block dw 9·C·H² + pw C·C'·H², fc and pose fc
    chans = [16, 32, 64, 64, 128, 128, 256, 256, 256, 256, 256, 256, 512, 512]
    sizes = [64, 64, 32, 32, 16, 16, 8, 8, 8, 8, 8, 8, 4, 4]
    macs = 27 * 16 * 64 * 64
    for i in range(13):
        cin, cout, h = chans[i], chans[i + 1], sizes[i + 1]
        macs += 9 * cin * h * h + cin * cout * h * h
    macs += 512 * cfg.head_dim + 64 * 6
    assert count_macs(net) == macs


def test_output_shapes_and_zero_start():
    net = MobileNetV1Encoder(EncoderConfig(7, 3, 4, 0.5)).eval()
    out = net(torch.randn(2, 3, 128, 128))
    assert out.pose.shape == (2, 6) and out.x_id.shape == (2, 7)
    assert out.x_exp.shape == (2, 3) and out.x_c.shape == (2, 4, 3)
    assert out.pose.abs().max() < 0.05  # small heads: mean face, frontal, centred at the start


@pytest.mark.parametrize("width", [1.0, 0.5])
def test_gradients_reach_the_stem(width):
    net = MobileNetV1Encoder(EncoderConfig(3, 2, 0, width))
    out = net(torch.randn(2, 3, 128, 128))
    (out.pose.sum() + out.x_id.sum()).backward()
    assert net.stem[0].weight.grad.abs().sum() > 0
