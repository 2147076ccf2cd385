"""Every foundation-model family works as the backbone of eokit's task models (what train, predict and
bench fine-tuning build), through the generic create_model path, with no family-specific code."""

from __future__ import annotations

import pytest
import torch

from eokit.models import create_model, get_arch, list_models, model_from_config

ONE_PER_FAMILY = sorted({s.family: s for s in sorted(list_models(pretrained=True), key=lambda s: s.name)
                         if s.family}.values(), key=lambda s: s.family)


@pytest.mark.parametrize("spec", ONE_PER_FAMILY, ids=[s.family for s in ONE_PER_FAMILY])
@pytest.mark.parametrize("task", ["classification", "segmentation"])
def test_fm_family_as_task_backbone(spec, task: str) -> None:
    kw = dict(get_arch(spec.arch).test_kwargs)
    size = int(kw.get("img_size") or 64)
    torch.manual_seed(0)
    model = create_model(spec.name, task=task, num_classes=3, pretrained=False, **kw)
    bands = tuple(model.config["bands"])
    assert bands == spec.bands or len(bands) == len(spec.bands)
    x = torch.randn(2, len(bands), size, size, generator=torch.Generator().manual_seed(0))
    out = model(x)
    expected = (2, 3) if task == "classification" else (2, 3, size, size)
    assert tuple(out.shape) == expected, (spec.name, out.shape)
    out.float().square().mean().backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, f"{spec.name}: parameters without gradient (DDP fails on them): {unused[:5]}"
    # a trained model is saved as its config + state dict and rebuilt from the config alone
    assert "pretrained" not in model.config["backbone_kwargs"]
    twin = model_from_config(model.config)
    twin.load_state_dict(model.state_dict())
    model.eval()
    twin.eval()
    with torch.no_grad():
        torch.testing.assert_close(twin(x), model(x))
