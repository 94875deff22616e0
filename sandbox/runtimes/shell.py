"""A small, safe interpreter for the shell text of a container (nothing is ever executed).

A container's ``command + args`` form one invocation: ``["/bin/bash", "-c", script, "$0", "$1"...]``,
``["sh", "-ec", script]``, or a program run directly (``["vllm", "serve", ...]``). ``parse`` turns
a script into a tree of and-or lists of pipelines of simple commands (``simple_commands`` flattens it
into ``(connector, command)`` pairs), and ``Shell`` walks the tree with bash's semantics for ``&&``,
``||``, ``!``, ``set -e`` (errexit is ignored in ``if`` tests and all but the last member of an and-or
list), ``exit``, ``exec``, ``eval`` and nested ``bash -c``. Words are expanded when their command
runs (so ``export`` affects later lines): ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and friends,
``"$@"``/``$*``/``$0``..``$9``/``$#``/``$?``, ``$(...)`` and backquotes, with field splitting of
unquoted expansions as bash does (an unquoted ``$BOOTSTRAP`` is split into words, never re-parsed).

Builtins cover what bootstrap scripts use to move text around: ``echo``, ``printf``, ``test``/``[``,
``cat``, ``grep``, ``tee``, ``mkdir``, ``touch``, ``rm``, ``cd``, ``sleep``, redirections to a
virtual file system (``>``, ``>>``, ``<``, ``2>/dev/null``, ``2>&1``, ``&>``, here-documents) and
pipes. Every other program goes to the runtime's handler; the default handler succeeds silently.
A shell given ``on_path`` (the image's commands) first checks that a program exists: one that does not
gets bash's ``bash: NAME: command not found`` (dash's ``sh: LINE: NAME: not found``) and status 127.

Supported compound commands: ``if/elif/else/fi`` and ``for NAME [in WORDS]; do ...; done``.
``while``/``until``/``case``/functions/``( )``/``{ }`` and arithmetic are reported as unsupported
(exit status 2, like a syntax error), never guessed at.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------
# Errors and control flow
# ---------------------------------------------------------------------------------------------


class ShellSyntaxError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class Interrupted(Exception):
    """Raised by a command (or ``sleep``) when the container is being killed: unwinds everything."""


class _Exit(Exception):
    """``exit``, ``exec`` or errexit: leave the current shell (or subshell) with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


# ---------------------------------------------------------------------------------------------
# Syntax tree
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    text: str
    quoted: bool


@dataclass(frozen=True)
class Parameter:
    name: str  # a variable name, a digit, or one of @ * # ? $ !
    quoted: bool
    operator: str = ""  # "", ":-", "-", ":=", "=", ":+", "+", ":?", "?", or "#" (length)
    argument: Word | None = None


@dataclass(frozen=True)
class CommandSubstitution:
    script: str
    quoted: bool
    line: int


Part = Literal | Parameter | CommandSubstitution


@dataclass(frozen=True)
class Word:
    parts: tuple[Part, ...]

    def plain_text(self) -> str | None:
        """The word's text if it is made only of unquoted literal characters (a reserved word)."""
        if all(isinstance(p, Literal) and not p.quoted for p in self.parts):
            return "".join(p.text for p in self.parts)  # type: ignore[union-attr]
        return None

    def source(self) -> str:
        """A readable rendering, for messages and ``simple_commands`` listings."""
        out = []
        for part in self.parts:
            if isinstance(part, Literal):
                out.append(part.text)
            elif isinstance(part, Parameter):
                out.append(f"${{{part.name}}}")
            else:
                out.append(f"$({part.script})")
        return "".join(out)


@dataclass(frozen=True)
class Redirect:
    fd: int  # the descriptor redirected: 0 stdin, 1 stdout, 2 stderr, -1 both (&>)
    operator: str  # ">", ">>", "<", ">&", "<<"
    target: Word  # file name, descriptor number for ">&", or the here-document text for "<<"
    expand_heredoc: bool = True


@dataclass(frozen=True)
class SimpleCommand:
    assignments: tuple[tuple[str, Word], ...]
    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...]
    line: int

    def source(self) -> str:
        return " ".join([f"{k}={v.source()}" for k, v in self.assignments] + [w.source() for w in self.words])


@dataclass(frozen=True)
class IfClause:
    branches: tuple[tuple[Script, Script], ...]  # (test, body) for if and each elif
    else_body: Script | None
    redirects: tuple[Redirect, ...]
    line: int


@dataclass(frozen=True)
class ForLoop:
    variable: str
    items: tuple[Word, ...] | None  # None: iterate over "$@"
    body: Script
    redirects: tuple[Redirect, ...]
    line: int


Command = SimpleCommand | IfClause | ForLoop


@dataclass(frozen=True)
class Pipeline:
    commands: tuple[Command, ...]
    negated: bool = False


@dataclass(frozen=True)
class AndOrList:
    first: Pipeline
    rest: tuple[tuple[str, Pipeline], ...] = ()  # ("&&" | "||", pipeline)


@dataclass(frozen=True)
class Script:
    items: tuple[AndOrList, ...]


def simple_commands(script: Script) -> list[tuple[str, SimpleCommand]]:
    """Flatten a script into ``(connector, command)`` pairs in source order.

    The connector says how a command joins the one before it: ``";"`` (a new list: newline, ``;``),
    ``"&&"``, ``"||"`` or ``"|"``. Commands inside ``if``/``for`` bodies are listed in place.
    """
    out: list[tuple[str, SimpleCommand]] = []

    def walk_pipeline(connector: str, pipeline: Pipeline) -> None:
        for index, command in enumerate(pipeline.commands):
            walk_command(connector if index == 0 else "|", command)

    def walk_command(connector: str, command: Command) -> None:
        if isinstance(command, SimpleCommand):
            out.append((connector, command))
        elif isinstance(command, IfClause):
            for test, body in command.branches:
                walk_script(test, connector)
                walk_script(body, ";")
            if command.else_body:
                walk_script(command.else_body, ";")
        else:
            walk_script(command.body, connector)

    def walk_script(node: Script, connector: str = ";") -> None:
        for item in node.items:
            walk_pipeline(connector, item.first)
            for op, pipeline in item.rest:
                walk_pipeline(op, pipeline)
            connector = ";"

    walk_script(script)
    return out


# ---------------------------------------------------------------------------------------------
# Lexer
# ---------------------------------------------------------------------------------------------

_OPERATORS = (
    "&&",
    "||",
    ";;",
    "<<-",
    "<<<",
    "<<",
    ">>",
    "&>>",
    "&>",
    ">&",
    "<&",
    ">|",
    "|",
    "&",
    ";",
    "<",
    ">",
)
_OPERATOR_START = set("&|;<>()")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ANSI_C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "e": "\x1b"}


@dataclass
class _Token:
    kind: str  # "word", "op", "io" (a descriptor number before a redirection), "newline", "eof"
    value: object
    line: int


