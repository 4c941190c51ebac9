"""What the file does not say: fill an adapter's plan from the command line, the configuration and the file.

A serving command or a training launcher says how the model is split, rarely
on which accelerator, and never what load it will carry. For a Document an
adapter marks ``partial``, each missing value comes from, highest first:

1. the command line: ``--accelerator NAME``, ``--num-devices N``, ``--devices-per-node N``;
2. the configuration: ``[tool.deploylint.hardware]`` and ``[tool.deploylint.workload]``
   (the keys of the plan's ``[hardware]`` and ``[workload]`` tables; a ``"glob"``
   sub-table matching the file first, then the plain keys); the model of a file
   that names none from ``[tool.deploylint.models] "glob" = { id = … }`` or
   ``{ from = "config.json" }``;
3. what the adapter inferred from the file (a Kubernetes ``nvidia.com/gpu`` limit
   × LeaderWorkerSet size; a ``nvidia.com/gpu.product`` node label), recorded in
   ``Document.origins``.

Then the values the adapter states as a multiple of layout degrees
(``Document.derived``: a global batch of local batch × dp) are computed, once
the device count and so dp are settled.

Every value filled or inferred is an info diagnostic (DL010) saying where it
came from; a finding about a value the command line or the configuration
filled names that origin (:func:`attribute`) and offers no edit of this file. What nobody supplies stays *unknown*: the accelerator (then the
rules that need memory or speed figures are not run, and one info says which
and how to supply it) or the workload (serving limits are caps, not a load:
the rules that need a batch and sequence length wait for one). The checks that
need neither — divisibility, context length, GPUs requested vs. used — run.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from ..diagnostics import Diagnostic


#: stand-in figures for an unknown accelerator: never reported, only let the estimator run
#: (no rule that reads them runs while "hardware" is unknown)
_NOMINAL_HARDWARE = {"memory_gib": 1.0, "peak_tflops": 1.0, "memory_bandwidth_gbps": 1.0}


def _info(message: str, path: str, data: dict | None = None) -> Diagnostic:
    from ..host.core_rules import core_diagnostic

    return core_diagnostic("DL010", message, path, data=data)


def fill(document, data: Any, config) -> tuple[dict, list[Diagnostic], frozenset, dict]:
    """``(data with the missing values filled, DL010 infos, unknown inputs, supplied)`` for an adapter's plan.

    ``supplied`` maps the pointer of each value the command line or the configuration gave to where it comes from
    (``"--accelerator on the command line"``) and its DL010 info, for :func:`attribute`."""
    out: list[Diagnostic] = []
    supplied: dict[str, tuple[str, Diagnostic]] = {}
    data = copy.deepcopy(data) if isinstance(data, dict) else {}
    data.setdefault("schema_version", 1)
    # "architecture": the adapter could not read the model's sizes (stand-ins let the size checks run, no estimate)
    unknown: set[str] = set(getattr(document, "unknown", ()) or ())
    where = f"[tool.deploylint.{{}}] in {config.source}" if config.source else "[tool.deploylint.{}]"

    named = _configured_model(document, data, config, unknown, where, out, supplied)
    cli = getattr(config, "cli_hardware", {}) or {}
    configured_hardware = _configured(config, "hardware", document.path, where)
    given = {f"/hardware/{key}" for key in cli} | {f"/hardware/{key}" for key, _, _, _ in configured_hardware}
    for skipped in document.skipped:
        text, path = (skipped if isinstance(skipped, tuple) else (skipped, ""))
        if named and path == "/model" or path in given:
            continue        # "the file does not say …": the configuration or the command line did
        out.append(_info(f"not read: {text}; the checks that do not depend on it still run", path))

    if not isinstance(data.get("model"), dict) or not data["model"]:
        unknown.add("model")
        out.append(_info("no model: this file does not name one (it is given where the engine is started), so no "
                         "check can run on it; checked with the command that names the model, or name it for this "
                         "file in the configuration ([tool.deploylint.models] \"glob\" = { id = \"org/name\" })", ""))
        return data, out, frozenset(unknown), supplied

    hardware = data.setdefault("hardware", {})
    for key, value in cli.items():
        flag = "--" + key.replace("_", "-")
        hardware[key] = value
        _supplied(out, supplied, f"{flag} on the command line", _info(
            f"hardware.{key} = {value!r}: from {flag} on the command line", f"/hardware/{key}",
            {"key": key, "value": value, "origin": "command line"}))
    configured = set(cli)
    for key, value, origin, keys in configured_hardware:
        if key in configured:
            continue
        configured.add(key)
        hardware[key] = value
        _supplied(out, supplied, origin, _info(f"hardware.{key} = {value!r}: from {origin}", f"/hardware/{key}",
                                               {"key": key, "value": value, "origin": "configuration"}).with_(
            related=_set_here(config, keys, f"hardware.{key}")))
    for pointer, origin in document.origins.items():
        key = pointer.rsplit("/", 1)[-1]
        if pointer.startswith("/hardware/") and key in configured:
            continue
        out.append(_info(origin, pointer, {"origin": "inferred"}))

    if "accelerator" not in hardware and not all(k in hardware for k in _NOMINAL_HARDWARE):
        unknown.add("hardware")
        for key, value in _NOMINAL_HARDWARE.items():
            hardware.setdefault(key, value)
    if "num_devices" not in hardware:
        par = data.get("parallelism", {}) if isinstance(data.get("parallelism"), dict) else {}
        world = 1
        for key in ("tp", "pp", "cp", "dp"):
            value = par.get(key, 1)
            world *= value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1
        hardware["num_devices"] = world
        unknown.add("devices")     # nominal: rules that compare against the device count can tell
        out.append(_info(f"hardware.num_devices = {world}: the GPUs the layout uses (nothing in the file or the "
                         "configuration gives a device count; --num-devices N sets one)", "/hardware/num_devices",
                         {"key": "num_devices", "value": world, "origin": "layout"}))

    workload = data.setdefault("workload", {})
    model_id = data["model"].get("id")
    configured_workload = _configured(config, "workload", document.path, where)
    if "dtype" not in workload and all(k != "dtype" for k, _, _, _ in configured_workload) and isinstance(model_id, str):
        # The engines' dtype "auto" serves the checkpoint as published: an FP8 checkpoint stays FP8.
        from ..plan.catalog import quantization

        method = quantization(model_id, config.models, base_dir=config.root)
        if method == "fp8":
            workload["dtype"] = "fp8"
            out.append(_info(f"workload.dtype = 'fp8': the checkpoint of {model_id} is FP8 (its config.json "
                             "quantization_config), which the engine serves as it is", "/model/id",
                             {"key": "dtype", "value": "fp8", "origin": "model config"}))
        elif method:
            out.append(_info(f"the checkpoint of {model_id} is quantized with {method}, which the plan cannot express: "
                             "weights are counted at bf16 (an overestimate)", "/model/id", {"quant_method": method}))
    for key, value, origin, keys in configured_workload:
        workload[key] = value
        _supplied(out, supplied, origin, _info(f"workload.{key} = {value!r}: from {origin}", f"/workload/{key}",
                                               {"key": key, "value": value, "origin": "configuration"}).with_(
            related=_set_here(config, keys, f"workload.{key}")))
    derive(document, data, unknown, out)
    if "batch_size" not in workload or "seq_len" not in workload:
        unknown.add("workload")
        workload.setdefault("mode", "inference")
        workload.setdefault("batch_size", 1)
        serving = data.get("serving", {}) if isinstance(data.get("serving"), dict) else {}
        length = serving.get("max_model_len")
        workload.setdefault("seq_len", length if isinstance(length, int) and not isinstance(length, bool) and length > 0 else 1)
    return data, out, frozenset(unknown), supplied


def derive(document, data: dict, unknown: set, out: list) -> None:
    """Compute the adapter's ``Document.derived`` values (``factor × Π degrees``) now that the device count is settled.

    A degree is the plan's: written, else (``dp``) the device count over tp·pp·cp as the plan derives it, else 1.
    A ``dp`` the file does not write is unknown while the device count is only the layout's own (``"devices"``
    unknown): the value is then left unset and an info says why. A value the plan already holds is kept."""
    derived = getattr(document, "derived", None) or {}
    if not derived:
        return
    from ..document import pointer as jp
    from ..plan.resolve import derived_dp, model_parallel_size

    par = data.get("parallelism") if isinstance(data.get("parallelism"), dict) else {}
    devices = data["hardware"].get("num_devices")
    for pointer, how in derived.items():
        why_not = "dp is not known without a device count (--num-devices N, or num_devices in [tool.deploylint.hardware])"
        tokens = jp.split(pointer) if isinstance(pointer, str) and pointer.startswith("/") else []
        factor = getattr(how, "factor", None)
        if not tokens or type(factor) is not int or factor < 1 or jp.resolve(data, pointer, None) is not None:
            continue        # not a value (or not one the adapter may derive), or one the plan already holds
        name = pointer.strip("/").replace("/", ".")
        value, degrees, notes = how.factor, {}, []
        for key in tuple(getattr(how, "degrees", ())):
            degree = par.get(key)
            if not isinstance(degree, int) or isinstance(degree, bool) or degree < 1:
                if key != "dp":
                    degree = 1
                elif "devices" in unknown or not isinstance(devices, int):
                    value = None
                    break
                elif devices % model_parallel_size(par):
                    # no dp fills the devices (PAR401 says so): a batch of a dp no launch can have is no figure
                    value = None
                    why_not = (f"no dp makes tp·pp·cp {model_parallel_size(par)} fill the {devices} devices, so dp "
                               "is not known")
                    break
                else:
                    degree = derived_dp(par, devices)
                    notes.append(f"dp {degree} = {devices} devices / tp·pp·cp {model_parallel_size(par)}")
            value *= degree
            degrees[key] = degree
        if value is None:
            out.append(_info(f"{name} is not known: {how.origin}, and {why_not}", pointer,
                             {"key": name, "origin": "derived", "unknown": ["dp"]}))
            continue
        node = data
        for t in tokens[:-1]:
            node = node.setdefault(t, {}) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        node[tokens[-1]] = value
        how_much = " × ".join([str(how.factor)] + [f"{k} {d}" for k, d in degrees.items()])
        how_much += f"; {'; '.join(notes)}" if notes else ""
        out.append(_info(f"{name} = {value}: {how.origin} ({how_much})", pointer,
                         {"key": name, "value": value, "origin": "derived", "factor": how.factor, "degrees": degrees}))


def _configured(config, table: str, path: str | None, where: str) -> list[tuple[str, Any, str, tuple[str, ...]]]:
    """``(key, value, origin, keys)`` from ``[tool.deploylint.<table>]`` for the file at ``path``: the keys of the
    first glob sub-table that matches and sets them, then the table's plain keys. ``keys`` are the TOML keys the
    value sits under in the configuration file (below ``[tool.deploylint]``)."""
    out: list[tuple[str, Any, str, tuple[str, ...]]] = []
    seen: set[str] = set()
    matched = config.for_file(getattr(config, f"file_{table}", []) or [], path)
    for pattern, values in matched + [("", getattr(config, table, {}) or {})]:
        origin = where.format(table) if not pattern else where.format(f"{table}.\"{pattern}\"")
        for key, value in values.items():
            if key not in seen:
                seen.add(key)
                out.append((key, value, origin, (table, pattern, key) if pattern else (table, key)))
    return out


def _set_here(config, keys: tuple[str, ...], what: str) -> tuple:
    """A related place on ``keys`` in the configuration file (empty when it cannot be found there)."""
    from ..diagnostics import Related
    from .config import locate

    found = locate(config.source, keys) if config.source else None
    return (Related(f"{what} is set here", found, config.source),) if found is not None else ()


def _supplied(out: list, supplied: dict, where: str, info: Diagnostic) -> None:
    """``info`` says that the command line or the configuration (``where``) gave the value at its path."""
    out.append(info)
    supplied[info.path] = (where, info)


def attribute(diagnostics: list[Diagnostic], supplied: dict[str, tuple[str, Diagnostic]]) -> list[Diagnostic]:
    """Findings about a value the command line or the configuration supplied (:func:`fill`'s ``supplied``), not
    the file: each names where the value comes from (a related place on the configuration key), and a fix that
    would edit that value here is not offered — the file does not hold it; it is changed where it is set."""
    if not supplied:
        return diagnostics
    out = []
    for d in diagnostics:
        where, source = supplied.get(d.path, (None, None)) if d.code != "DL010" and d.path else (None, None)
        if source is None:
            out.append(d)
            continue
        name = d.path.strip("/").replace("/", ".")
        fixes = tuple(f for f in d.fixes if not any(c.path == d.path or c.path.startswith(d.path + "/")
                                                   for c in f.changes))
        refusal = "this file does not hold it" if d.fixes and not fixes and not d.refusal else ""
        message = f"{d.message} ({name} comes from {where}" + (f"; no fix offered: {refusal})" if refusal else ")")
        out.append(d.with_(message=message, fixes=fixes, refusal=refusal or d.refusal,
                           related=d.related + tuple(r for r in source.related if r not in d.related)))
    return out


def _configured_model(document, data: dict, config, unknown: set, where: str, out: list, supplied: dict) -> bool:
    """Name the model of a file that does not (a ds_config, an Accelerate config, an engine's options YAML, a
    Megatron-Bridge override) from the first ``[tool.deploylint.models]`` glob matching it. The model values the file
    does state (those with a span) are kept over the named model's. True when a model was named."""
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    if model and "architecture" not in unknown:
        return False
    matched = config.for_file(getattr(config, "file_models", []) or [], document.path)
    if not matched:
        return False
    pattern, entry = matched[0]
    origin = where.format(f"models.\"{pattern}\"")
    if "from" in entry:
        path = entry["from"]
        candidate = os.path.join(path, "config.json") if os.path.isdir(path) else path
        from ..host.core_rules import core_diagnostic
        from ..plan.resolve import inside, model_roots

        roots = model_roots(document.path, getattr(config, "model_paths", ()), getattr(config, "root", None))
        if not inside(candidate, roots):
            # said the same way whether or not the file exists: a checked repository cannot probe the machine
            out.append(core_diagnostic("DL004", f"from = {path!r} in {origin} points outside the checked repository "
                                       f"({roots[0]}); deploylint reads model configs only there, or in a folder "
                                       "listed in model-paths in the configuration", "", data={"from": path}))
            return False
        if not os.path.isfile(candidate):
            out.append(core_diagnostic("DL004", f"from = {path!r} in {origin} names no config.json on this machine: "
                                       "this file's model is not known", "", data={"from": path}))
            return False
        named, what = candidate, f"the config.json at {candidate}"
    else:
        named = what = entry["id"]
    from ..document import pointer as jp

    stated = {}
    for pointer in document.spans:
        if pointer.startswith("/model/"):
            value = jp.resolve(data, pointer, None)
            if value is not None and not isinstance(value, (dict, list)):
                stated[pointer] = value
    new: dict = {"id": named}
    for pointer, value in stated.items():
        node = new
        tokens = jp.split(pointer)[1:]
        for t in tokens[:-1]:
            node = node.setdefault(t, {})
        node[tokens[-1]] = value
    data["model"] = new
    unknown.discard("model")
    unknown.discard("architecture")
    kept = "; the values this file states are kept over it: " + ", ".join(
        f"{p.removeprefix('/model/').replace('/', '.')} = {v!r}" for p, v in stated.items()) if stated else ""
    _supplied(out, supplied, origin, _info(f"model = {what}: from {origin} (this file does not name its model){kept}",
                                           "/model", {"key": "model", "value": named, "origin": "configuration",
                                                      "pattern": pattern}))
    return True


def skipped_rules(unknown: frozenset, codes: list[str]) -> Diagnostic:
    """The one info saying which checks did not run for lack of an input, and how to supply it."""
    how = []
    if "architecture" in unknown:
        how.append("the model's architecture (the file does not describe it; see the info above)")
    if "hardware" in unknown:
        how.append("the accelerator (--accelerator NAME, or accelerator = \"…\" in [tool.deploylint.hardware])")
    if "workload" in unknown:
        how.append("the workload (batch_size, seq_len, output_len in [tool.deploylint.workload]; the engine's "
                   "limits are caps, not a load)")
    shown = ", ".join(codes[:12]) + (f" and {len(codes) - 12} more" if len(codes) > 12 else "")
    return _info(f"{len(codes)} checks were not run because nothing gives {' or '.join(how)}: {shown}", "",
                 {"skipped": codes, "unknown": sorted(unknown)})
