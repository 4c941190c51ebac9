"""The plain ``deploylint check FILE...`` read without argparse, and answered again from its last output.

A pre-commit hook or an editor's save runs the same command on the same
files again and again. Two things here keep such a run near the cost of the
interpreter's own start:

* :func:`plain_check` reads the common command line — ``check`` followed by
  paths, with at most ``--format F``, ``--no-cache`` and ``-q``/``--quiet`` —
  into the same options argparse would give (a test holds the two together);
  anything else returns None and goes to argparse, which then gives its usual
  help and errors.
* :func:`key` hashes every input such a run can depend on, read as bytes and
  never parsed: the command line and the working folder, the bytes of each
  file, of every ``deploylint.toml`` and ``pyproject.toml`` from the file's
  folder up to the root (whether or not it has a ``[tool.deploylint]``
  table), deploylint's version, the built-in sources of a checkout, the
  Python and its ``sys.path`` with every installed distribution's metadata
  and change time (:mod:`deploylint.core.pipeline.cache_inputs`: a plugin or
  library installed, upgraded or removed changes it) and its flags, whether
  stdout and stderr are terminals and their encodings, and the environment
  variables deploylint, Python's text output or the colours read. The output (stdout) and exit code of a run
  are stored under that key, and the next run with the same key writes them
  again without loading any configuration, plugin or plan.

A run is stored only when its output depends on nothing else: every file's
result was found in or stored into the result cache (:mod:`.cache`: no
``[model] from``/``id``, no source adapter, no DL005), every plugin is one of
deploylint's own (a third-party plugin's code can change under the same
version), no configuration names plugins, the files were checked in this
process, and nothing was written to stderr. Entries are files under the
cache folder, written to a temporary name and renamed into place; an entry
that does not hold its own key is a miss.
"""

from __future__ import annotations

import os
import sys

from .. import __version__
from ..pipeline.cache_inputs import blake2b, cache_dir, installed, sources, write_entry

#: the layout of an entry; a new one makes every old entry a miss
FORMAT = 1
FORMATS = ("text", "json", "sarif", "github")
CONFIG_FILES = ("deploylint.toml", "pyproject.toml")    # as pipeline/config.py names them (a test holds the two)
#: environment variables a check or its output reads (beyond sys.path, which the key holds)
ENVIRONMENT = ("NO_COLOR", "TERM", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES",
               "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONPATH", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")
_ENVIRONMENT_PREFIXES = ("DEPLOYLINT_", "HF_", "HUGGINGFACE_")
#: larger files are checked, never replayed (the check refuses a plan above its size limit unread)
MAX_BYTES = 16 << 20

#: the options of ``deploylint check`` as argparse gives them when none is on the command line
CHECK_DEFAULTS = {
    "version": False, "command": "check", "paths": ["."], "format": "text", "select": None, "extend_select": [],
    "ignore": [], "fail_on": None, "config": None, "plugin": [], "no_plugin_autoload": False,
    "allow_local_plugins": False, "fix": False, "unsafe_fixes": False, "diff": False, "no_fixes": False,
    "rule_timeout": None, "quiet": False, "no_cache": False, "jobs": None, "accelerator": None, "num_devices": None,
    "devices_per_node": None,
}
_FLAGS = {"--no-cache": "no_cache", "-q": "quiet", "--quiet": "quiet"}


class CheckArgs:
    """The options of one ``check`` (the attributes argparse's namespace would have)."""

    def __init__(self, **options) -> None:
        self.__dict__.update(options)


def plain_check(argv: list[str]) -> CheckArgs | None:
    """The options of ``check PATH... [--format F] [--no-cache] [-q]``, or None for any other command line."""
    if not argv or argv[0] != "check":
        return None
    options = dict(CHECK_DEFAULTS)
    paths: list[str] = []
    ended = False                      # argparse takes the paths as one run: a path after an option is an error
    i = 1
    while i < len(argv):
        word = argv[i]
        if word.startswith("-"):
            if paths:
                ended = True
            if word in _FLAGS:
                options[_FLAGS[word]] = True
            elif word == "--format" and i + 1 < len(argv) and argv[i + 1] in FORMATS:
                options["format"] = argv[i + 1]
                i += 1
            elif word.startswith("--format=") and word[len("--format="):] in FORMATS:
                options["format"] = word[len("--format="):]
            else:
                return None            # any other option (or an abbreviation, or a bad value): argparse's to read
        elif ended:
            return None
        else:
            paths.append(word)
        i += 1
    if paths:
        options["paths"] = paths
    return CheckArgs(**options)


def wanted(args: CheckArgs) -> bool:
    """Whether this run may be answered from (and stored as) an earlier run's output."""
    if args.no_cache or not all(os.path.isfile(p) and os.path.basename(p) not in CONFIG_FILES for p in args.paths):
        return False
    # a progress line is drawn on a terminal's stderr for more than one file: a replay would not draw it
    return args.quiet or len(args.paths) < 2 or not _isatty(sys.stderr)


def key(argv: list[str], args: CheckArgs) -> str | None:
    """The hash of everything the run can depend on (see the module's docstring), or None: a file not readable."""
    h = blake2b(digest_size=32)

    def part(value) -> None:
        data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
        h.update(b"%d:" % len(data))
        h.update(data)

    streams = [(_isatty(s), getattr(s, "encoding", None), getattr(s, "errors", None)) for s in (sys.stdout, sys.stderr)]
    for value in ("deploylint replay", FORMAT, __version__, sources(), sys.version, sys.executable, repr(sys.flags),
                  repr(sys.path), repr(installed()), os.getcwd(), repr(argv), repr(streams)):
        part(value)
    for name in sorted(os.environ):
        if name in ENVIRONMENT or name.startswith(_ENVIRONMENT_PREFIXES):
            part(name)
            part(os.environ[name])
    folders: dict[str, None] = {}
    for path in args.paths:
        full = os.path.abspath(path)
        try:
            if os.path.getsize(full) > MAX_BYTES:
                return None
            with open(full, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        part(full)
        part(data)
        folders[os.path.dirname(full)] = None
    seen: set[str] = set()
    for folder in folders:
        while folder not in seen:
            seen.add(folder)
            for name in CONFIG_FILES:
                candidate = os.path.join(folder, name)
                part(candidate)
                try:
                    with open(candidate, "rb") as fh:
                        part(fh.read())
                except OSError as exc:             # none there (or a folder of that name, or unreadable)
                    part(f"<{exc.errno}>")
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    return h.hexdigest()


def _file(k: str) -> str:
    return os.path.join(cache_dir(), "replay", f"v{FORMAT}", k[:2], k[2:])


def get(k: str) -> tuple[int, str] | None:
    """The exit code and output stored under ``k``, or None."""
    try:
        with open(_file(k), "rb") as fh:
            head, _, body = fh.read().partition(b"\n")
        stored, code = head.decode("ascii").split(" ")
        if stored != k:
            return None
        return int(code), body.decode("utf-8", "surrogatepass")
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def put(k: str, code: int, output: str) -> None:
    """Store a run's exit code and output under ``k`` (a full disk or a read-only folder: nothing is stored)."""
    try:
        payload = f"{k} {int(code)}\n".encode("ascii") + output.encode("utf-8", "surrogatepass")
    except UnicodeEncodeError:
        return
    write_entry(_file(k), payload)


class Tee:
    """A stream that keeps what is written to it and passes it on."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return self.stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
