"""Record classes as ``dataclasses.dataclass`` makes them, at a fraction of the start-up cost.

deploylint's value types (``Diagnostic``, ``Plan``, the estimates, …) are
about fifty classes created while a check starts. ``@dataclass`` compiles six
generated functions for each frozen class (and builds a ``slots`` class
twice), and importing :mod:`dataclasses` pulls :mod:`inspect` in: together
about half of a cold ``deploylint check``. :func:`record` makes the same
classes with one compiled function each (``__init__``), whose code is kept
beside the ``.pyc`` files for the next interpreter; the other methods are
shared functions over the class's field names.

What a class gets is what ``@dataclass(frozen=..., slots=..., order=...)``
gives it (eq, repr, hash, ``__match_args__``, ``__post_init__``, pickling of
frozen slots classes, ``FrozenInstanceError``), so the classes stay
dataclasses to everyone else: ``dataclasses.fields``, ``replace``,
``asdict`` and ``is_dataclass`` work on them, through a
``__dataclass_fields__`` that is built by :mod:`dataclasses` itself the first
time something asks for it (the import is paid then, not at start-up).
Inside deploylint, use this module's :func:`replace` and :func:`fields`, which
need no import. Not supported (no class here uses them): inheritance between
records, ``InitVar``, ``kw_only``, ``eq=False``, ``unsafe_hash``.
"""

from __future__ import annotations

import marshal
import os
import sys
from operator import attrgetter
from typing import Any, ClassVar, get_origin

__all__ = ["record", "field", "fields", "replace"]

_MISSING: Any = type("_MISSING_TYPE", (), {"__repr__": lambda self: "MISSING"})()


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"   # how inspect.signature shows a field with a default factory, as dataclasses does


_HAS_FACTORY = _Factory()


class Field:
    """One field of a record (what :func:`fields` returns): name, annotation, default and options."""

    __slots__ = ("name", "type", "default", "default_factory", "init", "repr", "compare")

    def __init__(self, default=_MISSING, default_factory=_MISSING, init=True, repr=True, compare=True) -> None:
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name: str = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, type={self.type!r}, default={self.default!r}, init={self.init})"


def field(*, default=_MISSING, default_factory=_MISSING, init: bool = True, repr: bool = True, compare: bool = True) -> Any:
    """A field with options, as ``dataclasses.field`` (default, default_factory, init, repr, compare)."""
    return Field(default, default_factory, init, repr, compare)


def fields(class_or_instance) -> tuple[Field, ...]:
    """The fields of a record class or instance, in order (ClassVars excluded), like ``dataclasses.fields``."""
    try:
        return class_or_instance.__record_fields__
    except AttributeError:
        raise TypeError("must be called with a record class or instance") from None


def replace(obj, /, **changes):
    """A copy of the record ``obj`` with ``changes``, like ``dataclasses.replace`` (``__post_init__`` runs again)."""
    try:
        given, fixed = obj.__record_init__, obj.__record_not_init__
    except AttributeError:
        raise TypeError("must be called with a record class or instance") from None
    for name in fixed:
        if name in changes:
            raise ValueError(f"field {name} is declared with init=False, it cannot be specified with replace()")
    for name in given:
        if name not in changes:
            changes[name] = getattr(obj, name)
    return obj.__class__(**changes)


def record(cls=None, /, *, frozen: bool = False, slots: bool = False, order: bool = False):
    """``@record`` / ``@record(frozen=True, slots=True, order=True)``: the class with dataclass methods added."""
    def wrap(cls):
        return _process(cls, frozen, slots, order)

    return wrap if cls is None else wrap(cls)


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):   # ``from __future__ import annotations``: the annotation's text
        return annotation.replace(" ", "").startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or get_origin(annotation) is ClassVar