@dataclass
class _PendingHeredoc:
    delimiter: str
    strip_tabs: bool
    expand: bool
    token: _Token  # its value is filled with the body once the line ends


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.pending_heredocs: list[_PendingHeredoc] = []

    def error(self, message: str) -> ShellSyntaxError:
        return ShellSyntaxError(message, self.line)

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        while True:
            token = self.next_token()
            out.append(token)
            if token.kind == "op" and token.value in ("<<", "<<-"):
                out.append(self.heredoc_word(strip_tabs=token.value == "<<-"))
            if token.kind == "eof":
                if self.pending_heredocs:
                    wanted = self.pending_heredocs[0].delimiter
                    raise self.error(f"here-document delimited by end-of-file (wanted `{wanted}')")
                return out

    def next_token(self) -> _Token:
        while True:
            ch = self.peek()
            if ch in (" ", "\t", "\r"):
                self.pos += 1
            elif ch == "\\" and self.peek(1) == "\n":  # line continuation between words
                self.pos += 2
                self.line += 1
            elif ch == "#":
                while self.peek() not in ("", "\n"):
                    self.pos += 1
            else:
                break
        line = self.line
        if ch == "":
            return _Token("eof", None, line)
        if ch == "\n":
            self.pos += 1
            self.line += 1
            self.read_heredoc_bodies()
            return _Token("newline", "\n", line)
        if ch in _OPERATOR_START:
            for op in _OPERATORS:
                if self.text.startswith(op, self.pos):
                    self.pos += len(op)
                    return _Token("op", op, line)
            self.pos += 1
            return _Token("op", ch, line)  # ( or )
        if ch.isdigit():
            end = self.pos
            while end < len(self.text) and self.text[end].isdigit():
                end += 1
            if end < len(self.text) and self.text[end] in "<>":
                number = int(self.text[self.pos : end])
                self.pos = end
                return _Token("io", number, line)
        return _Token("word", self.read_word(), line)

    def heredoc_word(self, strip_tabs: bool) -> _Token:
        delimiter_token = self.next_token()
        if delimiter_token.kind != "word":
            raise self.error("syntax error near unexpected token `newline'")
        word: Word = delimiter_token.value  # type: ignore[assignment]
        delimiter = "".join(p.text if isinstance(p, Literal) else p.source() for p in word.parts)  # type: ignore[union-attr]
        expand = all(isinstance(p, Literal) and not p.quoted for p in word.parts)
        token = _Token("heredoc", ("", expand), delimiter_token.line)
        self.pending_heredocs.append(_PendingHeredoc(delimiter, strip_tabs, expand, token))
        return token

    def read_heredoc_bodies(self) -> None:
        for pending in self.pending_heredocs:
            lines = []
            while True:
                if self.pos >= len(self.text):
                    raise self.error(f"here-document delimited by end-of-file (wanted `{pending.delimiter}')")
                end = self.text.find("\n", self.pos)
                end = len(self.text) if end < 0 else end
                raw = self.text[self.pos : end]
                self.pos = min(end + 1, len(self.text))
                self.line += 1
                candidate = raw.lstrip("\t") if pending.strip_tabs else raw
                if candidate == pending.delimiter:
                    break
                lines.append(candidate)
            pending.token.value = ("".join(f"{line}\n" for line in lines), pending.expand)
        self.pending_heredocs = []

    def read_word(self) -> Word:
        parts: list[Part] = []
        plain: list[str] = []

        def flush_plain() -> None:
            if plain:
                parts.append(Literal("".join(plain), quoted=False))
                plain.clear()

        while True:
            ch = self.peek()
            if ch == "" or ch in " \t\r\n" or ch in _OPERATOR_START:
                break
            if ch == "\\":
                nxt = self.peek(1)
                self.pos += 2
                if nxt == "\n":
                    self.line += 1
                elif nxt:
                    flush_plain()
                    parts.append(Literal(nxt, quoted=True))
                continue
            if ch == "'":
                flush_plain()
                end = self.text.find("'", self.pos + 1)
                if end < 0:
                    raise self.error("unexpected EOF while looking for matching `''")
                body = self.text[self.pos + 1 : end]
                self.line += body.count("\n")
                parts.append(Literal(body, quoted=True))
                self.pos = end + 1
                continue
            if ch == '"':
                flush_plain()
                self.pos += 1
                parts.extend(self.read_double_quoted())
                continue
            if ch == "$" and self.peek(1) == "'":
                flush_plain()
                self.pos += 2
                parts.append(Literal(self.read_ansi_c_quoted(), quoted=True))
                continue
            if ch in "$`":
                expansion = self.read_expansion(quoted=False)
                if expansion is not None:
                    flush_plain()
                    parts.append(expansion)
                    continue
            plain.append(ch)
            self.pos += 1
        flush_plain()
        return Word(tuple(parts))

    def read_ansi_c_quoted(self) -> str:
        out = []
        while True:
            ch = self.peek()
            if ch == "":
                raise self.error("unexpected EOF while looking for matching `''")
            self.pos += 1
            if ch == "'":
                return "".join(out)
            if ch == "\\":
                nxt = self.peek()
                self.pos += 1
                out.append(_ANSI_C_ESCAPES.get(nxt, "\\" + nxt))
            else:
                if ch == "\n":
                    self.line += 1
                out.append(ch)

    def read_double_quoted(self) -> list[Part]:
        parts: list[Part] = []
        text: list[str] = []
        saw_anything = False
        while True:
            ch = self.peek()
            if ch == "":
                raise self.error("unexpected EOF while looking for matching `\"'")
            if ch == '"':
                self.pos += 1
                break
            saw_anything = True
            if ch == "\\":
                nxt = self.peek(1)
                self.pos += 2
                if nxt == "\n":
                    self.line += 1
                elif nxt in '$`"\\':
                    text.append(nxt)
                else:
                    text.append("\\" + nxt)
                continue
            if ch in "$`":
                expansion = self.read_expansion(quoted=True)
                if expansion is not None:
                    if text:
                        parts.append(Literal("".join(text), quoted=True))
                        text = []
                    parts.append(expansion)
                    continue
            if ch == "\n":
                self.line += 1
            text.append(ch)
            self.pos += 1
        if text or not saw_anything or not parts:
            parts.append(Literal("".join(text), quoted=True))  # "" is a word of its own
        return parts

    def read_expansion(self, quoted: bool) -> Part | None:
        """At ``$`` or a backquote: the expansion, or None when the ``$`` is a plain character."""
        line = self.line
        if self.peek() == "`":
            end = self.pos + 1
            while end < len(self.text) and self.text[end] != "`":
                end += 2 if self.text[end] == "\\" else 1
            if end >= len(self.text):
                raise self.error("unexpected EOF while looking for matching ``'")
            script = self.text[self.pos + 1 : end].replace("\\`", "`")
            self.line += script.count("\n")
            self.pos = end + 1
            return CommandSubstitution(script, quoted, line)
        nxt = self.peek(1)
        if nxt == "(":
            if self.peek(2) == "(":
                raise self.error("arithmetic expansion $((...)) is not supported by the sandbox shell")
            end = self.matching_close(self.pos + 2, "(", ")")
            script = self.text[self.pos + 2 : end]
            self.line += script.count("\n")
            self.pos = end + 1
            return CommandSubstitution(script, quoted, line)
        if nxt == "{":
            end = self.matching_close(self.pos + 2, "{", "}")
            inner = self.text[self.pos + 2 : end]
            self.pos = end + 1
            return self.braced_parameter(inner, quoted)
        match = _NAME.match(self.text, self.pos + 1)
        if match:
            self.pos = match.end()
            return Parameter(match.group(), quoted)
        if nxt and (nxt.isdigit() or nxt in "@*#?$!-"):
            self.pos += 2
            return Parameter(nxt, quoted)
        return None

    def matching_close(self, start: int, opening: str, closing: str) -> int:
        depth = 1
        index = start
        quote = ""
        while index < len(self.text):
            ch = self.text[index]
            if quote:
                if ch == "\\" and quote == '"':
                    index += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "\\":
                index += 1
            elif ch == opening:
                depth += 1
            elif ch == closing:
                depth -= 1
                if depth == 0:
                    return index
            index += 1
        raise self.error(f"unexpected EOF while looking for matching `{closing}'")

    def braced_parameter(self, inner: str, quoted: bool) -> Parameter:
        if inner.startswith("#") and len(inner) > 1:
            return Parameter(inner[1:], quoted, operator="#")
        match = _NAME.match(inner) or re.match(r"[0-9]+|[@*#?$!-]", inner)
        if not match:
            raise self.error(f"${{{inner}}}: bad substitution")
        name, rest = match.group(), inner[match.end() :]
        if not rest:
            return Parameter(name, quoted)
        for operator in (":-", ":=", ":+", ":?", "-", "=", "+", "?"):
            if rest.startswith(operator):
                argument = _Lexer(rest[len(operator) :]).read_argument_word(quoted)
                return Parameter(name, quoted, operator=operator, argument=argument)
        raise self.error(f"${{{inner}}}: bad substitution (only :- = + ? forms are supported)")

    def read_argument_word(self, quoted: bool) -> Word:
        """The word after ``:-`` etc.: quotes and expansions work inside; spaces are kept."""
        if quoted:
            self.text += '"'
            return Word(tuple(self.read_double_quoted()))
        parts: list[Part] = []
        while self.pos < len(self.text):
            if self.peek() in " \t":
                parts.append(Literal(self.peek(), quoted=True))
                self.pos += 1
                continue
            word = self.read_word()
            parts.extend(word.parts)
            if self.pos < len(self.text) and self.peek() not in " \t":
                parts.append(Literal(self.peek(), quoted=False))
                self.pos += 1
        return Word(tuple(parts))


