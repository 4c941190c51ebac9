"""The offset-keeping shell word splitter: values as bash computes them, spans into the text.

Values are checked against hand-derived bash semantics and, where bash is
installed, against bash itself (the script's words printed by bash are the
oracle). Spans are checked by slicing the text: a word's span is where it is
written, ``locate()`` the token a fix edits.
"""

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploylint.core.document import shell


def cmd(text, env=None, k=-1):
    script = shell.parse(text, env)
    commands = [c for c in script.commands if c.words]
    return commands[k]


def values(text, env=None, k=-1):
    return [w.value for w in cmd(text, env, k).words]


def located(text, word):
    sp = word.locate()
    return None if sp is None else text[sp.start:sp.end]


# ---------------------------------------------------------------- quoting and words


def test_plain_words_and_their_spans():
    text = "torchrun --nproc_per_node 8 pretrain_gpt.py --tensor-model-parallel-size 4\n"
    words = cmd(text).words
    assert [w.value for w in words] == ["torchrun", "--nproc_per_node", "8", "pretrain_gpt.py",
                                        "--tensor-model-parallel-size", "4"]
    assert [w.raw(text) for w in words] == [w.value for w in words]
    assert located(text, words[-1]) == "4"
    assert words[-1].span.start == text.index(" 4") + 1


def test_quotes_single_double_and_ansi_c():
    text = """run 'a b' "c $X d" $'e\\tf' "" 'g'"h"i\n"""
    words = cmd(text, {"X": "1"}).words
    assert [w.value for w in words] == ["run", "a b", "c 1 d", "e\tf", "", "ghi"]
    assert words[1].raw(text) == "'a b'"
    assert located(text, words[1]) == "a b"          # inside the quotes: the fix keeps them
    assert words[3].locate() is None                  # \t is not written verbatim
    assert words[4].value == ""                       # "" is an empty word, not nothing


def test_backslash_newline_continues_and_comments_are_skipped():
    text = "python train.py \\\n    --tp 2 \\\n    --pp 4  # pipeline\n--cp 2\n"
    commands = [c for c in shell.parse(text).commands if c.words]
    assert [w.value for w in commands[0].words] == ["python", "train.py", "--tp", "2", "--pp", "4"]
    assert [w.value for w in commands[1].words] == ["--cp", "2"]
    four = commands[0].words[5]
    assert text[four.span.start:four.span.end] == "4"


def test_a_comment_line_inside_a_continued_command_ends_it_and_is_noted():
    text = "python train.py \\\n  --tp 2 \\\n  # --pp 4 \\\n  --cp 2\n"
    script = shell.parse(text)
    commands = [c for c in script.commands if c.words]
    assert [w.value for w in commands[0].words] == ["python", "train.py", "--tp", "2"]
    assert [w.value for w in commands[1].words] == ["--cp", "2"]  # bash runs it as a separate command
    assert len(script.notes) == 1
    note = script.notes[0]
    assert text[note.span.start:note.span.end] == "# --pp 4 \\"
    assert "ends the command" in note.message


def test_backslash_space_at_line_end_is_noted():
    text = "python train.py --tp 2 \\ \n  --pp 4\n"
    script = shell.parse(text)
    assert any("backslash followed by a space" in n.message for n in script.notes)
    assert [w.value for w in cmd(text, k=0).words][-1] == " "


def test_separators_split_commands():
    text = "a 1; b 2 && c 3 || d 4 | e 5 & f 6\n"
    names = [c.name for c in shell.parse(text).commands if c.words]
    assert names == ["a", "b", "c", "d", "e", "f"]


def test_redirections_are_not_words():
    text = "python train.py --tp 2 > log.txt 2>&1 </dev/null &> all.log\n"
    assert values(text) == ["python", "train.py", "--tp", "2"]


def test_heredoc_body_is_not_read_as_commands():
    text = "cat <<EOF > cfg\n--tp 8\nEOF\npython t.py --tp 2\n"
    commands = [c for c in shell.parse(text).commands if c.words]
    assert [c.name for c in commands] == ["cat", "python"]


# ---------------------------------------------------------------- variables