def _process(cls, frozen: bool, slots: bool, order: bool):
    body = cls.__dict__
    annotations = body.get("__annotations__", {})
    field_list: list[Field] = []
    for name, annotation in annotations.items():
        if _is_classvar(annotation):
            continue
        value = body.get(name, _MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        if isinstance(f.default, (list, dict, set)):
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: use default_factory")
        f.name, f.type = name, annotation
        field_list.append(f)
    for name, value in body.items():
        if isinstance(value, Field) and name not in annotations:
            raise TypeError(f"{name!r} is a field but has no type annotation")

    names = tuple(f.name for f in field_list)
    compared = _getter([f.name for f in field_list if f.compare])
    added: dict[str, Any] = {}
    make_init = None if "__init__" in body else _init(cls, field_list, frozen, slots)
    if make_init is not None and not slots:
        added["__init__"] = make_init(cls)
    for name, fn in (("__repr__", _repr_fn(tuple(f.name for f in field_list if f.repr))), ("__eq__", _eq_fn(compared))):
        if name not in body:
            added[name] = fn
    class_hash = body.get("__hash__", _MISSING)
    if class_hash is _MISSING or (class_hash is None and "__eq__" in body):   # no hash of its own
        added["__hash__"] = _hash_fn(compared) if frozen else None
    if order:
        for name, op in (("__lt__", "<"), ("__le__", "<="), ("__gt__", ">"), ("__ge__", ">=")):
            if name in body:
                raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}. Consider using functools.total_ordering")
            added[name] = _order_fn(compared, op)
    final: list = []    # the class the methods belong to (a slots class is made anew below)
    if frozen:
        for name in ("__setattr__", "__delattr__"):
            if name in body:
                raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
        added["__setattr__"], added["__delattr__"] = _frozen_fns(frozenset(names), final)
        if slots:
            added["__getstate__"], added["__setstate__"] = _state_fns(names, final)
    for fn in added.values():
        if fn is not None:
            fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
    if "__match_args__" not in body:
        added["__match_args__"] = tuple(f.name for f in field_list if f.init)
    added["__record_fields__"] = tuple(field_list)
    # what replace() reads of the fields, named once
    added["__record_init__"] = tuple(f.name for f in field_list if f.init)
    added["__record_not_init__"] = tuple(f.name for f in field_list if not f.init)
    added["__dataclass_fields__"] = _LazyDataclass("__dataclass_fields__", frozen, order)
    added["__dataclass_params__"] = _LazyDataclass("__dataclass_params__", frozen, order)
    if not body.get("__doc__"):
        added["__doc__"] = _LazyDoc()

    if slots:
        # a class's slots are fixed when it is made: make it again with them, and without class-level defaults
        namespace = {k: v for k, v in body.items() if k not in ("__dict__", "__weakref__") and k not in names}
        namespace.update(added, __slots__=names)
        new = type(cls)(cls.__name__, cls.__bases__, namespace)
        new.__qualname__ = cls.__qualname__
        if make_init is not None:
            # made once the slots exist: a frozen record's __init__ sets them through their descriptors
            init = make_init(new)
            init.__qualname__ = f"{cls.__qualname__}.__init__"
            new.__init__ = init
    else:
        new = cls
        for f in field_list:
            # a class attribute holds a plain default, as in a dataclass; none is left for a default factory
            if f.default is _MISSING:
                if f.name in body:
                    delattr(cls, f.name)
            else:
                setattr(cls, f.name, f.default)
        for name, value in added.items():
            setattr(cls, name, value)
    final.append(new)
    return new