# ---------------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------------

_UNSUPPORTED_KEYWORDS = ("while", "until", "case", "function", "select", "{", "}", "[[", "((")
_REDIRECT_OPERATORS = (">", ">>", "<", ">&", "<&", ">|", "&>", "&>>", "<<", "<<-", "<<<")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _Lexer(text).tokens()
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def unexpected(self) -> ShellSyntaxError:
        token = self.token
        shown = "newline" if token.kind in ("newline", "eof") else self.describe(token)
        return ShellSyntaxError(f"syntax error near unexpected token `{shown}'", token.line)

    @staticmethod
    def describe(token: _Token) -> str:
        return token.value.source() if isinstance(token.value, Word) else str(token.value)

    def keyword(self) -> str | None:
        return self.token.value.plain_text() if self.token.kind == "word" else None  # type: ignore[union-attr]

    def skip_newlines(self) -> None:
        while self.token.kind == "newline":
            self.advance()

    def expect_keyword(self, word: str) -> None:
        if self.keyword() != word:
            raise self.unexpected()
        self.advance()

    def parse_script(self, terminators: frozenset[str] = frozenset()) -> Script:
        items: list[AndOrList] = []
        while True:
            while self.token.kind == "newline" or (self.token.kind == "op" and self.token.value == ";"):
                if self.token.kind == "op" and not items:
                    raise self.unexpected()
                self.advance()
            if self.token.kind == "eof" or self.keyword() in terminators:
                return Script(tuple(items))
            items.append(self.parse_and_or())
            if self.token.kind == "op" and self.token.value in (";", "&"):
                self.advance()  # "&" (background) runs in order here: output order is all we model
            elif self.token.kind not in ("newline", "eof") and self.keyword() not in terminators:
                raise self.unexpected()

    def parse_and_or(self) -> AndOrList:
        first = self.parse_pipeline()
        rest = []
        while self.token.kind == "op" and self.token.value in ("&&", "||"):
            op = self.advance().value
            self.skip_newlines()
            rest.append((op, self.parse_pipeline()))
        return AndOrList(first, tuple(rest))  # type: ignore[arg-type]

    def parse_pipeline(self) -> Pipeline:
        negated = False
        if self.keyword() == "!":
            self.advance()
            negated = True
        commands = [self.parse_command()]
        while self.token.kind == "op" and self.token.value == "|":
            self.advance()
            self.skip_newlines()
            commands.append(self.parse_command())
        return Pipeline(tuple(commands), negated)

    def parse_command(self) -> Command:
        keyword = self.keyword()
        if keyword == "if":
            return self.parse_if()
        if keyword == "for":
            return self.parse_for()
        if keyword in _UNSUPPORTED_KEYWORDS or (self.token.kind == "op" and self.token.value in ("(", ")")):
            shown = keyword or self.token.value
            raise ShellSyntaxError(f"`{shown}' is not supported by the sandbox shell", self.token.line)
        return self.parse_simple()

    def parse_if(self) -> IfClause:
        line = self.advance().line
        branches = []
        while True:
            test = self.parse_script(frozenset({"then"}))
            self.expect_keyword("then")
            body = self.parse_script(frozenset({"elif", "else", "fi"}))
            branches.append((test, body))
            if self.keyword() == "elif":
                self.advance()
                continue
            break
        else_body = None
        if self.keyword() == "else":
            self.advance()
            else_body = self.parse_script(frozenset({"fi"}))
        self.expect_keyword("fi")
        return IfClause(tuple(branches), else_body, self.parse_redirects(), line)

    def parse_for(self) -> ForLoop:
        line = self.advance().line
        name = self.keyword()
        if not name or not _NAME.fullmatch(name):
            raise self.unexpected()
        self.advance()
        items: list[Word] | None = None
        self.skip_newlines()
        if self.keyword() == "in":
            self.advance()
            items = []
            while self.token.kind == "word":
                items.append(self.advance().value)  # type: ignore[arg-type]
        if self.token.kind == "op" and self.token.value == ";":
            self.advance()
        self.skip_newlines()
        self.expect_keyword("do")
        body = self.parse_script(frozenset({"done"}))
        self.expect_keyword("done")
        return ForLoop(name, None if items is None else tuple(items), body, self.parse_redirects(), line)

    def parse_redirects(self) -> tuple[Redirect, ...]:
        redirects = []
        while (redirect := self.parse_redirect()) is not None:
            redirects.append(redirect)
        return tuple(redirects)

    def parse_redirect(self) -> Redirect | None:
        fd: int | None = None
        start = self.index
        if self.token.kind == "io":
            fd = self.advance().value  # type: ignore[assignment]
        if not (self.token.kind == "op" and self.token.value in _REDIRECT_OPERATORS):
            self.index = start
            return None
        op = str(self.advance().value)
        if op == "<<<":
            raise ShellSyntaxError(
                "here-strings (<<<) are not supported by the sandbox shell", self.token.line
            )
        if op in ("<<", "<<-"):
            text, expand = self.advance().value  # type: ignore[misc]
            return Redirect(0 if fd is None else fd, "<<", Word((Literal(text, quoted=True),)), expand)
        if self.token.kind != "word":
            raise self.unexpected()
        target: Word = self.advance().value  # type: ignore[assignment]
        if op in ("&>", "&>>"):
            return Redirect(-1, ">>" if op == "&>>" else ">", target)
        if op in (">&", "<&"):
            return Redirect(1 if fd is None and op == ">&" else (0 if fd is None else fd), ">&", target)
        default_fd = 0 if op == "<" else 1
        return Redirect(default_fd if fd is None else fd, ">" if op == ">|" else op, target)

    def parse_simple(self) -> SimpleCommand:
        line = self.token.line
        assignments: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirects: list[Redirect] = []
        while True:
            redirect = self.parse_redirect()
            if redirect is not None:
                redirects.append(redirect)
                continue
            if self.token.kind != "word":
                break
            word: Word = self.advance().value  # type: ignore[assignment]
            assignment = _split_assignment(word) if not words else None
            if assignment is not None:
                assignments.append(assignment)
            else:
                words.append(word)
        if not (assignments or words or redirects):
            raise self.unexpected()
        return SimpleCommand(tuple(assignments), tuple(words), tuple(redirects), line)


