"""``curl``, ``sha256sum`` and ``tar`` for simulated containers: taking source without git.

A bootstrap on an image without git (fact image-no-git) takes vllm-omni's source as a tarball
(fact omni-sdist-on-pypi): ``curl`` serves the URLs of ``vllm_images.DOWNLOADS`` (any other URL is a
404), ``sha256sum`` checks them against the row's digest, and ``tar`` unpacks them into a directory
whose ``pyproject.toml`` names the project and version, which the pip model then installs.

A downloaded tarball is a file of the virtual file system holding ``ARCHIVE_MAGIC`` and the row's
name, so it survives redirections, pipes and ``cat``; every other file is text and hashes as such.
Not modelled: curl's progress meter (shown without ``-s``), archive creation (``tar -c``), other
compressions.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable

from sandbox.runtimes.shell import Invocation
from sandbox.runtimes.vllm_images import DOWNLOADS, Download, download_for

ARCHIVE_MAGIC = "\x1f\x8bsandbox-archive:"  # starts like gzip data; the row's name follows


def archive_content(download: Download) -> str:
    return f"{ARCHIVE_MAGIC}{download.name}\n"


def archive_of(content: str | None) -> Download | None:
    if not content or not content.startswith(ARCHIVE_MAGIC):
        return None
    name = content[len(ARCHIVE_MAGIC) :].strip()
    return next((d for d in DOWNLOADS if d.name == name), None)


def digest(content: str) -> str:
    archive = archive_of(content)
    return archive.sha256 if archive else hashlib.sha256(content.encode()).hexdigest()


def members(download: Download) -> dict[str, str]:
    """The tarball's files (path -> text), all under its one top directory."""
    top = download.top_directory
    pyproject = f'[project]\nname = "{download.project}"\nversion = "{download.version}"\n'
    files = {
        f"{top}/pyproject.toml": pyproject,
        f"{top}/README.md": f"# {download.project}\n",
        f"{top}/{download.project.replace('-', '_')}/__init__.py": "",
    }
    if download.name.endswith("sdist"):
        files[f"{top}/PKG-INFO"] = (
            f"Metadata-Version: 2.4\nName: {download.project}\nVersion: {download.version}\n"
        )
    return files


# ---------------------------------------------------------------------------------------------
# curl
# ---------------------------------------------------------------------------------------------

_CURL_VALUE_OPTIONS = {
    "-H", "--header", "-A", "--user-agent", "--retry", "--retry-delay", "--connect-timeout", "-m",
    "--max-time", "--proto", "-u", "--user", "-e", "--referer", "-x", "--proxy", "-w", "--write-out",
}  # fmt: skip


def curl(call: Invocation, wait: Callable[[float], None], seconds: float) -> int:
    flags: set[str] = set()
    output: str | None = None
    urls: list[str] = []
    args = call.argv[1:]
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("-o", "--output") and index + 1 < len(args):
            output = args[index + 1]
            index += 1
        elif arg.startswith("--output="):
            output = arg.split("=", 1)[1]
        elif arg in _CURL_VALUE_OPTIONS:
            index += 1
        elif arg.startswith("--"):
            flags.add({"--fail": "f", "--silent": "s", "--show-error": "S", "--location": "L"}.get(arg, arg))
            if arg == "--remote-name":
                flags.add("O")
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            if letters.endswith("o") and index + 1 < len(args):  # -fsSLo FILE
                output = args[index + 1]
                index += 1
                letters = letters[:-1]
            flags.update(letters)
        else:
            urls.append(arg)
        index += 1
    if not urls:
        call.err.line("curl: no URL specified!")
        return 2
    url = urls[0]
    quiet = "s" in flags and "S" not in flags
    download = download_for(url)
    wait(seconds)
    if download is None:  # GitHub and PyPI answer 404 for what they do not have
        if "f" in flags:
            if not quiet:
                call.err.line("curl: (22) The requested URL returned error: 404")
            return 22
        body = "Not Found"
    elif download.redirects and "L" not in flags:
        body = ""  # the 302 answer itself: curl saves it unless told to follow (-L)
    else:
        body = archive_content(download)
    if "O" in flags and output is None:
        output = posixpath.basename(url.split("?", 1)[0])
    if output is None or output == "-":
        call.out.write(body)
        return 0
    path = call.path(output)
    if not call.fs.is_directory(posixpath.dirname(path)):
        call.err.line(f"Warning: Failed to open the file {output}: No such file or directory")
        call.err.line("curl: (23) Failure writing output to destination")
        return 23
    call.fs.write(path, body)
    return 0


# ---------------------------------------------------------------------------------------------
# sha256sum
# ---------------------------------------------------------------------------------------------

