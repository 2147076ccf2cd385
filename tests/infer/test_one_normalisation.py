"""One normalisation: the Sample transform, the tensor module and the inference path agree exactly."""

from __future__ import annotations

import torch
from torch import nn

from eokit.infer import Predictor
from eokit.models import DataContract
from eokit.sensors import get_sensor, match_bands

S2 = "sentinel2_l1c"


def test_sample_tensor_and_inference_normalisation_are_identical_in_any_band_order() -> None:
    contract = DataContract(bands=("B04", "B03", "B02", "B08"), sensor=S2, mean=(0.11, 0.12, 0.13, 0.3),
                            std=(0.05, 0.04, 0.03, 0.1), scale=1e-4, offset=-0.01, task="pixel_regression")
    shuffled = ["nir", "B2", "red", "B03"]  # another order, under aliases
    g = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 10000, (len(shuffled), 16, 16), generator=g).float()
    idx = match_bands(contract.bands, shuffled, get_sensor(S2))  # channel i of the contract is raw[idx[i]]
    assert idx == [2, 3, 1, 0]
    expected = ((raw[idx] * 1e-4 - 0.01) - torch.tensor(contract.mean).view(-1, 1, 1)) / torch.tensor(
        contract.std).view(-1, 1, 1)

    # 1. sample level: statistics by band name, in the sample's own order
    sample = contract.normalizer()({"image": raw.clone(), "bands": shuffled})
    by_sample = sample["image"][idx]
    # 2. tensor level: the nn.Module, given the shuffled names, and in the contract's order
    module = contract.module()
    by_module = module(raw[None].clone(), bands=shuffled)[0][idx]
    by_module_ordered = module(raw[idx][None].clone())[0]
    # 3. the inference path: a Predictor whose model is the identity, fed the contract's band order
    pred = Predictor(nn.Identity(), contract, optimize=False)
    valid = torch.ones(1, 16, 16, dtype=torch.bool)
    by_predictor = pred(raw[idx][None].clone(), valid)[0]
    by_predictor_inplace = pred(raw[idx][None].clone(), valid, inplace=True)[0]

    torch.testing.assert_close(by_sample, expected, rtol=1e-5, atol=1e-5)
    for other in (by_module, by_module_ordered, by_predictor, by_predictor_inplace):
        assert torch.equal(other, by_sample)


def test_normalize_module_moves_with_the_model_and_is_not_saved() -> None:
    contract = DataContract(bands=("B04", "B08"), sensor=S2, mean=(0.1, 0.3), std=(0.05, 0.1), scale=1e-4)
    module = contract.module()
    assert module.state_dict() == {} and module.mean.shape == (2, 1, 1)
    wrapped = nn.Sequential(module)
    assert list(wrapped.state_dict()) == []
    assert torch.equal(wrapped(torch.ones(1, 2, 4, 4)), contract.normalizer().apply(torch.ones(1, 2, 4, 4),
                                                                                     ["B04", "B08"]))