def _split_assignment(word: Word) -> tuple[str, Word] | None:
    first = word.parts[0] if word.parts else None
    if not isinstance(first, Literal) or first.quoted:
        return None
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\+?=", first.text)
    if not match:
        return None
    remainder = first.text[match.end() :]
    value_parts = ((Literal(remainder, quoted=False),) if remainder else ()) + word.parts[1:]
    return match.group(1), Word(value_parts)


def parse(text: str) -> Script:
    """Parse shell text; raises ShellSyntaxError for bad or unsupported syntax."""
    return _Parser(text).parse_script()


# ---------------------------------------------------------------------------------------------
# Streams, file system and the command handler contract
# ---------------------------------------------------------------------------------------------


class Output:
    """A write end: text goes to a callback, to a buffer, or nowhere (``/dev/null``)."""

    def __init__(self, sink: Callable[[str], None] | None) -> None:
        self._sink = sink

    def write(self, text: str) -> None:
        if self._sink is not None and text:
            self._sink(text)

    def line(self, text: str = "") -> None:
        self.write(text + "\n")


class LineLog:
    """Turns written text into whole lines for a line logger (``ctx.log``)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._pending = ""

    def write(self, text: str) -> None:
        *complete, self._pending = (self._pending + text).split("\n")
        for line in complete:
            self._log(line)

    def flush(self) -> None:
        if self._pending:
            self._log(self._pending)
            self._pending = ""


class FileSystem:
    """The container's files as far as scripts can observe them: written text and known directories."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        # An Ubuntu base image's top-level directories (the image is ubuntu22.04-based, fact image-base),
        # plus /models, the chart's model volume.
        self.directories: set[str] = {
            "/", "/bin", "/etc", "/home", "/mnt", "/opt", "/root", "/srv", "/tmp", "/usr", "/usr/bin",
            "/usr/lib", "/usr/local", "/usr/local/bin", "/usr/local/lib", "/var", "/var/tmp", "/models",
        }  # fmt: skip

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def write(self, path: str, text: str, append: bool = False) -> None:
        self.files[path] = (self.files.get(path, "") if append else "") + text

    def make_directory(self, path: str) -> None:
        while path not in ("", "/"):
            self.directories.add(path)
            path = posixpath.dirname(path)

    def is_directory(self, path: str) -> bool:
        return path in self.directories

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.directories

    def remove(self, path: str) -> None:
        self.files.pop(path, None)
        prefix = path.rstrip("/") + "/"
        self.directories = {d for d in self.directories if d != path and not d.startswith(prefix)}
        self.files = {f: t for f, t in self.files.items() if not f.startswith(prefix)}


@dataclass
class Invocation:
    """What a program sees when it runs: its argv, exported environment, streams and directory."""

    argv: list[str]
    env: dict[str, str]
    stdin: str
    out: Output
    err: Output
    cwd: str
    fs: FileSystem

    @property
    def program(self) -> str:
        return posixpath.basename(self.argv[0])

    def path(self, name: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, name))


CommandHandler = Callable[[Invocation], int]


def succeed_silently(invocation: Invocation) -> int:
    return 0


# ---------------------------------------------------------------------------------------------
# Interpreter
# ---------------------------------------------------------------------------------------------

SHELL_PROGRAMS = frozenset({"bash", "sh", "dash", "ash", "zsh"})


@dataclass
class _Options:
    errexit: bool = False
    nounset: bool = False
    pipefail: bool = False
    xtrace: bool = False


@dataclass
class _Frame:
    """One shell process: its variables, options and positional parameters."""

    variables: dict[str, str]
    exported: set[str]
    positional: list[str]  # $0 first
    options: _Options
    cwd: str = "/"
    dialect: str = "bash"  # "bash" or "dash" (Ubuntu's sh): their error messages differ
    line: int = 0  # the line of the command being run (for error messages)
    last_status: int = 0
    errexit_ignored: int = 0  # >0 inside if-tests and non-final &&/|| members
    pending_substitution_status: int | None = None

    def child(self, positional: list[str], options: _Options) -> _Frame:
        exported = {k: v for k, v in self.variables.items() if k in self.exported}
        return _Frame(exported, set(exported), positional, options, self.cwd, self.dialect)

    def not_found(self, name: str) -> str:
        """The shell's message for a program that is not there (observed with GNU bash 5.2 and dash:
        bash names the line unless its $0 is plain ``bash``, as for ``bash -c SCRIPT``)."""
        if self.dialect == "dash":
            return f"{self.positional[0]}: {self.line}: {name}: not found"
        where = (
            self.positional[0] if self.positional[0] == "bash" else f"{self.positional[0]}: line {self.line}"
        )
        return f"{where}: {name}: {'No such file or directory' if '/' in name else 'command not found'}"