def _getter(names: list[str]):
    """A function giving the tuple of these attributes of an object (C speed, as the generated tuples were)."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names)


def _init(cls, field_list: list[Field], frozen: bool, slots: bool):
    """A function giving the class's ``__init__`` once the class that holds it is made (a slots class is made anew),
    compiled once: the signature stays the real one (for help() and editors).

    A frozen class's fields are set past its refusing ``__setattr__``: a slots class's through each slot's own
    descriptor (``__set__``, bound once: two and a half times as fast as ``object.__setattr__``, which looks the
    name up for every field of every instance), another's through ``object.__setattr__`` as dataclasses does."""
    env: dict[str, Any] = {"_HAS_FACTORY": _HAS_FACTORY, "_setattr": object.__setattr__}
    direct: list[str] = []     # the fields set through their slot's descriptor
    params, lines = ["self"], []
    for f in field_list:
        default_name = f"_dflt_{f.name}"
        if f.default_factory is not _MISSING:
            env[default_name] = f.default_factory
            if f.init:
                params.append(f"{f.name}=_HAS_FACTORY")
                value = f"{default_name}() if {f.name} is _HAS_FACTORY else {f.name}"
            else:
                value = f"{default_name}()"
        elif f.init:
            if f.default is not _MISSING:
                env[default_name] = f.default
                params.append(f"{f.name}={default_name}")
            elif any(p.partition("=")[2] for p in params[1:]):
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            else:
                params.append(f.name)
            value = f.name
        elif slots and f.default is not _MISSING:
            env[default_name] = f.default
            value = default_name
        else:
            continue    # read from the class attribute that holds the default
        if frozen and slots:
            env[f"_set_{f.name}"] = None          # the descriptor, bound when the class is made
            direct.append(f.name)
            lines.append(f"_set_{f.name}(self, {value})")
        else:
            lines.append(f"_setattr(self, {f.name!r}, {value})" if frozen else f"self.{f.name} = {value}")
    if "__post_init__" in cls.__dict__:
        lines.append("self.__post_init__()")
    # As dataclasses does: the function is made inside a factory whose arguments are the defaults and helpers,
    # executed in the class's module, so that its __module__ and __globals__ are the module's (type hints
    # written as strings resolve, as typing.get_type_hints and inspect.signature(eval_str=True) need).
    source = (f"def __create_fn__({', '.join(env)}):\n"
              f"    def __init__({', '.join(params)}):\n        " + ("\n        ".join(lines) or "pass") + "\n"
              "    return __init__\n")
    module = sys.modules.get(cls.__module__)
    local: dict[str, Any] = {}
    exec(_compiled(source), module.__dict__ if module is not None else {}, local)

    def make(klass):
        for name in direct:
            env[f"_set_{name}"] = klass.__dict__[name].__set__
        init = local["__create_fn__"](**env)
        init.__annotations__ = {**{f.name: f.type for f in field_list if f.init}, "return": None}
        return init

    return make


# The generated sources compiled once per machine, as ``.pyc`` files keep a module's compiled code: compiling the
# fifty ``__init__`` sources of a check is about a sixth of its start-up, reading them back a fiftieth of that.
# The file sits in this package's ``__pycache__`` beside the ``.pyc`` files, follows the same rule (nothing is
# written when ``sys.dont_write_bytecode`` is set, as ``PYTHONDONTWRITEBYTECODE`` sets it) and is keyed by the
# Python that compiled it (``sys.version``) and each source's full text, so it cannot hand out code for another
# source or another interpreter; a file that cannot be read is no cache, a folder that cannot be written keeps none.
# Its name holds the release (``sys.hexversion``) as well as the tag, so two patch releases of one Python sharing a
# source tree keep a file each instead of replacing each other's on every run.
_CODE_CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__",
                           f"records.{sys.implementation.cache_tag}.{sys.hexversion:x}.inits")
_CODE_LIMIT = 2000       # sources kept in the file; past it, only those of the last run that wrote it
_code: dict[str, Any] | None = None      # source -> code object, once the file has been read
_code_used: set[str] = set()             # the sources this run asked for
_code_new = False                        # whether this run compiled one the file did not hold


def _compiled(source: str):
    """The code object of a generated source: read from the compiled-code cache, or compiled (and then kept)."""
    global _code, _code_new
    if _code is None:
        _code = _read_code_cache(_CODE_CACHE)
    code = _code.get(source)
    if type(code) is not _CodeType:
        code = _code[source] = compile(source, "<string>", "exec")
        if not _code_new and not sys.dont_write_bytecode and sys.pycache_prefix is None:
            import atexit

            atexit.register(_write_code_cache, _CODE_CACHE)
        _code_new = True
    _code_used.add(source)
    return code


_CodeType = type(_compiled.__code__)