def test_variables_from_the_script_keep_their_definition():
    text = "TP=4\npython t.py --tp $TP --pp ${PP:-2}\n"
    words = cmd(text).words
    tp, pp = words[3], words[5]
    assert (tp.value, pp.value) == ("4", "2")
    assert tp.raw(text) == "$TP"
    assert located(text, tp) == "4" and tp.locate().start == 3     # the definition TP=4
    (ref,) = tp.definitions
    assert ref.name == "TP" and text[ref.definition.start:ref.definition.end] == "TP=4"
    assert located(text, pp) == "2"                                 # the default of ${PP:-2}
    assert pp.refs[0].origin == "default"


def test_environment_and_unset_variables():
    text = "python t.py --nnodes ${SLURM_NNODES:-1} --rank $NODE_RANK\n"
    assert values(text, {"SLURM_NNODES": "4"})[3] == "4"
    assert values(text)[3] == "1"
    rank = cmd(text).words[5]
    assert rank.value is None and rank.unresolved == ("NODE_RANK (not set)",)
    env_word = cmd(text, {"SLURM_NNODES": "4"}).words[3]
    assert env_word.locate() is None and env_word.refs[0].origin == "environment"


@pytest.mark.parametrize("expr, env, expected", [
    ("${X:-d}", {"X": ""}, "d"), ("${X-d}", {"X": ""}, ""), ("${X:-d}", {}, "d"), ("${X-d}", {}, "d"),
    ("${X:+alt}", {"X": "v"}, "alt"), ("${X:+alt}", {"X": ""}, ""), ("${X+alt}", {"X": ""}, "alt"),
    ("${#X}", {"X": "hello"}, "5"), ("${X}", {"X": "v"}, "v"),
])
def test_parameter_operators(expr, env, expected):
    assert cmd(f'echo "{expr}"\n', env).words[1].value == expected


def test_assign_default_sets_the_variable():
    text = 'echo ${N:=3}\necho $N\n'
    commands = [c for c in shell.parse(text).commands if c.words]
    assert commands[0].words[1].value == "3" and commands[1].words[1].value == "3"


def test_export_declare_and_prefix_assignments():
    text = "export A=1 B=2\ndeclare -i C=3\nD=4 python t.py $A $B $C $D\n"
    assert values(text)[2:5] == ["1", "2", "3"]
    assert values(text)[5] is None        # D=4 applies to python's environment, not to $D
    last = cmd(text)
    assert [v.name for v in last.assignments] == ["D"]


def test_append_and_unset():
    text = "A=ab\nA+=cd\nB=1\nunset B\necho $A $B\n"
    words = cmd(text).words
    assert words[1].value == "abcd"
    assert words[2].value is None


def test_unquoted_expansion_is_split_and_each_word_points_into_the_definition():
    text = 'OPTS="--tp 2 --pp 4"\npython t.py $OPTS "$OPTS"\n'
    words = cmd(text).words
    assert [w.value for w in words] == ["python", "t.py", "--tp", "2", "--pp", "4", "--tp 2 --pp 4"]
    two = words[3]
    assert two.raw(text) == "2" and two.span.start == text.index("2")
    assert text[two.via.start:two.via.end] == "$OPTS"


def test_command_substitution_and_positional_are_unresolved_never_guessed():
    text = 'N=$(nproc)\npython t.py $N `hostname` $1 "${X%.*}"\n'
    words = cmd(text).words
    assert [w.unresolved for w in words[2:]] == [("$(…)",), ("`…`",), ("$1",), ("${X%.*}",)]
    assert shell.parse(text, args=["a"]).commands[-1].words[4].value == "a"


def test_variables_assigned_under_a_condition_are_unresolved_outside_it():
    text = ("if [ -n \"$BIG\" ]; then\n  TP=8\n  python t.py --tp $TP\nelse\n  TP=2\nfi\n"
            "python t.py --tp $TP\n")
    commands = [c for c in shell.parse(text).commands if c.words and c.name == "python"]
    inside, after = commands
    assert inside.conditional and inside.words[3].value == "8"
    assert not after.conditional
    assert after.words[3].value is None
    assert "under a condition" in after.words[3].unresolved[0]