_SET_FLAGS = {"e": "errexit", "u": "nounset", "x": "xtrace"}
_SET_LONG = {"errexit": "errexit", "nounset": "nounset", "xtrace": "xtrace", "pipefail": "pipefail"}


class Shell:
    """Runs container invocations and scripts against a handler for external programs."""

    def __init__(
        self,
        handler: CommandHandler = succeed_silently,
        fs: FileSystem | None = None,
        sleep: Callable[[float], None] | None = None,
        on_path: Callable[[str], bool] | None = None,
    ) -> None:
        self.handler = handler
        self.fs = fs or FileSystem()
        self._sleep = sleep or (lambda seconds: None)
        self.on_path = on_path  # None: every program exists

    # -- entry points -------------------------------------------------------------------------

    def run_invocation(self, argv: list[str], env: dict[str, str], out: Output, err: Output) -> int:
        """Run a container's ``command + args`` as the kernel would exec them."""
        frame = _Frame(dict(env), set(env), ["sh"], _Options())
        if not argv:
            return 0
        if argv[0] not in _BUILTINS and not self.exists(argv[0]):
            # No shell to complain: the container runtime cannot start the process (runc's wording).
            err.line(f'exec: "{argv[0]}": executable file not found in $PATH')
            return 128
        try:
            return self._dispatch(frame, argv, dict(env), "", out, err)
        except _Exit as done:
            return done.status

    def run_script(
        self, text: str, env: dict[str, str], out: Output, err: Output, positional: list[str] | None = None
    ) -> int:
        frame = _Frame(dict(env), set(env), positional or ["sh"], _Options())
        return self._run_text(frame, text, "", out, err, name=frame.positional[0])

    def exists(self, program: str) -> bool:
        return self.on_path is None or self.on_path(program)

    # -- scripts --------------------------------------------------------------------------------

    def _run_text(self, frame: _Frame, text: str, stdin: str, out: Output, err: Output, name: str) -> int:
        try:
            script = parse(text)
        except ShellSyntaxError as exc:
            err.line(f"{name}: line {exc.line}: {exc}")
            return 2
        try:
            return self._run_script(frame, script, stdin, out, err)
        except _Exit as done:
            return done.status

    def _run_script(self, frame: _Frame, script: Script, stdin: str, out: Output, err: Output) -> int:
        status = 0
        for item in script.items:
            status = self._run_and_or(frame, item, stdin, out, err)
        return status

    def _run_and_or(self, frame: _Frame, node: AndOrList, stdin: str, out: Output, err: Output) -> int:
        members = [("", node.first), *node.rest]
        status = 0
        for index, (op, pipeline) in enumerate(members):
            if (op == "&&" and status != 0) or (op == "||" and status == 0):
                continue
            final = index == len(members) - 1
            if not final:
                frame.errexit_ignored += 1
            try:
                status = self._run_pipeline(frame, pipeline, stdin, out, err)
            finally:
                if not final:
                    frame.errexit_ignored -= 1
            frame.last_status = status
            if final and status != 0 and not pipeline.negated:
                self._maybe_errexit(frame, status)
        return status

    def _maybe_errexit(self, frame: _Frame, status: int) -> None:
        if frame.options.errexit and frame.errexit_ignored == 0:
            raise _Exit(status)

    def _run_pipeline(self, frame: _Frame, pipeline: Pipeline, stdin: str, out: Output, err: Output) -> int:
        statuses = []
        data = stdin
        for index, command in enumerate(pipeline.commands):
            last = index == len(pipeline.commands) - 1
            captured: list[str] = []
            target = out if last else Output(captured.append)
            statuses.append(self._run_command(frame, command, data, target, err))
            data = "".join(captured)
        status = statuses[-1]
        if frame.options.pipefail:
            status = next((s for s in reversed(statuses) if s != 0), 0)
        if pipeline.negated:
            status = 0 if status else 1
        return status

    def _run_command(self, frame: _Frame, command: Command, stdin: str, out: Output, err: Output) -> int:
        if isinstance(command, SimpleCommand):
            return self._run_simple(frame, command, stdin, out, err)
        redirected = self._apply_redirects(frame, command.redirects, stdin, out, err)
        if redirected is None:
            return 1
        stdin, out, err = redirected
        if isinstance(command, IfClause):
            for test, body in command.branches:
                frame.errexit_ignored += 1
                try:
                    test_status = self._run_script(frame, test, stdin, out, err)
                finally:
                    frame.errexit_ignored -= 1
                if test_status == 0:
                    return self._run_script(frame, body, stdin, out, err)
            return self._run_script(frame, command.else_body, stdin, out, err) if command.else_body else 0
        values = (
            frame.positional[1:] if command.items is None else self._expand_words(frame, command.items, err)
        )
        status = 0
        for value in values:
            frame.variables[command.variable] = value
            status = self._run_script(frame, command.body, stdin, out, err)
        return status

    # -- simple commands --------------------------------------------------------------------------

    def _run_simple(self, frame: _Frame, command: SimpleCommand, stdin: str, out: Output, err: Output) -> int:
        frame.pending_substitution_status = None
        try:
            argv = self._expand_words(frame, command.words, err)
            assigned = {name: self._expand_string(frame, value, err) for name, value in command.assignments}
        except _ExpansionError as exc:
            # bash: an expansion error (unset variable under -u, ${X:?}) ends a non-interactive shell
            err.line(f"{frame.positional[0]}: line {command.line}: {exc}")
            raise _Exit(1) from None
        if frame.options.xtrace:
            shown = [f"{k}={shlex.quote(v)}" for k, v in assigned.items()] + [shlex.quote(a) for a in argv]
            err.line("+ " + " ".join(shown))
        redirected = self._apply_redirects(frame, command.redirects, stdin, out, err)
        if redirected is None:
            return 1
        stdin, out, err = redirected
        if not argv:
            frame.variables.update(assigned)
            status = frame.pending_substitution_status
            return 0 if status is None else status
        env = {k: v for k, v in frame.variables.items() if k in frame.exported} | assigned
        frame.line = command.line
        return self._dispatch(frame, argv, env, stdin, out, err)

    def _dispatch(
        self, frame: _Frame, argv: list[str], env: dict[str, str], stdin: str, out: Output, err: Output
    ) -> int:
        if argv[0] in _BUILTINS:
            return _BUILTINS[argv[0]](_Call(self, frame, argv, env, stdin, out, err))
        if not self.exists(argv[0]):
            err.line(frame.not_found(argv[0]))
            return 127
        program = posixpath.basename(argv[0])
        if program in SHELL_PROGRAMS:
            return self._run_shell_program(frame, argv, env, stdin, out, err)
        if program in _UTILITIES:
            return _UTILITIES[program](_Call(self, frame, argv, env, stdin, out, err))
        return self.handler(Invocation(list(argv), env, stdin, out, err, frame.cwd, self.fs))

    def _run_shell_program(
        self, frame: _Frame, argv: list[str], env: dict[str, str], stdin: str, out: Output, err: Output
    ) -> int:
        """``bash [-e] [-o opt] -c SCRIPT [NAME [ARGS...]]`` or ``bash FILE``: a child shell."""
        options = _Options()
        script: str | None = None
        rest = argv[1:]
        index = 0
        read_command = False
        while index < len(rest) and rest[index].startswith(("-", "+")) and rest[index] not in ("-", "--"):
            flag = rest[index]
            index += 1
            if flag in ("-o", "+o"):
                if index < len(rest) and rest[index] in _SET_LONG:
                    setattr(options, _SET_LONG[rest[index]], flag == "-o")
                index += 1
                continue
            for letter in flag[1:]:
                if letter == "c":
                    read_command = True
                elif letter in _SET_FLAGS:
                    setattr(options, _SET_FLAGS[letter], flag[0] == "-")
        if index < len(rest) and rest[index] == "--":
            index += 1
        shell_name = posixpath.basename(argv[0])
        if read_command:
            if index >= len(rest):
                err.line(f"{shell_name}: -c: option requires an argument")
                return 2
            script = rest[index]
            positional = rest[index + 1 :] or [argv[0]]  # $0 is the name it was run by (/bin/bash)
            name = shell_name
        elif index < len(rest):
            path = posixpath.normpath(posixpath.join(frame.cwd, rest[index]))
            script = self.fs.read(path)
            if script is None:
                err.line(f"{shell_name}: {rest[index]}: No such file or directory")
                return 127
            positional = rest[index:]
            name = rest[index]
        else:
            script, positional, name = stdin, [shell_name], shell_name
        dialect = "dash" if shell_name in ("sh", "dash") else "bash"  # Ubuntu's /bin/sh is dash
        child = _Frame(dict(env), set(env), positional, options, frame.cwd, dialect)
        return self._run_text(child, script, stdin, out, err, name=name)

    # -- redirections ---------------------------------------------------------------------------

    def _apply_redirects(
        self, frame: _Frame, redirects: tuple[Redirect, ...], stdin: str, out: Output, err: Output
    ) -> tuple[str, Output, Output] | None:
        streams: dict[int, Output] = {1: out, 2: err}
        for redirect in redirects:
            if redirect.operator == "<<":
                text = redirect.target.parts[0].text  # type: ignore[union-attr]
                stdin = self._expand_heredoc(frame, text, err) if redirect.expand_heredoc else text
                continue
            target = self._expand_string(frame, redirect.target, err)
            if redirect.operator == ">&":
                if target == "-":
                    streams[redirect.fd] = Output(None)
                elif target.isdigit() and int(target) in streams:
                    streams[redirect.fd] = streams[int(target)]
                else:  # ">&file" is bash's spelling of "&>file"
                    streams[1] = streams[2] = self._file_output(frame, target, append=False)
                continue
            if redirect.operator == "<":
                content = self.fs.read(self._resolve(frame, target))
                if content is None:
                    err.line(f"{frame.positional[0]}: {target}: No such file or directory")
                    return None
                stdin = content
                continue
            standard = {"/dev/stdout": 1, "/dev/stderr": 2}
            if target in standard:
                sink = streams[standard[target]]
            else:
                sink = self._file_output(frame, target, append=redirect.operator == ">>")
            for fd in (1, 2) if redirect.fd == -1 else (redirect.fd,):
                streams[fd] = sink
        return stdin, streams.get(1, out), streams.get(2, err)

    def _file_output(self, frame: _Frame, target: str, append: bool) -> Output:
        if target == "/dev/null":
            return Output(None)
        path = self._resolve(frame, target)
        self.fs.write(path, "", append=append)  # ">" truncates when the redirection is set up

        def append_text(text: str) -> None:
            self.fs.write(path, text, append=True)

        return Output(append_text)

    @staticmethod
    def _resolve(frame: _Frame, path: str) -> str:
        return posixpath.normpath(posixpath.join(frame.cwd, path))

    # -- expansion --------------------------------------------------------------------------------

    def _expand_words(self, frame: _Frame, words: tuple[Word, ...], err: Output) -> list[str]:
        fields: list[str] = []
        for word in words:
            fields.extend(self._expand_fields(frame, word, err))
        return fields

    def _expand_fields(self, frame: _Frame, word: Word, err: Output) -> list[str]:
        fields: list[str] = []
        current: list[str] = []
        started = False

        def add(text: str) -> None:
            nonlocal started
            current.append(text)
            started = True

        def cut() -> None:
            nonlocal started
            if started:
                fields.append("".join(current))
                current.clear()
                started = False

        for part in word.parts:
            if isinstance(part, Literal):
                if part.quoted or part.text:
                    add(part.text)
                continue
            if isinstance(part, Parameter) and part.name == "@" and part.quoted and not part.operator:
                for index, value in enumerate(frame.positional[1:]):
                    if index:
                        cut()
                    add(value)
                continue
            value = self._expand_part(frame, part, err)
            if part.quoted:
                add(value)
                continue
            pieces = value.split()
            if value[:1].isspace():
                cut()
            for index, piece in enumerate(pieces):
                if index:
                    cut()
                add(piece)
            if pieces and value[-1:].isspace():
                cut()
        cut()
        return fields

    def _expand_string(self, frame: _Frame, word: Word, err: Output) -> str:
        """Expansion without field splitting (assignments, redirection targets, ${X:-word})."""
        out = []
        for part in word.parts:
            out.append(part.text if isinstance(part, Literal) else self._expand_part(frame, part, err))
        return "".join(out)

    def _expand_heredoc(self, frame: _Frame, text: str, err: Output) -> str:
        lexer = _Lexer(text + '"')
        return self._expand_string(frame, Word(tuple(lexer.read_double_quoted())), err)

    def _expand_part(self, frame: _Frame, part: Part, err: Output) -> str:
        if isinstance(part, CommandSubstitution):
            captured: list[str] = []
            child = frame.child(list(frame.positional), _Options(nounset=frame.options.nounset))
            status = self._run_text(
                child, part.script, "", Output(captured.append), err, name=frame.positional[0]
            )
            frame.pending_substitution_status = status
            return "".join(captured).rstrip("\n")
        assert isinstance(part, Parameter)
        value = self._parameter_value(frame, part.name)
        if part.operator == "#":
            if value is None and frame.options.nounset:
                raise _ExpansionError(f"{part.name}: unbound variable")
            return str(len(value or ""))
        operator = part.operator
        is_set = value is not None
        is_null = not value
        use_alternative = is_set and not (operator.startswith(":") and is_null)
        if operator in (":-", "-"):
            return value if use_alternative else self._argument(frame, part, err)  # type: ignore[return-value]
        if operator in (":=", "="):
            if not use_alternative:
                frame.variables[part.name] = self._argument(frame, part, err)
            return frame.variables.get(part.name, value or "")
        if operator in (":+", "+"):
            return self._argument(frame, part, err) if use_alternative else ""
        if operator in (":?", "?"):
            if not use_alternative:
                message = self._argument(frame, part, err) or "parameter null or not set"
                raise _ExpansionError(f"{part.name}: {message}")
            return value  # type: ignore[return-value]
        if value is None:
            if frame.options.nounset and part.name not in ("@", "*"):
                raise _ExpansionError(f"{part.name}: unbound variable")
            return ""
        return value

    def _argument(self, frame: _Frame, part: Parameter, err: Output) -> str:
        return self._expand_string(frame, part.argument, err) if part.argument else ""

    @staticmethod
    def _parameter_value(frame: _Frame, name: str) -> str | None:
        if name in ("@", "*"):
            return " ".join(frame.positional[1:])
        if name == "#":
            return str(len(frame.positional) - 1)
        if name == "?":
            return str(frame.last_status)
        if name == "$":
            return "1"
        if name == "!":
            return ""
        if name == "-":
            return "".join(k for k, v in _SET_FLAGS.items() if getattr(frame.options, v))
        if name.isdigit():
            index = int(name)
            return frame.positional[index] if index < len(frame.positional) else None
        return frame.variables.get(name)

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)


