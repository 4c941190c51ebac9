"""Parameter counts of a model, total and active per token, layer by layer.

Memory follows the *total* count (every expert is resident on its EP rank);
compute follows the *active* count (the router picks top_k experts per token).
Mixing the two is the classic MoE estimator bug.

``active`` includes the input embedding (Mistral's and Qwen's convention);
DeepSeek and OpenAI leave it out, which is ``active - embedding``.
"""

from __future__ import annotations

from ..records import field, record


@record(frozen=True, slots=True)
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


@record(frozen=True, slots=True)
class ParamCounts:
    """The whole model: embeddings, blocks, final norm, head; MTP kept apart."""

    embedding: int            # input embedding V·h
    lm_head: int              # output projection V·h; 0 when tied to the embedding
    final_norm: int
    layers: tuple[LayerParams, ...]
    mtp: int = 0              # multi-token-prediction modules, not in ``total`` (DeepSeek-V3 convention)
    _matmul: int | None = field(default=None, init=False, repr=False, compare=False)
    _sums: tuple[int, int, int] | None = field(default=None, init=False, repr=False, compare=False)
    _spans: dict | None = field(default=None, init=False, repr=False, compare=False)
    _prefix: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def matmul_per_token(self) -> int:
        """Active parameters a token multiplies through: blocks without their norms, router, k experts, the LM head.
        Summed once: the layout search prices hundreds of layouts of one model with one ParamCounts."""
        if self._matmul is None:
            head = self.lm_head or self.embedding
            object.__setattr__(self, "_matmul", sum(l.active - l.norms for l in self.layers) + head)
        return self._matmul

    def _layer_sums(self) -> tuple[int, int, int]:
        # the sums every estimate of the model reads, over all its layers: summed once (``layers`` is a tuple of
        # frozen records, so they cannot change after the first call)
        if self._sums is None:
            ls = self.layers
            object.__setattr__(self, "_sums", (sum(l.router for l in ls), sum(l.top_k * l.expert for l in ls),
                                               next((l.expert for l in ls if l.is_moe), 0)))
        return self._sums

    @property
    def router_params(self) -> int:
        """The routers (gates and their biases) of all layers."""
        return self._layer_sums()[0]

    @property
    def routed_active_params(self) -> int:
        """Routed-expert parameters a token passes through: top_k experts in each MoE layer."""
        return self._layer_sums()[1]

    @property
    def first_expert_params(self) -> int:
        """One routed expert of the first MoE layer (0 for a dense model)."""
        return self._layer_sums()[2]

    def moe_span(self, layers: range) -> tuple[int, int]:
        """(MoE layers, one expert's parameters summed over them) among ``layers``: what a pipeline stage holds.
        Kept per range: the layout search asks for the same stages of one model for every layout it prices."""
        spans = self._spans
        if spans is None:
            spans = {}
            object.__setattr__(self, "_spans", spans)
        key = (layers.start, layers.stop, layers.step)
        hit = spans.get(key)
        if hit is None:
            held = [self.layers[i] for i in layers]
            hit = spans[key] = (sum(1 for l in held if l.is_moe), sum(l.expert for l in held))
        return hit

    def _prefixes(self) -> tuple:
        if self._prefix is None:
            matmul, router = [0], [0]
            for l in self.layers:
                matmul.append(matmul[-1] + l.active - l.norms)
                router.append(router[-1] + l.router)
            alike = len({(l.active - l.norms, l.router) for l in self.layers}) <= 1
            object.__setattr__(self, "_prefix", (matmul, router, alike))
        return self._prefix

    def layer_sums(self, layers: range) -> tuple[int, int]:
        """Matmul parameters per token (active, without norms) and router parameters of the blocks ``layers``: what
        one pipeline stage multiplies through. Prefix sums kept once, so that a stage costs two subtractions."""
        matmul, router, _ = self._prefixes()
        return matmul[layers.stop] - matmul[layers.start], router[layers.stop] - router[layers.start]

    @property
    def blocks_alike(self) -> bool:
        """Every block multiplies through the same parameters (a dense model, or MoE in every layer): a stage's FLOPs
        then depend only on how many blocks it holds."""
        return self._prefixes()[2]

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