def test_function_bodies_and_case_items_are_conditional():
    text = ("setup() {\n  TP=4\n}\ncase $X in\n  a) PP=2 ;;\n  *) PP=4 ;;\nesac\n"
            "python t.py $TP $PP\n")
    last = cmd(text)
    assert not last.conditional
    assert [w.value for w in last.words[2:]] == [None, None]


# ---------------------------------------------------------------- arithmetic


@pytest.mark.parametrize("expr, expected", [
    ("$((2+3*4))", "14"), ("$(( (2+3)*4 ))", "20"), ("$((7/2))", "3"), ("$((-7/2))", "-3"),
    ("$((-7%3))", "-1"), ("$((2**10))", "1024"), ("$((1<<4))", "16"), ("$((010))", "8"),
    ("$((0x10))", "16"), ("$((3>2 && 1))", "1"), ("$((5>3 ? 7 : 9))", "7"), ("$((N*G))", "32"),
    ("$(($N*$G))", "32"), ("$((M))", "32"),
])
def test_arithmetic(expr, expected):
    text = f"N=4\nG=8\nM=N*G\necho {expr}\n"
    assert cmd(text).words[1].value == expected


@pytest.mark.parametrize("expr, why", [
    ("$((1/0))", "division by zero"), ("$((U+1))", "U (not set)"), ("$((x=1))", "assigns"),
])
def test_arithmetic_that_cannot_be_evaluated(expr, why):
    word = cmd(f"echo {expr}\n").words[1]
    assert word.value is None and why in word.unresolved[0]


def test_arithmetic_names_point_at_their_text():
    text = "GPUS=8\nNODES=2\nWORLD=$((GPUS * NODES))\necho $WORLD\n"
    word = cmd(text).words[1]
    assert word.value == "16" and word.locate() is None
    names = {r.name: r for r in word.refs}
    assert text[names["GPUS"].span.start:names["GPUS"].span.end] == "GPUS"
    assert text[names["GPUS"].definition.start:names["GPUS"].definition.end] == "GPUS=8"


# ---------------------------------------------------------------- arrays


MEGATRON_SHAPE = """#!/bin/bash
GPUS_PER_NODE=8
NUM_NODES=${SLURM_NNODES:-"1"}
DISTRIBUTED_ARGS=(
    --nproc_per_node $GPUS_PER_NODE
    --nnodes $NUM_NODES   # nodes of the job
)
MODEL_ARGS=(
    # the architecture
    --num-layers 32
    --tensor-model-parallel-size=2
)
MODEL_ARGS+=(--seq-length 4096)
torchrun ${DISTRIBUTED_ARGS[@]} pretrain_gpt.py \\
    "${MODEL_ARGS[@]}" \\
    --micro-batch-size ${#MODEL_ARGS[@]}
"""


def test_arrays_spread_with_their_own_spans():
    text = MEGATRON_SHAPE
    words = cmd(text).words
    assert [w.value for w in words] == [
        "torchrun", "--nproc_per_node", "8", "--nnodes", "1", "pretrain_gpt.py", "--num-layers", "32",
        "--tensor-model-parallel-size=2", "--seq-length", "4096", "--micro-batch-size", "5"]
    layers = words[7]
    assert layers.raw(text) == "32" and text.count("32") == 1 and layers.span.start == text.index("32")
    assert text[layers.via.start:layers.via.end] == '${MODEL_ARGS[@]}'
    nodes = words[4]
    assert nodes.raw(text) == "$NUM_NODES" and located(text, nodes) == "1"
    tp = words[8]
    assert text[tp.locate(len("--tensor-model-parallel-size=")).start:][:1] == "2"
    assert [r.name for r in nodes.refs][:2] == ["DISTRIBUTED_ARGS", "NUM_NODES"]


def test_array_index_and_empty_spread():
    text = 'A=(x "y z")\nE=()\necho "${A[1]}" "${E[@]}" ${A[0]} $A\n'
    assert values(text) == ["echo", "y z", "x", "x"]


