{{/*
Names and labels. Every model service is a top-level values block with `model` and
`service` keys; its objects are named <release>-<block>, e.g. local-llm-tts.
*/}}

{{- define "custom-chart.chart" -}}
{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels for one service. Call with (dict "root" $ "name" $name). */}}
{{- define "custom-chart.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* All labels for one service's objects. Call with (dict "root" $ "name" $name). */}}
{{- define "custom-chart.labels" -}}
{{ include "custom-chart.selectorLabels" . }}
helm.sh/chart: {{ include "custom-chart.chart" .root }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/*
Container entrypoint, run as `/bin/bash -c <this> vllm-entrypoint <extraArgs...>`.
BOOTSTRAP, MODEL_PATH and SERVICE_PORT come from the container's env.
The bootstrap runs under `bash -e` (its first failing command ends it); the server starts
even when the bootstrap failed.
*/}}
{{- define "custom-chart.entrypoint" -}}
set -e
if [ -n "${BOOTSTRAP:-}" ]; then
  echo "Running bootstrap command: ${BOOTSTRAP}"
  bash -e -c "${BOOTSTRAP}" || echo "Bootstrap command failed with exit code $?; starting the server anyway"
fi
echo "vllm serve ${MODEL_PATH} --port ${SERVICE_PORT} $*"
exec vllm serve "${MODEL_PATH}" --port "${SERVICE_PORT}" "$@"
{{- end }}