def _norm(model, width: int) -> int:
    """One normalization over ``width`` features: RMSNorm has a weight, LayerNorm a weight and a bias."""
    return width * (2 if model.norm == "layernorm" else 1)


def attention_params(model) -> int:
    """Attention of one block: projections, their biases, QK norms and sinks (A1/A3 of docs/analysis.md)."""
    h, n_h, n_kv, d = model.hidden_size, model.num_attention_heads, model.num_kv_heads, model.head_dim
    if model.attention == "mla" and model.mla is not None:
        m = model.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank:
            q = h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * n_h * qk
        else:
            q = h * n_h * qk
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank + m.kv_lora_rank * n_h * (m.qk_nope_head_dim + m.v_head_dim)
        return q + kv + n_h * m.v_head_dim * h
    params = h * n_h * d + 2 * h * n_kv * d + n_h * d * h
    if model.qkv_bias:
        params += n_h * d + 2 * n_kv * d
    if model.attention_out_bias:
        params += h
    if model.qk_norm == "head":
        params += 2 * d
    elif model.qk_norm == "full":
        params += n_h * d + n_kv * d
    if model.attention_sinks:
        params += n_h
    return params


def kv_projection_params(model) -> int:
    """The part of attention_params that belongs to key/value heads (replicated when tp > num_kv_heads)."""
    if model.attention == "mla":
        return 0
    d, n_kv = model.head_dim, model.num_kv_heads
    return 2 * model.hidden_size * n_kv * d + (2 * n_kv * d if model.qkv_bias else 0)


def mlp_params(model, width: int) -> int:
    """A dense MLP of hidden width ``width``: gated (SwiGLU: gate, up, down) or plain (up, down)."""
    return (3 if model.ffn_activation == "swiglu" else 2) * model.hidden_size * width


def layer_params(model, index: int) -> LayerParams:
    h = model.hidden_size
    attention = attention_params(model)
    norms = 2 * _norm(model, h)
    moe = model.moe
    if moe is None or not moe.is_moe_layer(index):
        return LayerParams(index, attention, norms, mlp_params(model, model.ffn_hidden_size), 0, 0, 0, 0, 0)
    expert = mlp_params(model, moe.expert_ffn_hidden_size)
    if moe.expert_bias:
        matrices = 3 if model.ffn_activation == "swiglu" else 2
        expert += (matrices - 1) * moe.expert_ffn_hidden_size + h
    router = h * moe.num_experts + (moe.num_experts if moe.router_bias else 0)
    shared = mlp_params(model, moe.shared_expert_ffn_hidden_size) if moe.shared_expert_ffn_hidden_size else 0
    if shared and moe.shared_expert_gate:
        shared += h
    return LayerParams(index, attention, norms, 0, router, moe.num_experts * expert, expert, shared, moe.top_k)


def count_params(model) -> ParamCounts:
    """Exact parameter counts of a resolved :class:`~deploylint.core.plan.Model`.

    Conventions (tested against published totals in tests/core/estimate):
    the embedding and LM head are ``V·h`` each (one of them when tied); each
    block has two norms and the model a final one; MTP modules (DeepSeek-V3)
    are a full MoE block plus two norms, the ``2h·h`` projection and a head
    norm each, counted in ``mtp`` and left out of ``total`` as DeepSeek does.
    """
    h, V = model.hidden_size, model.vocab_size
    layers = tuple(layer_params(model, i) for i in range(model.layers))
    mtp = 0
    if model.mtp_layers:
        block = layer_params(model, model.layers - 1)
        mtp = model.mtp_layers * (block.total + 2 * _norm(model, h) + 2 * h * h + _norm(model, h))
    return ParamCounts(
        embedding=V * h,
        lm_head=0 if model.tie_embeddings else V * h,
        final_norm=_norm(model, h),
        layers=layers,
        mtp=mtp,
    )
