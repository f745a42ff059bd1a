{{/* Names are cut at 63 characters: the limit of a DNS label, which Services and labels must fit. */}}
{{- define "aigate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aigate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "aigate.metricsName" -}}
{{- printf "%s-metrics" (include "aigate.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "aigate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aigate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The selector of a Deployment cannot change after install: keep it to these two. */}}
{{- define "aigate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aigate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "aigate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aigate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* A whole number of seconds, or the render stops with what to set. */}}
{{- define "aigate.seconds" -}}
{{- $v := index . 1 }}
{{- if not (or (kindIs "int" $v) (kindIs "int64" $v) (kindIs "float64" $v)) }}
{{- fail (printf "%s must be a whole number of seconds (such as 30), not %q" (index . 0) (toString $v)) }}
{{- end }}
{{- if or (lt (float64 $v) 0.0) (ne (float64 $v) (float64 (int64 $v))) }}
{{- fail (printf "%s must be a whole number of seconds, 0 or more, not %v" (index . 0) $v) }}
{{- end }}
{{- int64 $v }}
{{- end }}

{{/* preStop + shutdown timeout + margin: the kubelet counts the preStop hook against the grace period. */}}
{{- define "aigate.terminationGracePeriodSeconds" -}}
{{- $pre := include "aigate.seconds" (list "preStopSleepSeconds" .Values.preStopSleepSeconds) | int64 }}
{{- $shutdown := include "aigate.seconds" (list "shutdownTimeoutSeconds" .Values.shutdownTimeoutSeconds) | int64 }}
{{- $margin := include "aigate.seconds" (list "terminationGraceMarginSeconds" .Values.terminationGraceMarginSeconds) | int64 }}
{{- if lt $margin 1 }}
{{- fail "terminationGraceMarginSeconds must be 1 or more: with none, the kubelet kills aigate before it has written its queued records and usage counters" }}
{{- end }}
{{- add $pre $shutdown $margin }}
{{- end }}

{{- define "aigate.checkValues" -}}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) 8080) }}
{{- fail "metrics.port is 8080, the port of the public listener: choose another (default 9464)" }}
{{- end }}
{{- if not .Values.postgres.existingSecret }}
{{- fail "postgres.existingSecret is empty: aigate needs an external PostgreSQL in Kubernetes. Create a Secret with the URL (kubectl create secret generic aigate-postgres --from-literal=url='postgres://USER:PASSWORD@HOST:5432/aigate') and install with --set postgres.existingSecret=aigate-postgres" }}
{{- end }}
{{- if not .Values.postgres.secretKey }}
{{- fail "postgres.secretKey is empty: set it to the key of the Secret postgres.existingSecret that holds the PostgreSQL URL (default url)" }}
{{- end }}
{{- if not .Values.encryption.existingSecret }}
{{- fail "encryption.existingSecret is empty: every replica needs the same AIGATE_ENCRYPTION_KEYS. Create a Secret with them (kubectl create secret generic aigate-encryption --from-literal=keys=\"$(openssl rand -base64 32)\"; see docs/configuration.md) and install with --set encryption.existingSecret=aigate-encryption" }}
{{- end }}
{{- if not .Values.encryption.secretKey }}
{{- fail "encryption.secretKey is empty: set it to the key of the Secret encryption.existingSecret that holds the encryption keys (default keys)" }}
{{- end }}
{{- end }}