_CHECK_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def sha256sum(call: Invocation) -> int:
    args = call.argv[1:]
    check = any(a in ("-c", "--check") for a in args)
    quiet = "--quiet" in args
    status_only = "--status" in args
    names = [a for a in args if a == "-" or not a.startswith("-")]
    if not check:
        failed = False
        for name in names or ["-"]:
            content = call.stdin if name == "-" else call.fs.read(call.path(name))
            if content is None:
                call.err.line(f"sha256sum: {name}: No such file or directory")
                failed = True
                continue
            call.out.line(f"{digest(content)}  {name}")
        return 1 if failed else 0
    listing = call.stdin if not names or names == ["-"] else call.fs.read(call.path(names[0]))
    if listing is None:
        call.err.line(f"sha256sum: {names[0]}: No such file or directory")
        return 1
    entries = [m for m in (_CHECK_LINE.match(line.strip()) for line in listing.splitlines()) if m]
    if not entries:
        call.err.line(f"sha256sum: {names[0] if names else '-'}: no properly formatted checksum lines found")
        return 1
    mismatched = unreadable = 0
    for match in entries:
        expected, name = match.group(1).lower(), match.group(2)
        content = call.fs.read(call.path(name))
        if content is None:
            unreadable += 1
            call.err.line(f"sha256sum: {name}: No such file or directory")
            if not status_only:
                call.out.line(f"{name}: FAILED open or read")
            continue
        ok = digest(content) == expected
        mismatched += not ok
        if not status_only and not (ok and quiet):
            call.out.line(f"{name}: {'OK' if ok else 'FAILED'}")
    if not status_only:
        if unreadable:
            plural = "s" if unreadable > 1 else ""
            call.err.line(f"sha256sum: WARNING: {unreadable} listed file{plural} could not be read")
        if mismatched:
            plural = "s" if mismatched > 1 else ""
            call.err.line(f"sha256sum: WARNING: {mismatched} computed checksum{plural} did NOT match")
    return 1 if mismatched or unreadable else 0


# ---------------------------------------------------------------------------------------------
# tar
# ---------------------------------------------------------------------------------------------


def _tar_fatal(call: Invocation, *lines: str) -> int:
    for line in lines:
        call.err.line(line)
    return 2


def tar(call: Invocation, wait: Callable[[float], None], seconds: float) -> int:
    args = call.argv[1:]
    if args and not args[0].startswith("-"):
        args = ["-" + args[0], *args[1:]]  # old style: `tar xzf FILE`
    mode, gzip, verbose = "", False, False
    archive_name, directory, strip = "-", ".", 0
    pending: list[str] = []  # bundled letters that take the next words (f, C)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        long_name, _, inline = arg.partition("=")
        if arg.startswith("--"):
            value_needed = long_name in ("--file", "--directory", "--strip-components") and not inline
            value = args[index] if value_needed and index < len(args) else inline
            index += 1 if value_needed else 0
            if long_name == "--file":
                archive_name = value
            elif long_name == "--directory":
                directory = value
            elif long_name == "--strip-components":
                strip = int(value or 0)
            elif long_name in ("--extract", "--get", "--list", "--create"):
                mode = {"--list": "t", "--create": "c"}.get(long_name, "x")
            elif long_name in ("--gzip", "--gunzip", "--ungzip"):
                gzip = True
            elif long_name == "--verbose":
                verbose = True
        elif arg.startswith("-") and len(arg) > 1:
            for letter in arg[1:]:
                if letter in "xtc":
                    mode = letter
                elif letter == "z":
                    gzip = True
                elif letter == "v":
                    verbose = True
                elif letter in "fC":
                    pending.append(letter)
            while pending and index < len(args):
                value = args[index]
                index += 1
                if pending.pop(0) == "f":
                    archive_name = value
                else:
                    directory = value
        # other words (member names to extract) select members: everything is extracted here
    if mode == "c" or not mode:
        return 0 if mode == "c" else _tar_fatal(
            call, "tar: You must specify one of the '-Acdtrux', '--delete' or '--test-label' options",
            "Try 'tar --help' or 'tar --usage' for more information.",
        )  # fmt: skip
    if archive_name == "-":
        content: str | None = call.stdin
    else:
        content = call.fs.read(call.path(archive_name))
        if content is None:
            return _tar_fatal(
                call,
                f"tar: {archive_name}: Cannot open: No such file or directory",
                "tar: Error is not recoverable: exiting now",
            )
    download = archive_of(content)
    if download is None:
        if gzip or archive_name == "-":
            problem = "unexpected end of file" if not content else "not in gzip format"
            return _tar_fatal(
                call, f"gzip: stdin: {problem}", "tar: Child returned status 1",
                "tar: Error is not recoverable: exiting now",
            )  # fmt: skip
        return _tar_fatal(
            call, "tar: This does not look like a tar archive", "tar: Skipping to next header",
            "tar: Exiting with failure status due to previous errors",
        )  # fmt: skip
    target = call.path(directory)
    if mode == "x" and not call.fs.is_directory(target):
        return _tar_fatal(
            call,
            f"tar: {directory}: Cannot open: No such file or directory",
            "tar: Error is not recoverable: exiting now",
        )
    wait(seconds)
    for member, text in members(download).items():
        parts = member.split("/")[strip:]
        if not parts:
            continue
        if verbose or mode == "t":
            call.out.line(member)
        if mode == "x":
            path = posixpath.join(target, *parts)
            call.fs.make_directory(posixpath.dirname(path))
            call.fs.write(path, text)
    return 0


def project_at(read: Callable[[str], str | None], directory: str) -> tuple[str, str] | None:
    """(name, version) of the Python project in ``directory``, from its pyproject.toml."""
    text = read(posixpath.join(directory, "pyproject.toml"))
    if text is None:
        return None
    name = re.search(r'^name\s*=\s*"([^"]+)"', text, re.MULTILINE)
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return (
        name.group(1) if name else posixpath.basename(directory),
        version.group(1) if version else "0.0.0",
    )