class _ExpansionError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Builtins and the few text utilities scripts use to build files
# ---------------------------------------------------------------------------------------------


@dataclass
class _Call:
    """One run of a builtin: the shell, the calling frame, the words and the streams."""

    shell: Shell
    frame: _Frame
    argv: list[str]
    env: dict[str, str]
    stdin: str
    out: Output
    err: Output

    @property
    def operands(self) -> list[str]:
        return [a for a in self.argv[1:] if a == "-" or not a.startswith("-")]

    def path(self, name: str) -> str:
        return posixpath.normpath(posixpath.join(self.frame.cwd, name))


Builtin = Callable[[_Call], int]


def _echo(call: _Call) -> int:
    args = call.argv[1:]
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = "e" in args[0] or (escapes and "E" not in args[0])
        args = args[1:]
    text = " ".join(args)
    call.out.write((_decode_escapes(text) if escapes else text) + ("\n" if newline else ""))
    return 0


def _decode_escapes(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ANSI_C_ESCAPES.get(m.group(1), m.group(0)), text)


def _printf(call: _Call) -> int:
    if len(call.argv) < 2:
        call.err.line("printf: usage: printf format [arguments]")
        return 2
    template, values = _decode_escapes(call.argv[1]), call.argv[2:]
    conversions = len(re.findall(r"%[sdbq]", template))
    while True:  # like printf(1): the format is reused until the arguments run out
        remaining = iter(values[:conversions])

        def convert(match: re.Match, remaining=remaining) -> str:
            if match.group() == "%%":
                return "%"
            value = next(remaining, "")
            return _decode_escapes(value) if match.group() == "%b" else value

        call.out.write(re.sub(r"%%|%[sdbq]", convert, template))
        values = values[conversions:]
        if not values or not conversions:
            return 0


