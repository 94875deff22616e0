#!/usr/bin/python
"""local_llm.tts.service_check: is the TTS service healthy and does it speak?"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_check
short_description: Check the TTS service's /health and a speech request
description:
  - Read-only; C(changed) is always false.
  - C(GET /health) must answer 200; it is retried with back-off until C(timeout). By default the request
    goes through the API server's service proxy
    (C(/api/v1/namespaces/NS/services/SERVICE:PORT/proxy/health)) with the official client, so
    authentication and TLS come from the kubeconfig. With C(health_url) the health check is a plain
    HTTP(S) GET of that URL instead (TLS verified).
  - With C(verify_speech), each of C(speech_texts) is sent as C(POST /v1/audio/speech)
    (JSON with C(input), C(voice), C(language) and C(response_format=wav)) through the service proxy;
    the answer
    must be a RIFF/WAVE file, 24 kHz mono 16-bit, longer than 0.3 s and shorter than 60 s.
options:
  service:
    description: Service name, e.g. C(local-llm-tts).
    type: str
    required: true
  port:
    description: Service port.
    type: int
    default: 8006
  health_url:
    description: When set, GET this URL for the health check instead of the service proxy.
    type: str
  timeout:
    description: Seconds to keep retrying the health check.
    type: int
    default: 120
  verify_speech:
    description: Also request speech and validate the audio.
    type: bool
    default: true
  speech_texts:
    description: Texts to synthesise (language sent as Chinese for CJK text, English for ASCII).
    type: list
    elements: str
    default: ["你好，欢迎使用语音合成服务。", "Hello, the speech service is working."]
  voice:
    description: Voice name.
    type: str
    default: vivian
notes:
  - Supports check mode (it only reads).
requirements:
  - kubernetes (official Python client)
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
author:
  - tts-runbooks maintainers
"""  # noqa: RUF001 (the Chinese default text)

EXAMPLES = r"""
- name: Health and speech through the API server's service proxy
  local_llm.tts.service_check:
    kubeconfig: "{{ kubeconfig }}"
    service: local-llm-tts
    port: 8006
"""

RETURN = r"""
health:
  description: C(ok), or why the health check failed (last HTTP status and body, or connection error).
  returned: always
  type: str
health_attempts:
  description: Health requests made.
  returned: always
  type: int
speech:
  description: One entry per text.
  returned: always
  type: list
  elements: dict
  contains:
    text: {description: The input text, type: str}
    ok: {description: Whether the audio passed the checks, type: bool}
    latency_ms: {description: Request latency in milliseconds, type: float}
    duration_seconds: {description: Audio duration, type: float}
    error: {description: Why it failed, type: str}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION, NAMESPACE

try:
    import kubernetes  # noqa: F401

    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    ClusterConfigError,
    open_cluster,
)
from ansible_collections.local_llm.tts.plugins.module_utils.tts_checks import (
    DEFAULT_SPEECH_TEXTS,
    DEFAULT_VOICE,
    run_checks,
    service_proxy_transport,
    url_transport,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            "service": {"type": "str", "required": True},
            "port": {"type": "int", "default": 8006},
            "health_url": {"type": "str"},
            "timeout": {"type": "int", "default": 120},
            "verify_speech": {"type": "bool", "default": True},
            "speech_texts": {"type": "list", "elements": "str", "default": list(DEFAULT_SPEECH_TEXTS)},
            "voice": {"type": "str", "default": DEFAULT_VOICE},
        },
        supports_check_mode=True,
    )
    p = module.params
    needs_api = p["verify_speech"] or not p["health_url"]
    if needs_api and not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    try:
        send = None
        if needs_api:
            send = service_proxy_transport(
                open_cluster(p["kubeconfig"], p["context"]), p["namespace"], p["service"], p["port"]
            )
        health_send = url_transport(p["health_url"]) if p["health_url"] else None
        result = run_checks(
            send or health_send,
            p["timeout"],
            verify_speech=p["verify_speech"],
            speech_texts=p["speech_texts"],
            voice=p["voice"],
            health_send=health_send,
        )
    except ClusterConfigError as exc:  # kubeconfig, context, credentials, TLS, address
        module.fail_json(msg=str(exc), changed=False)
    except Exception as exc:
        module.fail_json(msg=f"cannot check service {p['service']}: {exc}", changed=False)
    failed = result.pop("failed")
    if failed:
        module.fail_json(changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
