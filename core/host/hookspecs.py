"""The hooks a deploylint plugin may implement (pluggy project name ``deploylint``).

A plugin is any module or object with functions named like these hooks and
marked with ``@hookimpl``. Installed plugins register under the entry-point
group ``deploylint``; local ones load with ``--plugin module`` or
``plugins = [...]`` in the configuration.

Hook versions: this is version 1 of the hook set (``HOOKSPEC_VERSION``). A
hook is never changed incompatibly within a version; new optional hooks may
be added. See CONTRIBUTING.md for the stability policy.
"""

from __future__ import annotations

PROJECT = "deploylint"
HOOKSPEC_VERSION = 1


class HookspecMarker:
    """``@hookspec``: marks a hook specification as ``pluggy.HookspecMarker(project)`` does.

    The mark is pluggy's interface: a ``<project>_spec`` attribute on the function holding the options
    (``firstresult``, ``historic``, ``warn_on_impl``, ``warn_on_impl_args``), which
    ``PluginManager.add_hookspecs`` reads. Made here so that naming the hooks does not import pluggy:
    a run with the built-in plugins alone does without it (:mod:`.hookcalls`).
    """

    __slots__ = ("project_name",)

    def __init__(self, project_name: str) -> None:
        self.project_name = project_name

    def __call__(self, function=None, firstresult: bool = False, historic: bool = False, warn_on_impl=None,
                 warn_on_impl_args=None):
        if historic and firstresult:
            raise ValueError("a hook cannot be both historic and firstresult")

        def mark(func):
            setattr(func, self.project_name + "_spec", {"firstresult": firstresult, "historic": historic,
                                                        "warn_on_impl": warn_on_impl,
                                                        "warn_on_impl_args": warn_on_impl_args})
            return func

        return mark if function is None else mark(function)


class HookimplMarker:
    """``@hookimpl`` / ``@hookimpl(tryfirst=True, ...)``: marks a hook function as ``pluggy.HookimplMarker(project)``
    does — a ``<project>_impl`` attribute holding its options (``wrapper``, ``hookwrapper``, ``optionalhook``,
    ``tryfirst``, ``trylast``, ``specname``), which ``PluginManager.register`` reads."""

    __slots__ = ("project_name",)

    def __init__(self, project_name: str) -> None:
        self.project_name = project_name

    def __call__(self, function=None, hookwrapper: bool = False, optionalhook: bool = False, tryfirst: bool = False,
                 trylast: bool = False, specname: str | None = None, wrapper: bool = False):
        def mark(func):
            setattr(func, self.project_name + "_impl", {"wrapper": wrapper, "hookwrapper": hookwrapper,
                                                        "optionalhook": optionalhook, "tryfirst": tryfirst,
                                                        "trylast": trylast, "specname": specname})
            return func

        return mark if function is None else mark(function)


hookspec = HookspecMarker(PROJECT)
hookimpl = HookimplMarker(PROJECT)


@hookspec
def deploylint_rules():
    """Return the rules this plugin contributes: a list of :class:`deploylint.core.Rule` instances.

    Called once per run. Import heavy modules inside the hook, not at the top
    of the plugin module, so that a run that does not need them stays fast.
    """


@hookspec
def deploylint_accelerators():
    """Return extra accelerator catalog entries: ``{name: Accelerator}``.

    Entries appear in ``deploylint hardware`` and can be named in a plan's
    ``[hardware] accelerator``. A name that is already in the catalog is an
    error naming both owners.
    """


