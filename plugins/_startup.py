"""The engine a plan is for, and what that engine does with a condition a generic rule found.

Not part of the plugin API (``deploylint.core`` is: :class:`~deploylint.core.StartupProfile`).
The generic rules (PAR401–PAR403, PAR406, MOE301) call :func:`engine_says`.

The profile comes from the Document first (``document.startup``: what a source
adapter, built-in or third-party, attached to the plans it read), then from the
name the plan gives (``[serving] engine``, ``[training] framework``) for the
engines and frameworks deploylint knows, so a hand-written plan marked
``engine = "vllm"`` is judged as vLLM judges it.
"""

from __future__ import annotations

import importlib

from deploylint.core.plan.startup import StartupProfile

#: plan name → (module holding its STARTUP_CHECKS, the name users know)
KNOWN = {
    "vllm": ("deploylint.plugins.vllm", "vLLM 0.33.0"),
    "sglang": ("deploylint.plugins.sglang", "SGLang 0.5.23"),
    "trtllm": ("deploylint.plugins.trtllm", "TensorRT-LLM"),
    "megatron": ("deploylint.plugins.megatron", "Megatron-LM"),
    "torchtitan": ("deploylint.plugins.torchtitan", "TorchTitan"),
    "deepspeed": ("deploylint.plugins.deepspeed", "DeepSpeed"),
    "accelerate": ("deploylint.plugins.accelerate", "Accelerate"),
}


def builtin_profile(name: str | None) -> StartupProfile | None:
    """The profile of an engine or framework deploylint reads itself, by the name a plan gives."""
    entry = KNOWN.get(name or "")
    if entry is None:
        return None
    module = importlib.import_module(entry[0])
    return StartupProfile(entry[1], getattr(module, "STARTUP_CHECKS", {}))


def profile(ctx) -> tuple[str | None, StartupProfile | None]:
    """(the engine's plan name, its profile) for the plan being checked."""
    plan = ctx.plan
    name = plan.training.framework or (plan.serving.engine if plan.serving is not None else None)
    attached = getattr(ctx.document, "startup", None)
    if isinstance(attached, StartupProfile):
        return name, attached
    return name, builtin_profile(name)


def engine_says(ctx, condition: str, message: str, data: dict, **figures) -> tuple[str, dict, "Severity | None"]:
    """``message`` and ``data`` with the engine's own judgement of ``condition`` appended, and the severity it
    implies: ERROR when the engine refuses to start, the profile's severity (None: the rule's own) when it accepts
    the layout. Without a profile, or without a check for ``condition``, everything is returned unchanged."""
    from deploylint.core import Severity

    name, found = profile(ctx)
    said = found.says(condition, **figures) if found is not None else None
    if said is None:
        return message, data, None
    check, sentence = said
    extra = {"engine": name or found.name, "engine_accepts": not check.refuses,
             "engine_message": sentence, "engine_source": check.source}
    if check.refuses:
        return f"{message}; {sentence}", {**data, **extra}, Severity.ERROR
    severity = Severity.parse(check.severity) if check.severity is not None else None
    return f"{message}; {sentence}", {**data, **extra}, severity
