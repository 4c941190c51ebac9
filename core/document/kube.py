"""Kubernetes manifests for source adapters: every container with its command, args, env and GPUs, in place.

Serving engines run in Pods, Deployments, StatefulSets, Jobs, LeaderWorkerSets
(LWS), KServe ``LLMInferenceService`` objects, Dynamo graphs — each nesting a
container somewhere else. :func:`containers` walks a (multi-document) YAML
manifest and yields every container-like mapping (one with ``command`` or
``args``, and ``image`` or ``name``) as a :class:`Container`: its command and
args as :class:`Item` values with their spans (and, for strings, the file
offset of each character, so a ``sh -c`` string can be split into words that
keep their positions), its literal environment, its ``nvidia.com/gpu`` limit,
the LWS group it belongs to and the GPU node labels of its pod.

Nothing here knows a serving engine: adapters (``plugins/vllm.py``, …) decide
which container runs their engine and what its flags mean. A file that is not
YAML, or YAML that is not a Kubernetes object, yields no container.
"""

from __future__ import annotations

from typing import Any

from ..records import record, field
from . import NodeSpan
from . import pointer as jp

#: node labels that name the GPU model (GPU feature discovery, GKE, instance types)
GPU_LABELS = ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator", "node.kubernetes.io/instance-type",
              "karpenter.k8s.aws/instance-gpu-name")
GPU_RESOURCE = "nvidia.com/gpu"


@record(frozen=True)
class Item:
    """A YAML value with where it is written: ``start``/``end`` of the node (quotes included),
    ``inner`` the span of its text without quotes, ``chars`` the file offset of each character of a
    string value (None when it could not be mapped)."""

    value: Any
    pointer: str
    start: int
    end: int
    inner: tuple[int, int]
    chars: tuple[int, ...] | None = None


@record
class Container:
    """One container of a manifest, with what an adapter needs to read an engine's command."""

    doc: int
    pointer: str
    name: str | None
    command: list[Item]
    args: list[Item]
    env: dict[str, Item]
    gpus: Item | None
    kind: str | None
    object_name: str | None
    role: str | None = None               # "leader" / "worker" in a LeaderWorkerSet
    group_size: Item | None = None        # LeaderWorkerSet leaderWorkerTemplate.size
    group_gpus: int | None = None         # GPUs of the whole group (LWS) or of the pod
    group_gpus_origin: str = ""           # how group_gpus was counted, with lines
    node_labels: dict[str, Item] = field(default_factory=dict)
    image: str | None = None              # the container's image reference, as written
    data: Any = None                      # the document this container is in
    spans: dict[str, NodeSpan] = field(default_factory=dict)
    doc_start: int = 0

    @property
    def words(self) -> list[Item]:
        return self.command + self.args


def documents(text: str):
    """``[(data, spans, start)]`` of every YAML document, or [] when the text is not YAML the loader reads."""
    from .sources import SourceError
    from .sources.yaml_source import load_all

    try:
        return load_all("", text)
    except SourceError:
        return []


def item(text: str, spans: dict[str, NodeSpan], data: Any, pointer: str) -> Item | None:
    """The value at ``pointer`` of one document with its spans, or None when it is not there."""
    from .yaml_scalars import offsets

    node = spans.get(pointer)
    if node is None:
        return None
    try:
        value = jp.resolve(data, pointer)
    except (KeyError, IndexError, TypeError):
        return None
    start, end = node.value.start, node.value.end
    inner = (start + 1, end - 1) if end - start >= 2 and text[start] in "\"'" and text[end - 1] == text[start] else (start, end)
    chars = None
    if isinstance(value, str):
        where = offsets(text, start, end, value)
        chars = tuple(where) if where is not None else None
    return Item(value, pointer, start, end, inner, chars)


