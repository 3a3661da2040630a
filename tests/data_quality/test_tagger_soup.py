"""The name tagger's model soup: fine-tunings from one start averaged parameter by parameter."""

from __future__ import annotations

import pytest
import torch
from transformers import BertModel

from data_quality.pii_tagger_training import TokenTagger, base_model_path, uniform_soup


def test_the_soup_is_the_mean_of_its_members():
    encoder = BertModel.from_pretrained(str(base_model_path()), add_pooling_layer=False,
                                        num_hidden_layers=1)
    first = TokenTagger(encoder).state_dict()
    second = {name: value + 1.0 if value.is_floating_point() else value
              for name, value in first.items()}
    third = {name: value - 4.0 if value.is_floating_point() else value
             for name, value in first.items()}
    soup = uniform_soup([first, second, third])
    weight = "head.weight"
    assert torch.allclose(soup[weight], first[weight] - 1.0)
    # The averaged dict loads back into the architecture it came from.
    TokenTagger(encoder).load_state_dict(soup)


def test_integer_tensors_are_taken_from_the_first_member_not_averaged():
    # Older transformers releases keep BERT's position ids (int64) in the state dict.
    ids = torch.arange(4)
    soup = uniform_soup([{"w": torch.zeros(2), "ids": ids}, {"w": torch.ones(2), "ids": ids}])
    assert soup["ids"].dtype == torch.int64 and torch.equal(soup["ids"], ids)
    assert torch.equal(soup["w"], torch.full((2,), 0.5))


def test_a_soup_of_mismatched_or_no_members_is_refused():
    with pytest.raises(ValueError, match="same parameter names"):
        uniform_soup([])
    with pytest.raises(ValueError, match="same parameter names"):
        uniform_soup([{"a": torch.zeros(1)}, {"b": torch.zeros(1)}])
