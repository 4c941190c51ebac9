"""Parameter counts of a model, total and active per token, layer by layer.

Memory follows the *total* count (every expert is resident on its EP rank);
compute follows the *active* count (the router picks top_k experts per token).
Mixing the two is the classic MoE estimator bug.

``active`` includes the input embedding (Mistral's and Qwen's convention);
DeepSeek and OpenAI leave it out, which is ``active - embedding``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LayerParams:
    """Parameters of one transformer block (0-based ``index``)."""

    index: int
    attention: int        # q/k/v/o projections (or the MLA paths), their biases, QK norms, sinks
    norms: int            # the block's own norms (pre-attention and pre-MLP)
    mlp: int              # dense MLP of a dense layer; 0 in a MoE layer
    router: int           # gate (and its bias); 0 in a dense layer
    routed_experts: int   # all routed experts of this layer; 0 in a dense layer
    expert: int           # one routed expert; 0 in a dense layer
    shared_experts: int   # always-on experts (and their gate); 0 without
    top_k: int = 0        # routed experts used per token in this layer

    @property
    def is_moe(self) -> bool:
        return self.routed_experts > 0

    @property
    def total(self) -> int:
        return self.attention + self.norms + self.mlp + self.router + self.routed_experts + self.shared_experts

    @property
    def dense(self) -> int:
        """Everything except the routed experts: what TP/PP shard, not EP."""
        return self.total - self.routed_experts

    @property
    def active(self) -> int:
        return self.dense + self.top_k * self.expert


@dataclass(frozen=True, slots=True)
class ParamCounts:
    """The whole model: embeddings, blocks, final norm, head; MTP kept apart."""

    embedding: int            # input embedding V·h
    lm_head: int              # output projection V·h; 0 when tied to the embedding
    final_norm: int
    layers: tuple[LayerParams, ...]
    mtp: int = 0              # multi-token-prediction modules, not in ``total`` (DeepSeek-V3 convention)

    @property
    def total(self) -> int:
        return self.embedding + self.lm_head + self.final_norm + sum(l.total for l in self.layers)

    @property
    def active(self) -> int:
        """Per token, including the input embedding (see the module docstring)."""
        return self.embedding + self.lm_head + self.final_norm + sum(l.active for l in self.layers)

    @property
    def expert_params(self) -> int:
        """All routed experts of all layers: the part EP shards."""
        return sum(l.routed_experts for l in self.layers)

    @property
    def dense_params(self) -> int:
        """Everything but the routed experts: the part TP/PP shard."""
        return self.total - self.expert_params