# ---------------------------------------------------------------- properties


_literal = st.text(alphabet="abcXYZ019-_=./:,", min_size=1, max_size=8)
_quoted = st.one_of(_literal, _literal.map(lambda s: f"'{s} {s}'"), _literal.map(lambda s: f'"{s}"'),
                    _literal.map(lambda s: s + "\\ x"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_quoted, min_size=1, max_size=6), min_size=1, max_size=4),
       st.sampled_from([" ", "  ", " \\\n  ", "\t"]), st.sampled_from(["\n", "; ", " && "]))
def test_every_literal_word_slices_the_text_to_its_raw_form(lines, gap, sep):
    text = sep.join(gap.join(["run"] + words) for words in lines) + "\n"
    script = shell.parse(text)
    commands = [c for c in script.commands if c.words]
    assert len(commands) == len(lines)
    for command, written in zip(commands, lines):
        got = [w.raw(text) for w in command.words[1:]]
        assert got == written
        for w in command.words:
            assert w.value is not None and w.via is None
            for k, sp in enumerate(w.chars):
                if sp is not None:
                    assert text[sp.start:sp.end] == w.value[k]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" \t\n\\'\"$`(){}[]#;&|<>=+-*/%:?!~@abcXY019", max_size=60))
def test_any_text_is_read_without_an_exception(text):
    script = shell.parse(text, {"X": "1 2"})
    for command in script.commands:
        for w in command.words:
            assert w.value is not None or w.unresolved
            assert 0 <= w.span.start <= w.span.end <= len(text)


BASH = shutil.which("bash") or "/bin/bash"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([
    "A=1", "A=x", 'B="p q"', "C=$((A+2))", "N=3", "L=(u 'v w' $B)", "L+=(z)", "E=", "D=${E:-dd}",
    "F=${A:+set}", "G=${U-ud}", "H=pre${A}post",
]), min_size=1, max_size=6), st.lists(st.sampled_from([
    "$A", '"$B"', "$B", "${#B}", "$((N*2))", "${L[@]}", '"${L[@]}"', "${L[1]}", '"$E"', "$E", "$D",
    "$F", "$G", "$H", "'lit $A'", "x\\ y", '"a\\$b"', "${N:-7}", "$((N<<2))",
]), min_size=1, max_size=6))
def test_values_agree_with_bash(assignments, words):
    # only words that resolve without the arithmetic's own error cases
    text = "\n".join(assignments) + "\nprintf '%s\\0' START " + " ".join(words) + "\n"
    ours = [w for c in shell.parse(text).commands if c.name == "printf" for w in c.words][3:]
    if any(w.value is None for w in ours):
        return  # something unresolved (e.g. $((x+2)) of a non-number): not compared
    out = subprocess.run([BASH, "--norc", "--noprofile", "-c", text], capture_output=True, env={})
    theirs = out.stdout.decode().split("\0")[1:-1]
    assert [w.value for w in ours] == theirs


def test_words_appended_to_an_array_under_a_condition_are_marked_and_the_rest_stays_known():
    text = ('ARGS=(--eval-iters 10)\nif [ -n "$KEY" ]; then\n  ARGS+=(--wandb-project p)\nfi\n'
            'python t.py "${ARGS[@]}"\n')
    words = cmd(text).words
    assert [(w.value, w.conditional) for w in words[2:]] == [
        ("--eval-iters", False), ("10", False), ("--wandb-project", True), ("p", True)]


def test_conditionally_appended_elements_stay_marked_when_an_unquoted_spread_splits_them():
    text = 'ARGS=()\nif [ -n "$X" ]; then\n  ARGS+=("--vocab-size 128256")\nfi\npython t.py ${ARGS[@]}\n'
    words = cmd(text).words
    assert [(w.value, w.conditional) for w in words[2:]] == [("--vocab-size", True), ("128256", True)]


# ---------------------------------------------------------------- scripts run by another shell


HEREDOC_JOB = """#!/bin/bash
export MBS=2
GBS=64
sbatch <<EOF
#!/bin/bash
#SBATCH --nodes=2
srun python pretrain_gpt.py --micro-batch-size ${MBS} --global-batch-size $GBS
EOF
echo submitted
"""