def containers(text: str, *, must_contain: tuple[str, ...] = ()) -> list[Container]:
    """Every container-like mapping of a manifest (see the module docstring).

    ``must_contain``: skip parsing unless the text holds one of these substrings (the cheap sniff an
    adapter does before any YAML is read).
    """
    if must_contain and not any(s in text for s in must_contain):
        return []
    if "command" not in text and "args" not in text:
        return []
    out: list[Container] = []
    for index, (data, spans, start) in enumerate(documents(text)):
        if not isinstance(data, dict):
            continue
        kind = data.get("kind") if isinstance(data.get("kind"), str) else None
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        name = meta.get("name") if isinstance(meta.get("name"), str) else None
        for pointer, mapping in _mappings(data, ""):
            if not _is_container(mapping):
                continue
            c = Container(index, pointer, mapping.get("name") if isinstance(mapping.get("name"), str) else None,
                          _list(text, spans, data, pointer, "command"), _list(text, spans, data, pointer, "args"),
                          _env(text, spans, data, pointer, mapping), _gpus(text, spans, data, pointer, mapping),
                          kind, name, data=data, spans=spans, doc_start=start)
            if c.gpus is None and kind == "DynamoGraphDeployment":
                c.gpus = _dynamo_gpus(text, spans, data, pointer)
            _group(text, spans, data, c)
            c.node_labels = _labels(text, spans, data, pointer)
            c.image = mapping.get("image") if isinstance(mapping.get("image"), str) else None
            out.append(c)
    return out


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# -- walking -------------------------------------------------------------------------
def _mappings(value: Any, pointer: str):
    if isinstance(value, dict):
        yield pointer, value
        for k, v in value.items():
            yield from _mappings(v, jp.child(pointer, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _mappings(v, jp.child(pointer, i))


def _is_container(m: dict) -> bool:
    has_cmd = isinstance(m.get("command"), (list, str)) or isinstance(m.get("args"), (list, str))
    return has_cmd and (isinstance(m.get("image"), str) or isinstance(m.get("name"), str))


def _list(text, spans, data, pointer: str, key: str) -> list[Item]:
    where = jp.child(pointer, key)
    value = jp.resolve(data, where, None)
    if isinstance(value, str):          # Dynamo and some charts write the args as one string
        found = item(text, spans, data, where)
        return [found] if found else []
    if not isinstance(value, list):
        return []
    out = []
    for i in range(len(value)):
        found = item(text, spans, data, jp.child(where, i))
        if found is not None and isinstance(found.value, (str, int, float)) and not isinstance(found.value, bool):
            out.append(found)
    return out


def _env(text, spans, data, pointer: str, mapping: dict) -> dict[str, Item]:
    out: dict[str, Item] = {}
    env = mapping.get("env")
    if not isinstance(env, list):
        return out
    for i, entry in enumerate(env):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and "value" in entry:
            found = item(text, spans, data, jp.child(jp.child(jp.child(pointer, "env"), i), "value"))
            if found is not None and found.value is not None:
                out[entry["name"]] = found
    return out


def _gpus(text, spans, data, pointer: str, mapping: dict) -> Item | None:
    resources = mapping.get("resources")
    if not isinstance(resources, dict):
        return None
    for part in ("limits", "requests"):
        table = resources.get(part)
        if isinstance(table, dict) and GPU_RESOURCE in table:
            found = item(text, spans, data, jp.child(jp.child(jp.child(pointer, "resources"), part), GPU_RESOURCE))
            if found is not None:
                return found
    return None


def _dynamo_gpus(text, spans, data, pointer: str) -> Item | None:
    """Dynamo graphs state a service's GPUs once, at ``spec.services.<name>.resources.limits.gpu``."""
    tokens = jp.split(pointer)
    if len(tokens) < 3 or tokens[:2] != ["spec", "services"]:
        return None
    base = jp.join(*tokens[:3])
    for part in ("limits", "requests"):
        found = item(text, spans, data, f"{base}/resources/{part}/gpu")
        if found is not None:
            return found
    return None


def gpu_count(found: Item | None) -> int | None:
    if found is None:
        return None
    value = found.value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _group(text, spans, data, c: Container) -> None:
    """LeaderWorkerSet: role, group size and the GPUs of the whole group."""
    gpus = gpu_count(c.gpus)
    c.group_gpus = gpus
    if c.gpus is not None and gpus is not None:
        c.group_gpus_origin = f"nvidia.com/gpu {gpus} of the container at line {line_of(text, c.gpus.start)}"
    tokens = jp.split(c.pointer)
    if c.kind != "LeaderWorkerSet" or "leaderWorkerTemplate" not in tokens:
        return
    base = "/spec/leaderWorkerTemplate"
    c.group_size = item(text, spans, data, base + "/size")
    c.role = "leader" if "leaderTemplate" in tokens else "worker" if "workerTemplate" in tokens else None
    size = c.group_size.value if c.group_size is not None else 1
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        return
    size_line = line_of(text, c.group_size.start) if c.group_size is not None else None
    template = jp.resolve(data, base, {})
    leader_gpus = _template_gpus(text, spans, data, base + "/leaderTemplate", template.get("leaderTemplate"))
    worker_gpus = _template_gpus(text, spans, data, base + "/workerTemplate", template.get("workerTemplate"))
    if leader_gpus is None:
        leader_gpus = worker_gpus       # without a leaderTemplate the leader runs the worker template
    if worker_gpus is None:
        worker_gpus = leader_gpus
    if leader_gpus is None:
        return
    c.group_gpus = leader_gpus + (size - 1) * worker_gpus
    said = f"LeaderWorkerSet size {size}" + (f" (line {size_line})" if size_line else " (default 1)")
    c.group_gpus_origin = (f"{said} × nvidia.com/gpu {worker_gpus} per pod" if leader_gpus == worker_gpus else
                           f"{said}: leader nvidia.com/gpu {leader_gpus} + {size - 1} workers × {worker_gpus}")


def _template_gpus(text, spans, data, pointer: str, template: Any) -> int | None:
    if not isinstance(template, dict):
        return None
    total = None
    for p, m in _mappings(template, pointer):
        if "initContainers" in jp.split(p):
            continue
        if _is_container(m) or (isinstance(m.get("image"), str) and isinstance(m.get("resources"), dict)):
            n = gpu_count(_gpus(text, spans, data, p, m))
            if n is not None:
                total = (total or 0) + n
    return total


def _labels(text, spans, data, pointer: str) -> dict[str, Item]:
    """GPU-model node labels of the pod spec around ``pointer``: nodeSelector and required node affinity."""
    tokens = jp.split(pointer)
    out: dict[str, Item] = {}
    for depth in range(len(tokens) - 1, -1, -1):
        pod = jp.join(*tokens[:depth])
        spec = jp.resolve(data, pod, None)
        if not isinstance(spec, dict) or "containers" not in spec:
            continue
        selector = spec.get("nodeSelector")
        if isinstance(selector, dict):
            for key in GPU_LABELS:
                if key in selector:
                    found = item(text, spans, data, jp.child(jp.child(pod, "nodeSelector"), key))
                    if found is not None:
                        out[key] = found
        terms = jp.resolve(data, pod + "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms", None)
        if isinstance(terms, list):
            for t, term in enumerate(terms):
                exprs = term.get("matchExpressions") if isinstance(term, dict) else None
                for e, expr in enumerate(exprs or []):
                    if (isinstance(expr, dict) and expr.get("key") in GPU_LABELS and expr.get("operator") == "In"
                            and isinstance(expr.get("values"), list) and len(expr["values"]) == 1):
                        at = f"{pod}/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/{t}/matchExpressions/{e}/values/0"
                        found = item(text, spans, data, at)
                        if found is not None:
                            out[expr["key"]] = found
        break
    return out


def accelerator_from_label(value: str, catalog) -> str | None:
    """A catalog name for a GPU-model label value (``NVIDIA-H100-80GB-HBM3`` → ``h100-sxm``), or None."""
    v = str(value).lower().replace("_", "-")
    table = (("h200", "h200"), ("h100-pcie", "h100-pcie"), ("h100", "h100-sxm"), ("a100-sxm4-40gb", "a100-40gb"),
             ("a100-40gb", "a100-40gb"), ("a100", "a100-80gb"), ("b200", "b200"), ("l40s", "l40s"), ("mi300x", "mi300x"))
    for needle, name in table:
        if needle in v and name in catalog:
            return name
    return None
