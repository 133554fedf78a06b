{{/* SPDX-License-Identifier: GPL-2.0-or-later */}}
{{- define "byoc.name" -}}{{ .Release.Name }}-byoc{{- end -}}
{{- define "byoc.labels" -}}
app.kubernetes.io/part-of: byoc-edge
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "byoc.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "byoc.redisEnv" -}}
- name: BYOC_REDIS_URL
{{- if .Values.redis.urlSecret }}
  valueFrom: {secretKeyRef: {name: {{ .Values.redis.urlSecret }}, key: url}}
{{- else }}
  value: {{ .Values.redis.url | quote }}
{{- end }}
- name: BYOC_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.name }}, key: secret-key}}
- name: BYOC_WORKER_SECRET
  valueFrom: {secretKeyRef: {name: {{ .Values.secrets.name }}, key: worker-secret}}
{{- end -}}