def test_an_unquoted_heredoc_fed_to_sbatch_is_read_with_this_scripts_variables():
    script = shell.parse(HEREDOC_JOB)
    launch = next(c for c in script.commands if c.name == "srun")
    assert [w.value for w in launch.words] == ["srun", "python", "pretrain_gpt.py", "--micro-batch-size", "2",
                                               "--global-batch-size", "64"]
    mbs, gbs = launch.words[4], launch.words[6]
    assert mbs.raw(HEREDOC_JOB) == "${MBS}" and located(HEREDOC_JOB, mbs) == "2"       # the 2 of MBS=2
    assert HEREDOC_JOB[mbs.locate().start - 4:mbs.locate().end] == "MBS=2"
    assert located(HEREDOC_JOB, gbs) == "64"
    assert launch.parent is not None and launch.parent.name == "sbatch"
    # the body is not this script's: the command after the delimiter is, and the body's lines are no commands here
    assert [c.name for c in script.commands if c.words][-1] == "echo"
    assert not any(c.name == "EOF" for c in script.commands)


def test_a_quoted_heredoc_sees_only_the_exported_variables():
    text = HEREDOC_JOB.replace("<<EOF", "<<'EOF'")
    launch = next(c for c in shell.parse(text).commands if c.name == "srun")
    assert launch.words[4].value == "2"                 # MBS is exported: the job's environment has it
    assert launch.words[6].value is None and "GBS (not set)" in launch.words[6].unresolved


def test_a_heredoc_read_by_a_program_that_is_not_a_shell_is_not_a_script():
    text = "cat > job.yaml <<EOF\ncommand: python pretrain_gpt.py --tp 2\nEOF\nls\n"
    script = shell.parse(text)
    assert [c.name for c in script.commands if c.words] == ["cat", "ls"]


def test_an_unclosed_heredoc_is_a_note_not_a_failure():
    script = shell.parse("bash <<EOF\npython pretrain_gpt.py --tp 2\n")
    assert any("never closed" in n.message for n in script.notes)
    assert any(c.name == "python" for c in script.commands)


def test_a_heredoc_gives_its_lines_as_the_program_reads_them_at_their_spans():
    # <<- strips leading tabs (of the delimiter line too); an unquoted body has the script's variables expanded
    text = "N=2\r\nsbatch <<-EOF\r\n\t#SBATCH --nodes=${N}\r\n\t\t#SBATCH -t $(date)\r\n\tsrun x \\$N\r\n\tEOF\r\necho\r\n"
    script = shell.parse(text)
    (heredoc,) = script.heredocs
    assert (heredoc.command.name, heredoc.delimiter, heredoc.strip_tabs, heredoc.quoted) == ("sbatch", "EOF", True,
                                                                                          False)
    nodes, time, srun = heredoc.lines
    assert nodes.value == "#SBATCH --nodes=2" and nodes.raw(text) == "#SBATCH --nodes=${N}"   # no tab, no \r
    assert located(text, nodes) is None and text[nodes.locate(16).start:nodes.locate(16).end] == "2"   # N=2's 2
    assert [r.name for r in nodes.definitions] == ["N"]
    assert time.value is None and time.raw(text) == "#SBATCH -t $(date)"      # both tabs stripped; not known
    assert srun.value == "srun x $N"                                          # \$ is a literal $ in a heredoc
    assert [c.name for c in script.commands if c.words][-1] == "echo"
    # a quoted delimiter delivers each line as written; <<EOF keeps tabs
    quoted = shell.parse("cat <<'X'\n#SBATCH -N $N\nX\n").heredocs[0]
    assert quoted.quoted and [w.value for w in quoted.lines] == ["#SBATCH -N $N"]
    kept = shell.parse("N=3\ncat <<X\n\t-N $N\nX\n").heredocs[0]
    assert [w.value for w in kept.lines] == ["\t-N 3"]


