"""Model ids resolve offline: a local folder, the Hugging Face cache layout, the bundled catalog, the configuration."""

from __future__ import annotations

import json

import pytest

from deploylint.core.plan.catalog import CatalogError, hf_cache_dir, resolve_model_id


def test_the_hub_cache_layout_is_read_with_the_revision_refs_main_names(tmp_path):
    repo = tmp_path / "hub" / "models--acme--tiny"
    for rev, layers in (("aaa", 2), ("bbb", 4)):
        (repo / "snapshots" / rev).mkdir(parents=True)
        (repo / "snapshots" / rev / "config.json").write_text(json.dumps({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": layers,
            "num_attention_heads": 4, "vocab_size": 100}))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("bbb")
    fields, origin = resolve_model_id("acme/tiny", environ={"HF_HUB_CACHE": str(tmp_path / "hub")})
    assert fields["layers"] == 4 and "Hugging Face cache" in origin


def test_cache_folder_follows_huggingface_hub():
    assert hf_cache_dir({"HF_HUB_CACHE": "/c"}) == "/c"
    assert hf_cache_dir({"HF_HOME": "/h"}) == "/h/hub"


def test_bundled_ids_are_case_insensitive_and_carry_the_published_context():
    fields, origin = resolve_model_id("meta-llama/llama-3.3-70b-instruct", environ={"HF_HUB_CACHE": "/nonexistent"})
    assert (fields["layers"], fields["num_attention_heads"], fields["max_position_embeddings"]) == (80, 64, 131072)
    assert "bundled" in origin


def test_the_configuration_maps_an_id_to_a_config_file(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 128,
                                                 "num_hidden_layers": 3, "num_attention_heads": 4, "vocab_size": 100}))
    fields, _ = resolve_model_id("acme/own", {"acme/own": "c.json"}, base_dir=str(tmp_path),
                                 environ={"HF_HUB_CACHE": "/nonexistent"})
    assert fields["layers"] == 3 and fields["qk_norm"] == "head"


def test_an_unknown_id_names_the_three_ways():
    with pytest.raises(CatalogError) as exc:
        resolve_model_id("acme/unknown", environ={"HF_HUB_CACHE": "/nonexistent"})
    message = str(exc.value)
    assert "Hugging Face cache" in message and "[tool.deploylint.models]" in message and "[model] fields" in message