def _read_code_cache(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            found = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if type(found) is not tuple or len(found) != 2 or found[0] != sys.version or type(found[1]) is not dict:
        return {}
    return found[1]


def _write_code_cache(path: str) -> None:
    """Every source the file held and every one this run compiled; past the limit, only those this run used."""
    assert _code is not None
    kept = _code if len(_code) <= _CODE_LIMIT else {s: c for s, c in _code.items() if s in _code_used}
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as fh:
            fh.write(marshal.dumps((sys.version, kept)))
        os.replace(temporary, path)
    except (OSError, ValueError):
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _repr_fn(names: tuple[str, ...]):
    running: set = set()

    def __repr__(self):
        key = id(self)
        if key in running:
            return "..."
        running.add(key)
        try:
            inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        finally:
            running.discard(key)
        return f"{self.__class__.__qualname__}({inner})"

    return __repr__


def _eq_fn(compared):
    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    return __eq__


def _order_fn(compared, op: str):
    import operator

    compare = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

    def method(self, other):
        if other.__class__ is self.__class__:
            return compare(compared(self), compared(other))
        return NotImplemented

    return method


def _hash_fn(compared):
    def __hash__(self):
        return hash(compared(self))

    return __hash__


def _frozen_error(message: str):
    from dataclasses import FrozenInstanceError   # only when someone tries (imports dataclasses, not at start-up)

    return FrozenInstanceError(message)


def _frozen_fns(field_names: frozenset[str], final: list):
    """``final[0]``: the record class; an instance of it takes no new attribute either (a subclass's may)."""
    def __setattr__(self, name, value):
        if name in field_names or type(self) is final[0]:
            raise _frozen_error(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name in field_names or type(self) is final[0]:
            raise _frozen_error(f"cannot delete field {name!r}")
        object.__delattr__(self, name)

    return __setattr__, __delattr__


def _state_fns(names: tuple[str, ...], final: list):
    """Pickling of a frozen slots class (it has no __dict__, and its __setattr__ refuses), as dataclasses adds.

    The state is the instance's fields: the record's own, or, for a subclass (a plugin's dataclass that adds
    fields), every field dataclasses sees on it."""
    def state_names(self) -> tuple[str, ...]:
        if type(self) is final[0]:
            return names
        from dataclasses import fields as dataclass_fields

        return tuple(f.name for f in dataclass_fields(self))

    def __getstate__(self):
        return [getattr(self, name) for name in state_names(self)]

    def __setstate__(self, state):
        for name, value in zip(state_names(self), state):
            object.__setattr__(self, name, value)

    return __getstate__, __setstate__


class _LazyDataclass:
    """``__dataclass_fields__`` / ``__dataclass_params__``, made by :mod:`dataclasses` when first asked for.

    A twin of the record (same annotations, defaults and options) goes through ``dataclasses.dataclass``;
    its genuine ``Field`` objects are then cached on the record, so that every function of
    :mod:`dataclasses` sees the record as the dataclass it is.
    """

    def __init__(self, attr: str, frozen: bool, order: bool) -> None:
        self.attr, self.frozen, self.order = attr, frozen, order

    def __get__(self, obj, owner=None):
        import dataclasses

        owner = owner if owner is not None else type(obj)
        # a plain subclass inherits the record's fields: the twin is made for the record itself
        owner = next(c for c in owner.__mro__ if "__record_fields__" in c.__dict__)
        namespace: dict[str, Any] = {"__annotations__": dict(owner.__dict__.get("__annotations__", {})),
                                     "__module__": owner.__module__, "__qualname__": owner.__qualname__}
        for f in owner.__record_fields__:
            namespace[f.name] = dataclasses.field(default=f.default if f.default is not _MISSING else dataclasses.MISSING,
                                                  default_factory=(f.default_factory if f.default_factory is not _MISSING
                                                                   else dataclasses.MISSING),
                                                  init=f.init, repr=f.repr, compare=f.compare)
        for name, annotation in namespace["__annotations__"].items():
            if _is_classvar(annotation) and name in owner.__dict__:
                namespace[name] = owner.__dict__[name]
        twin = dataclasses.dataclass(frozen=self.frozen, order=self.order)(type(owner.__name__, (), namespace))
        owner.__dataclass_fields__ = twin.__dataclass_fields__
        owner.__dataclass_params__ = twin.__dataclass_params__
        return getattr(owner, self.attr)


class _LazyDoc:
    """The docstring dataclasses gives a class without one (its signature), computed when read."""

    def __get__(self, obj, owner=None):
        import inspect

        owner = owner if owner is not None else type(obj)
        try:
            text = str(inspect.signature(owner)).replace(" -> None", "")
        except (TypeError, ValueError):
            text = ""
        return owner.__name__ + text
