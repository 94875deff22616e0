"""The safe shell interpreter: parsing, connectors, set -e, expansion, redirections, nested shells."""

from __future__ import annotations

import pytest

from sandbox.runtimes.shell import (
    Invocation,
    LineLog,
    Output,
    Shell,
    ShellSyntaxError,
    parse,
    simple_commands,
)


class Recorder:
    """A handler for external programs: records argv/env; `fail [N]` exits N; `emit TEXT` prints."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.envs: list[dict[str, str]] = []

    def __call__(self, call: Invocation) -> int:
        self.calls.append(call.argv)
        self.envs.append(call.env)
        if call.program == "fail":
            call.err.line(f"fail: {' '.join(call.argv[1:])}")
            return int(call.argv[1]) if len(call.argv) > 1 and call.argv[1].isdigit() else 1
        if call.program == "emit":
            call.out.line(" ".join(call.argv[1:]))
        return 0


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, list[str], Recorder, Shell]:
    lines: list[str] = []
    log = LineLog(lines.append)
    recorder = Recorder()
    shell = Shell(recorder)
    status = shell.run_invocation(argv, env or {}, Output(log.write), Output(log.write))
    log.flush()
    return status, lines, recorder, shell


def script(
    text: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, list[str], Recorder, Shell]:
    return run(["/bin/bash", "-c", text, *extra], env)


def test_parse_lists_simple_commands_with_their_connectors():
    parsed = parse("set -e\n# a comment\na x && b 'y z' || c\nd | e; f \\\n  --flag\n")
    listed = [(connector, command.source()) for connector, command in simple_commands(parsed)]
    assert listed == [
        (";", "set -e"),
        (";", "a x"),
        ("&&", "b y z"),
        ("||", "c"),
        (";", "d"),
        ("|", "e"),
        (";", "f --flag"),
    ]


def test_and_or_run_the_right_side_only_when_they_should():
    status, lines, _recorder, _ = script(
        "fail && echo no; fail || echo yes; true && echo also; true || echo never"
    )
    assert lines == ["fail: ", "fail: ", "yes", "also"]
    assert status == 0


def test_set_e_stops_at_the_first_failure_but_not_inside_and_or_lists():
    status, lines, _, _ = script("set -e\nfail 3 && echo skipped\necho after-list\nfail 4\necho unreachable")
    assert lines == ["fail: 3", "after-list", "fail: 4"]
    assert status == 4


def test_bash_dash_e_and_combined_flags_enable_errexit():
    for argv in (["bash", "-e", "-c", "fail 5; echo no"], ["bash", "-ec", "fail 5; echo no"]):
        status, lines, _, _ = run(argv)
        assert (status, lines) == (5, ["fail: 5"])
    status, lines, _, _ = run(["bash", "-c", "fail 5; echo yes"])
    assert (status, lines) == (0, ["fail: 5", "yes"])


def test_if_tests_and_negation_do_not_trigger_errexit():
    status, lines, _, _ = script("set -e\nif fail; then echo then; else echo else; fi\n! true\necho end")
    assert (status, lines) == (0, ["fail: ", "else", "end"])


def test_stderr_to_dev_null_hides_error_lines_only():
    _status, lines, _, _ = script("fail 2>/dev/null || echo recovered; emit shown 2>/dev/null")
    assert lines == ["recovered", "shown"]


def test_echo_expands_variables_and_keeps_quotes_apart():
    env = {"NAME": "tts", "EMPTY": ""}
    _status, lines, _, _ = script(
        'echo "hi $NAME" \'${NAME}\' ${NAME}-x "${EMPTY:-dflt}" ${UNSET-none}; echo -n part; echo rest',
        env=env,
    )
    assert lines == ["hi tts ${NAME} tts-x dflt none", "partrest"]


def test_positional_parameters_and_quoted_at_keep_words_intact():
    _status, lines, recorder, _ = script('echo "$0 has $# args: $*"; run "$@"', "entry", "--a", "b c")
    assert lines == ["entry has 2 args: --a b c"]
    assert recorder.calls == [["run", "--a", "b c"]]


def test_exec_replaces_the_shell_and_ends_the_script_with_its_status():
    status, lines, _recorder, _ = script("exec fail 7\necho never")
    assert (status, lines) == (7, ["fail: 7"])


def test_export_and_assignments_reach_later_commands_and_their_environment():
    _status, lines, recorder, _ = script("X=1\nexport Y=2\nZ=3 prog\necho $X$Y")
    assert lines == ["12"]
    assert recorder.envs[0].get("Z") == "3" and recorder.envs[0].get("Y") == "2"
    assert "X" not in recorder.envs[0]  # not exported


def test_bootstrap_from_env_runs_through_nested_bash_dash_c_with_its_own_errexit():
    entry = 'set -e\nif [ -n "${BOOTSTRAP:-}" ]; then\n  bash -e -c "${BOOTSTRAP}"\nfi\necho served'
    status, lines, _, _ = script(entry, env={"BOOTSTRAP": "echo one\nfail 9\necho two"})
    assert (status, lines) == (9, ["one", "fail: 9"])
    status, lines, _, _ = script(entry, env={"BOOTSTRAP": ""})
    assert (status, lines) == (0, ["served"])


def test_eval_runs_the_bootstrap_in_the_current_shell():
    _status, lines, _, _ = script(
        'set -e\neval "$BOOTSTRAP"\necho $FROM_BOOTSTRAP', env={"BOOTSTRAP": "FROM_BOOTSTRAP=ok"}
    )
    assert lines == ["ok"]


def test_unquoted_expansion_is_split_into_words_never_reparsed():
    _status, lines, recorder, _ = script("$BOOTSTRAP && echo next", env={"BOOTSTRAP": "prog a  b; c"})
    assert recorder.calls == [["prog", "a", "b;", "c"]]
    assert lines == ["next"]


def test_pipes_grep_and_redirections_build_files():
    text = (
        "emit 'torch==2.9.0 numpy==2 Vllm==0.14.0' | tr ' ' '\\n' > /dev/null\n"
        "printf 'torch==2.9.0\\nnumpy==2.2.6\\nvllm==0.14.0\\n' | grep -iE '^(torch|VLLM)==' > /tmp/c.txt\n"
        'echo "transformers<5" >> /tmp/c.txt\n'
        "cat /tmp/c.txt | grep -c ==\n"
        "grep -q nothing /tmp/c.txt || echo no-match\n"
    )
    _status, lines, _, shell = script(text)
    assert shell.fs.read("/tmp/c.txt") == "torch==2.9.0\nvllm==0.14.0\ntransformers<5\n"
    assert lines == ["2", "no-match"]


def test_here_document_writes_expanded_text():
    _status, lines, _, shell = script(
        "V=2.9.0\ncat > /tmp/c.txt <<EOF\ntorch==$V\nEOF\ncat <<'RAW'\n$V\nRAW\n"
    )
    assert shell.fs.read("/tmp/c.txt") == "torch==2.9.0\n"
    assert lines == ["$V"]


def test_for_loops_command_substitution_and_test_operators():
    text = 'for p in a "b c"; do echo "<$p>"; done\nN=$(emit 3)\n'
    text += '[ "$N" -gt 2 ] && echo big\n[ -d /tmp ] && echo dir'
    _status, lines, _, _ = script(text)
    assert lines == ["<a>", "<b c>", "big", "dir"]


def test_set_u_and_parameter_errors_end_the_shell():
    status, lines, _, _ = script("set -u\necho ${MISSING}\necho never")
    assert status == 1 and "MISSING: unbound variable" in lines[0]


def test_syntax_errors_and_unsupported_constructs_exit_2_with_a_message():
    status, lines, _, _ = script("echo 'unterminated")
    assert status == 2 and "unexpected EOF" in lines[0]
    status, lines, _, _ = script("while true; do echo; done")
    assert status == 2 and "not supported" in lines[0]
    with pytest.raises(ShellSyntaxError):
        parse("a && && b")


def test_direct_program_invocation_reaches_the_handler():
    status, _lines, recorder, _ = run(["vllm", "serve", "/models/x", "--port", "8006"])
    assert recorder.calls == [["vllm", "serve", "/models/x", "--port", "8006"]]
    assert status == 0


def test_unknown_commands_succeed_silently_with_the_default_handler():
    shell = Shell()
    lines: list[str] = []
    status = shell.run_invocation(
        ["sh", "-c", "set -e; mkdir -p /tmp/x; cd /tmp/x; nvidia-smi; ls; echo done"],
        {},
        Output(lines.append),
        Output(lines.append),
    )
    assert status == 0 and lines == ["done\n"]
    assert shell.fs.is_directory("/tmp/x")


def run_on_path(argv: list[str], present: set[str]) -> tuple[int, list[str], Recorder]:
    """As ``run``, with only ``present`` on PATH (the image's command table)."""
    lines: list[str] = []
    log = LineLog(lines.append)
    recorder = Recorder()
    shell = Shell(recorder, on_path=lambda program: program.rsplit("/", 1)[-1] in present)
    status = shell.run_invocation(argv, {}, Output(log.write), Output(log.write))
    log.flush()
    return status, lines, recorder


@pytest.mark.parametrize(
    ("argv", "status", "lines"),
    [
        (["bash", "-e", "-c", "echo a\ngit clone x\necho b"], 127, ["a", "bash: git: command not found"]),
        (["bash", "-c", "git clone x || echo tolerated"], 0, ["bash: git: command not found", "tolerated"]),
        (["/bin/bash", "-c", "true\ngit x", "entry"], 127, ["entry: line 2: git: command not found"]),
        (["sh", "-c", "true\ngit x"], 127, ["sh: 2: git: not found"]),
        (["bash", "-c", "zsh -c true"], 127, ["bash: zsh: command not found"]),
        (["git", "x"], 128, ['exec: "git": executable file not found in $PATH']),
    ],
)
def test_a_program_not_on_path_is_command_not_found(argv, status, lines):
    result, output, recorder = run_on_path(argv, {"bash", "sh", "true", "echo"})
    assert (result, output) == (status, lines)
    assert recorder.calls == []


def test_command_v_reports_what_is_on_path():
    status, lines, _ = run_on_path(
        ["bash", "-c", "command -v curl; command -v git || echo none"], {"bash", "curl"}
    )
    assert (status, lines) == (0, ["/usr/bin/curl", "none"])
