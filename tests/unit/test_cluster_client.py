"""module_utils/cluster_client.py: which configuration is used, and what each failure says.

Temporary kubeconfigs, a monkeypatched environment and, for the request path, a tiny HTTP server on
127.0.0.1 (plain HTTP, or a plain-HTTP port behind an https:// URL for the TLS failure); no network.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from ansible_collections.local_llm.tts.plugins.module_utils import cluster_client
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    ClusterConfigError,
    ClusterUnavailable,
    open_cluster,
    select_source,
)
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import HelmCli

TOKEN = "s3cr3t-token-value"


def kubeconfig(
    path: Path,
    server: str = "http://127.0.0.1:9",
    contexts: tuple[str, ...] = ("one",),
    current: str | None = "one",
    user: dict | None = None,
    **cluster,
) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": f"{name}-cluster", "cluster": {"server": server, **cluster}} for name in contexts
        ],
        "users": [{"name": f"{name}-user", "user": user or {"token": TOKEN}} for name in contexts],
        "contexts": [
            {"name": name, "context": {"cluster": f"{name}-cluster", "user": f"{name}-user"}}
            for name in contexts
        ],
    }
    if current:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No KUBECONFIG, a HOME without ~/.kube/config, not in a pod."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return monkeypatch


# -- source selection --------------------------------------------------------------------------------
def test_the_option_wins_over_kubeconfig_and_the_default(env, tmp_path):
    given = kubeconfig(tmp_path / "given")
    env.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "from-env")))
    (Path.home() / ".kube").mkdir()
    kubeconfig(Path.home() / ".kube" / "config")
    source = select_source(str(given))
    assert (source.kind, source.files, source.label) == ("option", (str(given),), f"kubeconfig {given}")


@pytest.mark.parametrize("option", [None, ""])
def test_kubeconfig_env_when_no_option_including_a_list_with_missing_entries(env, tmp_path, option):
    second = kubeconfig(tmp_path / "second")
    listed = f"{tmp_path / 'missing'}:{second}"
    env.setenv("KUBECONFIG", listed)
    source = select_source(option)
    assert (source.kind, source.files) == ("KUBECONFIG", (str(second),))
    assert source.label == f"kubeconfig $KUBECONFIG={listed}"


def test_the_default_file_then_in_cluster(env, tmp_path):
    with pytest.raises(ClusterConfigError) as nothing:
        select_source(None)
    assert str(nothing.value).startswith("CONFIG: no kubeconfig: none given, $KUBECONFIG unset")
    assert ".kube/config not found" in str(nothing.value)

    token = tmp_path / "token"
    token.write_text("sa-token")
    env.setattr(cluster_client, "IN_CLUSTER_TOKEN", str(token))
    env.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert select_source(None).kind == "in-cluster"

    default = Path.home() / ".kube" / "config"
    default.parent.mkdir()
    kubeconfig(default)
    assert (select_source(None).kind, select_source(None).files) == ("default", (str(default),))


def test_in_cluster_config_uses_the_service_account(env, tmp_path):
    from kubernetes.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token")
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env.setattr(cluster_client, "IN_CLUSTER_TOKEN", str(token))
    env.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    env.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    env.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    env.setenv("KUBERNETES_SERVICE_PORT", "443")
    cluster = open_cluster(None, None)
    assert (cluster.server, cluster.context, cluster.source.kind) == (
        "https://10.0.0.1:443",
        "in-cluster",
        "in-cluster",
    )
    assert cluster.api.configuration.verify_ssl is True
    assert "in-cluster service account" in cluster.where


def test_a_missing_kubeconfig_names_the_path(env, tmp_path):
    missing = tmp_path / "nope" / "kubeconfig"
    with pytest.raises(ClusterConfigError) as given:
        open_cluster(str(missing), None)
    assert str(given.value) == f"CONFIG: kubeconfig {missing} not found (file missing)"
    env.setenv("KUBECONFIG", f"{missing}:{tmp_path / 'other'}")
    with pytest.raises(ClusterConfigError) as listed:
        open_cluster("", None)
    assert f"$KUBECONFIG={missing}:{tmp_path / 'other'} not found" in str(listed.value)
    assert "No configuration found" not in str(given.value) + str(listed.value)


def test_an_empty_file_first_in_the_list_is_skipped_and_contexts_merge(env, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    other = kubeconfig(tmp_path / "other", server="http://127.0.0.1:1", contexts=("other",), current="other")
    sandbox = kubeconfig(
        tmp_path / "sandbox", server="http://127.0.0.1:2", contexts=("sandbox",), current="sandbox"
    )
    env.setenv("KUBECONFIG", f"{empty}:{sandbox}")
    cluster = open_cluster(None, None)
    assert (cluster.context, cluster.server) == ("sandbox", "http://127.0.0.1:2")
    # kubectl's merge: the first file's current-context and entries win; later files add contexts.
    env.setenv("KUBECONFIG", f"{other}:{sandbox}")
    assert open_cluster(None, None).context == "other"
    assert open_cluster(None, "sandbox").server == "http://127.0.0.1:2"


def test_an_unknown_context_names_it_and_the_file(env, tmp_path):
    path = kubeconfig(tmp_path / "kc", contexts=("a", "b"), current="a")
    with pytest.raises(ClusterConfigError) as unknown:
        open_cluster(str(path), "prod")
    assert str(unknown.value) == f"CONFIG: context 'prod' not found in kubeconfig {path} (contexts: a, b)"
    kubeconfig(path, contexts=("a",), current=None)
    with pytest.raises(ClusterConfigError) as none:
        open_cluster(str(path), None)
    assert "no context given and" in str(none.value) and str(path) in str(none.value)


def test_invalid_yaml_and_a_context_without_its_cluster(env, tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("clusters: [\n")
    with pytest.raises(ClusterConfigError, match=rf"^CONFIG: kubeconfig {bad} is not valid YAML"):
        open_cluster(str(bad), None)
    broken = kubeconfig(tmp_path / "broken")
    config = yaml.safe_load(broken.read_text())
    config["clusters"] = []
    broken.write_text(yaml.safe_dump(config))
    with pytest.raises(
        ClusterConfigError, match=rf"^CONFIG: cannot use context 'one' of kubeconfig {broken}"
    ):
        open_cluster(str(broken), None)


def test_tls_is_always_verified(env, tmp_path):
    path = kubeconfig(tmp_path / "kc", server="https://127.0.0.1:9", **{"insecure-skip-tls-verify": True})
    cluster = open_cluster(str(path), None)
    assert cluster.api.configuration.verify_ssl is True and cluster.skip_tls_asked


def test_the_kubeconfig_files_are_never_written(env, tmp_path):
    path = kubeconfig(tmp_path / "kc")
    before = path.read_bytes()
    open_cluster(str(path), None)
    assert path.read_bytes() == before


# -- helm gets the same source ----------------------------------------------------------------------
def test_helm_gets_kubeconfig_only_when_given_and_inherits_the_environment(env, tmp_path):
    seen: list = []

    def runner(argv, environ):
        seen.append((list(argv), environ))
        return type("Done", (), {"returncode": 0, "stdout": "{}", "stderr": ""})()

    env.setenv("KUBECONFIG", "/a:/b")
    HelmCli("r", kubeconfig="", context="", runner=runner).run("status", "r")
    HelmCli("r", kubeconfig=None, context=None, runner=runner).run("status", "r")
    HelmCli("r", kubeconfig="/k", context="c", runner=runner).run("status", "r")
    assert [argv[3:] for argv, _ in seen] == [
        ["--namespace", "default"],
        ["--namespace", "default"],
        ["--namespace", "default", "--kubeconfig", "/k", "--kube-context", "c"],
    ]
    assert all(environ["KUBECONFIG"] == "/a:/b" for _, environ in seen)


# -- the request path --------------------------------------------------------------------------------
class Server:
    """127.0.0.1 HTTP server answering from a script: [(status, body) or "reset"], the last one repeated."""

    def __init__(self, script: list) -> None:
        self.script, self.requests = list(script), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Authorization")))
                step = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                if step == "reset":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, body = step
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PUT = do_DELETE = do_GET

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    started: list[Server] = []

    def start(*script) -> Server:
        started.append(Server(list(script)))
        return started[-1]

    yield start
    for one in started:
        one.close()


VERSION = (200, {"gitVersion": "v1.31.0"})
STATUS_401 = (401, {"kind": "Status", "message": "Unauthorized", "code": 401})


def test_version_with_the_bearer_token(env, tmp_path, server):
    api = server(VERSION)
    cluster = open_cluster(str(kubeconfig(tmp_path / "kc", server=api.url)), None)
    assert cluster.version() == "v1.31.0"
    assert api.requests == [("/version", f"Bearer {TOKEN}"), ("/api", f"Bearer {TOKEN}")]


def test_a_public_version_does_not_hide_a_bad_token(env, tmp_path, server):
    api = server(VERSION, STATUS_401)  # /version answers anyone; /api needs the credentials
    path = kubeconfig(tmp_path / "kc", server=api.url)
    with pytest.raises(
        ClusterConfigError, match=r"rejected the credentials \(401 Unauthorized\) for GET /api"
    ):
        open_cluster(str(path), None).version()


def test_token_file_and_exec_plugin_users(env, tmp_path, server):
    api = server(VERSION)
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file")
    path = kubeconfig(tmp_path / "kc", server=api.url, user={"tokenFile": str(token_file)})
    open_cluster(str(path), None).version()
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        "'kind': 'ExecCredential', 'status': {'token': 'from-exec'}}))\n"
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(plugin)],
            "interactiveMode": "Never",
        }
    }
    open_cluster(str(kubeconfig(tmp_path / "exec", server=api.url, user=user)), None).version()
    assert [auth for _, auth in api.requests] == ["Bearer from-a-file"] * 2 + ["Bearer from-exec"] * 2


def test_401_and_403_name_context_file_and_server_never_the_token(env, tmp_path, server):
    api = server(STATUS_401)
    path = kubeconfig(tmp_path / "kc", server=api.url)
    with pytest.raises(ClusterConfigError) as rejected:
        open_cluster(str(path), None).version()
    message = str(rejected.value)
    assert message == (
        f"CONFIG: the API server at {api.url} (context 'one' of kubeconfig {path}) rejected the "
        "credentials (401 Unauthorized) for GET /version"
    )
    assert TOKEN not in message
    forbidden = server((403, {"message": 'leases is forbidden: User "x" cannot get'}))
    cluster = open_cluster(str(kubeconfig(tmp_path / "kc2", server=forbidden.url)), None)
    with pytest.raises(ClusterConfigError, match=r"refused access \(403 leases is forbidden"):
        cluster.get_json("/apis/coordination.k8s.io/v1/namespaces/default/leases/x")
    assert len(forbidden.requests) == 1  # not retried


def test_an_unreachable_server_names_the_url_at_once(env, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = kubeconfig(tmp_path / "kc", server=f"http://127.0.0.1:{port}")
    with pytest.raises(ClusterConfigError) as unreachable:
        open_cluster(str(path), None).version()
    assert str(unreachable.value) == (
        f"CONFIG: cannot reach the API server at http://127.0.0.1:{port} (context 'one' of kubeconfig "
        f"{path}): connection refused"
    )


def test_a_tls_failure_is_a_config_error(env, tmp_path, server):
    plain = server(VERSION)  # plain HTTP behind an https:// URL: the handshake fails
    url = plain.url.replace("http://", "https://")
    path = kubeconfig(tmp_path / "kc", server=url, **{"insecure-skip-tls-verify": True})
    with pytest.raises(ClusterConfigError) as failed:
        open_cluster(str(path), None).version()
    message = str(failed.value)
    assert message.startswith(f"CONFIG: TLS verification of the API server at {url} (context 'one' of ")
    assert "insecure-skip-tls-verify is not honoured" in message


def test_5xx_and_resets_are_retried_then_not_a_config_error(env, tmp_path, server, monkeypatch):
    monkeypatch.setattr(cluster_client, "BACKOFF_FIRST", 0.01)
    flaky = server((503, {"message": "etcd"}), "reset", (500, {}), VERSION)
    cluster = open_cluster(str(kubeconfig(tmp_path / "kc", server=flaky.url)), None)
    assert cluster.get_json("/version") == {"gitVersion": "v1.31.0"}
    assert len(flaky.requests) == 4

    down = server((503, {"message": "etcd is down"}))
    cluster = open_cluster(str(kubeconfig(tmp_path / "kc2", server=down.url)), None)
    with pytest.raises(ClusterUnavailable) as unavailable:
        cluster.get_json("/version", retry_seconds=0.3)
    assert not str(unavailable.value).startswith("CONFIG:")
    assert "answered 503 etcd is down" in str(unavailable.value) and 2 < len(down.requests) < 40
    # Without retries (the watch path, the service proxy) a 5xx is the caller's to judge.
    assert cluster.request("GET", "/x", retry_seconds=0).status == 503


def test_a_refused_connection_after_an_answer_is_an_outage_not_a_config_error(env, tmp_path, server):
    api = server(VERSION)
    cluster = open_cluster(str(kubeconfig(tmp_path / "kc", server=api.url)), None)
    cluster.version()
    api.close()
    with pytest.raises(ClusterUnavailable, match="stopped answering"):
        cluster.get_json("/version", retry_seconds=0.2)


def test_retriable_is_the_watch_paths_rule_too():
    from ansible_collections.local_llm.tts.plugins.module_utils import rollout
    from kubernetes.client.exceptions import ApiException

    assert rollout.call_with_retry is cluster_client.call_with_retry
    assert cluster_client.retriable(ApiException(status=503))
    assert cluster_client.retriable(ClusterUnavailable("x"))
    assert not cluster_client.retriable(ApiException(status=404))
    assert not cluster_client.retriable(ClusterConfigError("x"))
    assert not cluster_client.retriable(ApiException(status=0, reason="SSLError\nbad cert"))