def _true(call: _Call) -> int:
    return 0


def _false(call: _Call) -> int:
    return 1


def _export(call: _Call) -> int:
    for arg in call.argv[1:]:
        if arg.startswith("-"):
            continue
        name, sep, value = arg.partition("=")
        if sep:
            call.frame.variables[name] = value
        call.frame.exported.add(name)
    return 0


def _unset(call: _Call) -> int:
    for name in call.operands:
        call.frame.variables.pop(name, None)
        call.frame.exported.discard(name)
    return 0


def _set(call: _Call) -> int:
    frame = call.frame
    args = call.argv[1:]
    while args:
        arg = args.pop(0)
        if arg == "--":
            frame.positional = [*frame.positional[:1], *args]
            return 0
        if arg in ("-o", "+o"):
            option = args.pop(0) if args else ""
            if option in _SET_LONG:
                setattr(frame.options, _SET_LONG[option], arg == "-o")
            continue
        if arg[:1] in ("-", "+") and len(arg) > 1:
            for letter in arg[1:]:
                if letter in _SET_FLAGS:
                    setattr(frame.options, _SET_FLAGS[letter], arg[0] == "-")
            continue
        frame.positional = [*frame.positional[:1], arg, *args]  # `set a b` sets $1 $2
        return 0
    return 0


def _exit(call: _Call) -> int:
    argv = call.argv
    explicit = len(argv) > 1 and argv[1].lstrip("-").isdigit()
    raise _Exit(int(argv[1]) & 0xFF if explicit else call.frame.last_status)


def _eval(call: _Call) -> int:
    try:
        script = parse(" ".join(call.argv[1:]))
    except ShellSyntaxError as exc:
        call.err.line(f"{call.frame.positional[0]}: eval: line {exc.line}: {exc}")
        return 2
    return call.shell._run_script(call.frame, script, call.stdin, call.out, call.err)


def _exec(call: _Call) -> int:
    args = call.argv[1:]
    while args and args[0].startswith("-"):  # exec -a NAME / -c / -l
        args = args[2:] if args[0] == "-a" else args[1:]
    if not args:
        return 0  # `exec 2>&1`-style: only redirections, nothing replaces the shell
    raise _Exit(call.shell._dispatch(call.frame, args, call.env, call.stdin, call.out, call.err))


def _command(call: _Call) -> int:
    """``command -v NAME`` (where a program is, or status 1) and ``command NAME ARGS`` (run it)."""
    args = call.argv[1:]
    if args[:1] in (["-v"], ["-V"]):
        found = [name for name in args[1:] if name in _BUILTINS or call.shell.exists(name)]
        for name in found:
            call.out.line(name if name in _BUILTINS or "/" in name else f"/usr/bin/{name}")
        return 0 if found and len(found) == len(args[1:]) else 1
    while args[:1] == ["-p"]:
        args = args[1:]
    if not args:
        return 0
    return call.shell._dispatch(call.frame, args, call.env, call.stdin, call.out, call.err)


def _cd(call: _Call) -> int:
    target = call.argv[1] if len(call.argv) > 1 else call.frame.variables.get("HOME", "/root")
    call.frame.cwd = call.path(target)
    return 0


def _source(call: _Call) -> int:
    if len(call.argv) < 2:
        return 2
    text = call.shell.fs.read(call.path(call.argv[1]))
    if text is None:
        return 0  # e.g. a virtualenv's activate script: not modelled, harmless
    return _eval(_Call(call.shell, call.frame, ["eval", text], call.env, call.stdin, call.out, call.err))