@hookspec(firstresult=True)
def deploylint_source(path, text):
    """Read a file deploylint does not know as a plan; return a Document, a list of Documents, or None.

    ``path`` is the file's path, ``text`` its content decoded as UTF-8 (BOM
    removed). Stops at the first non-None result; None lets other plugins or
    the built-in loaders try.

    **Plan formats.** A plugin adding a new plan syntax returns one Document
    whose ``data`` is a plan and whose ``spans`` map JSON pointers to the text.
    Raise :class:`deploylint.core.SourceError` for a file of your format that
    cannot be read.

    **Source adapters** read the files teams already have — a ``vllm serve``
    command in a Kubernetes manifest, a launch script, an engine's YAML config —
    and map each to the plan it describes:

    * *Recognise the file by its content*, cheaply and silently. A folder walk
      offers every candidate file (``*.sh``, ``*.yaml``, ``*.yml``, ``*.json``,
      ``*.toml`` by default, the configuration's ``candidates``) to every
      adapter, so test a substring first (``"vllm" in text``) and parse only
      then; return None for anything that is not yours — a manifest that is
      not a serving deployment gets no finding at all. Never raise on a file
      that is not yours.
    * *Several plans per file*: return a list (a prefill and a decode pool, a
      LeaderWorkerSet leader and its workers, the documents of a multi-document
      YAML). Give each a ``label``; an empty list claims the file and says it
      holds no plan.
    * *Spans into the original*: ``spans["/parallelism/tp"]`` is the flag's
      value token (for ``--tp=8`` the part after ``=``; inside a ``sh -c``
      string, the position in the file, not in the decoded string). Give
      ``/parallelism`` and the other tables the span of the command word, so a
      finding about a value the file leaves to its default lands there.
    * *Fixes in the original*: set ``document.writer`` — usually a
      :class:`deploylint.core.SpanWriter` with a binding per value token — so
      a rule's ``Fix.set("/parallelism/tp", 2)`` becomes an edit of that token,
      everything else kept byte for byte. Values without a binding (derived
      from several tokens) get no fix.
    * *What the file does not say*: set ``document.partial = True``; the engine
      then fills the accelerator, device count and workload from the command
      line (``--accelerator``, ``--num-devices``, ``--devices-per-node``) and the
      configuration (``[tool.deploylint.hardware]``, ``[tool.deploylint.workload]``),
      and runs only the rules whose inputs are known (``Rule.requires``). Values
      the adapter inferred from the file (a ``nvidia.com/gpu`` limit × pod count)
      go into ``data`` with a sentence in ``document.origins[pointer]``; things it
      could not read (an unknown flag, an unresolved ``$VAR``) into
      ``document.skipped``. Both become info diagnostics (DL010).
    * *Values derived from the layout*: a value the framework computes from dp
      (a global batch of local batch × dp) that the file alone does not settle
      goes into ``document.derived[pointer] = Derived(factor, ("dp",), origin)``;
      the engine computes it once the device count is known, with an info.
    * *Related locations*: ``document.related[pointer]`` = Related entries with
      ``start``/``end`` offsets (where ``TP_SIZE`` is set for a ``$TP_SIZE``
      token); every finding about that pointer carries them (text, JSON, SARIF
      ``relatedLocations``, LSP ``relatedInformation``).
    * *The engine's own semantics*: name the engine in ``data["serving"]["engine"]``
      and set ``document.startup`` to its :class:`deploylint.core.StartupProfile`:
      the generic rules (heads and KV heads vs tp, experts vs ep, layers vs pp)
      then report an error quoting the engine where it refuses to start, and say
      so where it accepts the layout (:mod:`deploylint.core.plan.startup`).
    * *Models by id*: ``data["model"] = {"id": "meta-llama/Llama-3.1-8B"}`` is
      resolved offline (Hugging Face cache, bundled catalog,
      ``[tool.deploylint.models]``); :mod:`deploylint.core.plan.catalog`.

    Shared pieces for adapters: :mod:`deploylint.core.document.kube` (Kubernetes
    objects → containers with command, args, env and GPU limits, with spans;
    multi-document YAML; YAML string scalars mapped back to file offsets).
    """


@hookspec
def deploylint_configure(config):
    """Receive this run's configuration before any file is checked.

    ``config.plugin_options(name)`` gives the table ``[tool.deploylint.plugins.<name>]``
    (an empty dict when absent).
    """