def test_heredocs_inside_text_another_shell_runs_are_listed_too():
    text = "bash <<'OUT'\nsbatch <<EOF\n#SBATCH --nodes=4\nEOF\nOUT\n"
    heredocs = shell.parse(text).heredocs
    assert sorted(h.delimiter for h in heredocs) == ["EOF", "OUT"]
    inner = next(h for h in heredocs if h.delimiter == "EOF")
    assert inner.command.name == "sbatch" and [w.value for w in inner.lines] == ["#SBATCH --nodes=4"]


def test_bash_dash_c_runs_its_string_where_it_is_written():
    text = 'TP=4\nsrun bash -x -c "cd /w; python pretrain_gpt.py --tp $TP"\n'
    script = shell.parse(text)
    inner = next(c for c in script.commands if c.name == "python")
    assert [w.value for w in inner.words] == ["python", "pretrain_gpt.py", "--tp", "4"]
    assert located(text, inner.words[3]) == "4" and text[inner.words[3].span.start:inner.words[3].span.end] == "$TP"
    assert inner.parent.name == "srun"
    # through a variable holding the command, and its array of flags spread inside it
    text = ('ARGS=(\n    --num-layers 8\n    --tp ${TP:-2}\n)\n'
            'CMD="\ncd /w;\n${PROFILE} python pretrain_gpt.py ${ARGS[@]}"\n'
            'if [ -n "$X" ]; then PROFILE="nsys profile"; else PROFILE=""; fi\n'
            'srun bash -c "${CMD}"\n')
    inner = next(c for c in shell.parse(text).commands if any(w.value == "pretrain_gpt.py" for w in c.words))
    values = [w.value for w in inner.words]
    assert values[0] is None and "under a condition" in inner.words[0].unresolved[0]   # ${PROFILE}: unknown
    assert values[1:] == ["python", "pretrain_gpt.py", "--num-layers", "8", "--tp", "2"]
    assert located(text, inner.words[4]) == "8" and located(text, inner.words[6]) == "2"
    assert text[inner.words[6].locate().start - 6:inner.words[6].locate().end] == "${TP:-2"
    # single quotes: the other shell expands it, with the exported variables only
    inner = next(c for c in shell.parse("TP=4\nbash -c 'python pretrain_gpt.py --tp $TP'\n").commands
                 if c.name == "python")
    assert inner.words[3].value is None


def test_an_array_reassigned_with_itself_under_a_condition_keeps_its_words():
    text = 'A=(--x 1)\nif [ -n "$F" ]; then\n    A=("${A[@]}" --y 2)\nfi\npython t.py "${A[@]}"\n'
    words = cmd(text).words
    assert [(w.value, w.conditional) for w in words[2:]] == [("--x", False), ("1", False), ("--y", True),
                                                            ("2", True)]
    assert located(text, words[3]) == "1"


def test_a_script_past_the_bound_is_one_dl001_at_the_file_not_minutes_of_reading(tmp_path):
    # a generated script of a million characters that does hold a serving command: said, not read
    from deploylint.core.document.shell import MAX_SCRIPT_CHARS
    from deploylint.core.host.registry import Registry
    from deploylint.core.pipeline.config import Config
    from deploylint.core.pipeline.engine import Engine

    body = "echo step\n" * (MAX_SCRIPT_CHARS // 10 + 1)
    text = "#!/bin/bash\n" + body + "vllm serve meta-llama/Llama-3.1-8B-Instruct --tensor-parallel-size 3\n"
    result = Engine(Registry().load(autoload=True), Config()).check_text(str(tmp_path / "serve.sh"), text)
    (d,) = result.diagnostics
    assert d.code == "DL001" and f"more than the {MAX_SCRIPT_CHARS:,} deploylint reads" in d.message
    # within the bound the same command is read and judged (tp=3 does not divide Llama-3.1-8B's 32 heads)
    small = "#!/bin/bash\n" + "echo step\n" * 100 + "vllm serve meta-llama/Llama-3.1-8B-Instruct --tensor-parallel-size 3\n"
    codes = {d.code for d in Engine(Registry().load(autoload=True), Config()).check_text(str(tmp_path / "s.sh"), small).diagnostics}
    assert "PAR402" in codes and "DL001" not in codes