def _test(call: _Call) -> int:
    args = call.argv[1:]
    if call.argv[0] == "[":
        if not args or args[-1] != "]":
            call.err.line("[: missing `]'")
            return 2
        args = args[:-1]
    try:
        return 0 if _evaluate_test(call, args) else 1
    except ValueError as exc:
        call.err.line(f"{call.argv[0]}: {exc}")
        return 2


_NUMERIC_TESTS: dict[str, Callable[[int, int], bool]] = {
    "-eq": lambda a, b: a == b,
    "-ne": lambda a, b: a != b,
    "-lt": lambda a, b: a < b,
    "-le": lambda a, b: a <= b,
    "-gt": lambda a, b: a > b,
    "-ge": lambda a, b: a >= b,
}


def _evaluate_test(call: _Call, args: list[str]) -> bool:
    if not args:
        return False
    if args[0] == "!":
        return not _evaluate_test(call, args[1:])
    for joiner, combine in (("-o", any), ("-a", all)):
        if joiner in args[1:-1]:
            index = args.index(joiner, 1)
            return combine((_evaluate_test(call, args[:index]), _evaluate_test(call, args[index + 1 :])))
    if len(args) == 1:
        return args[0] != ""
    fs = call.shell.fs
    if len(args) == 2:
        op, operand = args
        unary: dict[str, Callable[[], bool]] = {
            "-n": lambda: operand != "",
            "-z": lambda: operand == "",
            "-f": lambda: fs.read(call.path(operand)) is not None,
            "-s": lambda: bool(fs.read(call.path(operand))),
            "-d": lambda: fs.is_directory(call.path(operand)),
            "-e": lambda: fs.exists(call.path(operand)),
        }
        if op not in unary:
            raise ValueError(f"{op}: unary operator expected")
        return unary[op]()
    if len(args) == 3:
        left, op, right = args
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        if op in _NUMERIC_TESTS:
            try:
                return _NUMERIC_TESTS[op](int(left), int(right))
            except ValueError:
                raise ValueError(f"{left}: integer expression expected") from None
    raise ValueError("too many arguments")


_SLEEP_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _sleep(call: _Call) -> int:
    total = 0.0
    for arg in call.argv[1:]:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", arg)
        if not match:
            call.err.line(f"sleep: invalid time interval '{arg}'")
            return 1
        total += float(match.group(1)) * _SLEEP_UNITS[match.group(2)]
    call.shell.sleep(total)
    return 0


def _read_inputs(call: _Call, names: list[str], program: str) -> str | None:
    """The text of the named files (``-`` is stdin), or stdin when no file is named."""
    if not names:
        return call.stdin
    chunks = []
    for name in names:
        text = call.stdin if name == "-" else call.shell.fs.read(call.path(name))
        if text is None:
            call.err.line(f"{program}: {name}: No such file or directory")
            return None
        chunks.append(text)
    return "".join(chunks)


def _cat(call: _Call) -> int:
    text = _read_inputs(call, call.operands, "cat")
    if text is None:
        return 1
    call.out.write(text)
    return 0


def _tee(call: _Call) -> int:
    append = any(a in ("-a", "--append") for a in call.argv[1:])
    for name in call.operands:
        call.shell.fs.write(call.path(name), call.stdin, append=append)
    call.out.write(call.stdin)
    return 0


_GREP_LONG_FLAGS = {"--ignore-case": "i", "--invert-match": "v", "--extended-regexp": "E", "--quiet": "q"}


def _grep(call: _Call) -> int:
    flags = dict.fromkeys("ivEFqcx", False)
    patterns: list[str] = []
    files: list[str] = []
    args = call.argv[1:]
    if posixpath.basename(call.argv[0]) == "egrep":
        flags["E"] = True
    while args:
        arg = args.pop(0)
        if arg in ("-e", "--regexp") and args:
            patterns.append(args.pop(0))
        elif arg.startswith("--"):
            if arg in _GREP_LONG_FLAGS:
                flags[_GREP_LONG_FLAGS[arg]] = True
        elif arg.startswith("-") and len(arg) > 1:
            for letter in arg[1:]:
                flags["E" if letter == "P" else letter] = True
        elif not patterns and not files:
            patterns.append(arg)
        else:
            files.append(arg)
    if not patterns:
        call.err.line("Usage: grep [OPTION]... PATTERNS [FILE]...")
        return 2
    text = _read_inputs(call, files, "grep")
    if text is None:
        return 2
    try:
        regexes = [_compile_grep(p, flags["E"], flags["F"], flags["i"]) for p in patterns]
    except re.error as exc:
        call.err.line(f"grep: {exc}")
        return 2
    matched = []
    for line in text.splitlines():
        hit = any((r.fullmatch(line) if flags["x"] else r.search(line)) is not None for r in regexes)
        if hit != flags["v"]:
            matched.append(line)
    if flags["c"]:
        call.out.line(str(len(matched)))
    elif not flags["q"]:
        for line in matched:
            call.out.line(line)
    return 0 if matched else 1


def _compile_grep(pattern: str, extended: bool, fixed: bool, ignore_case: bool) -> re.Pattern:
    if fixed:
        source = re.escape(pattern)
    elif extended:
        source = pattern
    else:  # basic regex: ( ) { } | + ? are literal unless escaped, and special when escaped
        source = re.sub(r"\\([(){}|+?])|([(){}|+?])", lambda m: m.group(1) or "\\" + m.group(2), pattern)
    return re.compile(source, re.IGNORECASE if ignore_case else 0)


def _mkdir(call: _Call) -> int:
    for name in call.operands:
        call.shell.fs.make_directory(call.path(name))
    return 0


def _touch(call: _Call) -> int:
    for name in call.operands:
        call.shell.fs.write(call.path(name), call.shell.fs.read(call.path(name)) or "")
    return 0


def _rm(call: _Call) -> int:
    for name in call.operands:
        call.shell.fs.remove(call.path(name))
    return 0


# Shell builtins: looked up by the exact command name.
_BUILTINS: dict[str, Builtin] = {
    ":": _true,
    "true": _true,
    "false": _false,
    "echo": _echo,
    "printf": _printf,
    "export": _export,
    "unset": _unset,
    "set": _set,
    "exit": _exit,
    "eval": _eval,
    "exec": _exec,
    "cd": _cd,
    "command": _command,
    "source": _source,
    ".": _source,
    "test": _test,
    "[": _test,
}

# Programs modelled inside the shell because they only move text between files and streams;
# also found by path (/bin/cat). Everything else goes to the runtime's handler.
_UTILITIES: dict[str, Builtin] = {
    "echo": _echo,
    "printf": _printf,
    "true": _true,
    "false": _false,
    "sleep": _sleep,
    "cat": _cat,
    "tee": _tee,
    "grep": _grep,
    "egrep": _grep,
    "mkdir": _mkdir,
    "touch": _touch,
    "rm": _rm,
}
