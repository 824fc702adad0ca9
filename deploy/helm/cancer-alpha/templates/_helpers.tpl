{{/* Names, labels and the pieces every pod of the chart shares. */}}

{{- define "cancer-alpha.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name; components append -portal, -worker... (52 + 11 characters stay within 63). */}}
{{- define "cancer-alpha.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "cancer-alpha.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cancer-alpha.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "cancer-alpha.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "portal"). */}}
{{- define "cancer-alpha.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cancer-alpha.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cancer-alpha.componentLabels" -}}
{{ include "cancer-alpha.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cancer-alpha.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cancer-alpha.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag or repository@digest; the tag defaults to the chart's appVersion. */}}
{{- define "cancer-alpha.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "cancer-alpha.modelsClaim" -}}
{{- default (printf "%s-models" (include "cancer-alpha.fullname" .)) .Values.persistence.models.existingClaim -}}
{{- end -}}

{{- define "cancer-alpha.varClaim" -}}
{{- default (printf "%s-var" (include "cancer-alpha.fullname" .)) .Values.persistence.var.existingClaim -}}
{{- end -}}

{{/* The non-secret settings, as NAME: "value" lines: the ConfigMap's data, and the migration Job's env
     (a pre-install hook runs before the ConfigMap exists). One list, so the two never differ. */}}
{{- define "cancer-alpha.configData" -}}
{{- $c := .Values.config -}}
CANCER_ALPHA_ENV: {{ $c.env | quote }}
{{- if and $c.redisUrl (not .Values.existingSecret.keys.redisUrl) }}
CANCER_ALPHA_REDIS_URL: {{ $c.redisUrl | quote }}
{{- end }}
{{- if $c.prometheusUrl }}
CANCER_ALPHA_PROMETHEUS_URL: {{ $c.prometheusUrl | quote }}
{{- end }}
CANCER_ALPHA_TRUSTED_PROXY_HOPS: {{ $c.trustedProxyHops | quote }}
CANCER_ALPHA_BATCH_CHUNK_SAMPLES: {{ $c.batchChunkSamples | quote }}
CANCER_ALPHA_RETENTION_DAYS: {{ $c.retentionDays | quote }}
CANCER_ALPHA_LOG_FORMAT: {{ $c.logFormat | quote }}
CANCER_ALPHA_ADMIN_EMAIL: {{ $c.adminEmail | quote }}
CANCER_ALPHA_METRICS_ALLOW: {{ $c.metricsAllow | quote }}
CANCER_ALPHA_MODELS_DIR: {{ $c.modelsDir | quote }}
CANCER_ALPHA_VAR_DIR: {{ $c.varDir | quote }}
CANCER_ALPHA_DATA_DIR: {{ printf "%s/data" $c.varDir | quote }}
CANCER_ALPHA_BIND: {{ printf "0.0.0.0:%d" (int .Values.service.port) | quote }}
CANCER_ALPHA_FORWARDED_ALLOW_IPS: {{ $c.forwardedAllowIps | quote }}
GUNICORN_WORKERS: {{ .Values.gunicorn.workers | quote }}
GUNICORN_THREADS: {{ .Values.gunicorn.threads | quote }}
GUNICORN_TIMEOUT: {{ .Values.gunicorn.timeoutSeconds | quote }}
{{- /* The root file system is read-only: caches and runtime files of libraries go to the /tmp emptyDir. */}}
HOME: "/tmp"
MPLCONFIGDIR: "/tmp/matplotlib"
NUMBA_CACHE_DIR: "/tmp/numba"
XDG_CACHE_HOME: "/tmp/.cache"
PYTHONDONTWRITEBYTECODE: "1"
{{- range $name, $value := $c.extra }}
{{ $name }}: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* Secret references (never values): the same Secret entries in every pod. */}}
{{- define "cancer-alpha.secretEnv" -}}
{{- $secret := .Values.existingSecret -}}
- name: CANCER_ALPHA_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.keys.secretKey }}
- name: CANCER_ALPHA_STORAGE_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.keys.storageKey }}
- name: CANCER_ALPHA_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.keys.databaseUrl }}
- name: CANCER_ALPHA_METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.keys.metricsToken }}
{{- if $secret.keys.redisUrl }}
- name: CANCER_ALPHA_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.keys.redisUrl }}
{{- end }}
{{- if $secret.keys.adminPassword }}
- name: CANCER_ALPHA_ADMIN_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret.name }}
      key: {{ $secret.keys.adminPassword }}
{{- end }}
{{- end -}}

{{/* The environment of a long-running pod: the ConfigMap, then the Secret references. */}}
{{- define "cancer-alpha.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "cancer-alpha.fullname" . }}-config
{{- end -}}

{{- define "cancer-alpha.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
fsGroup: {{ .Values.podSecurityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "cancer-alpha.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Volumes: call with (dict "root" $ "var" true "models" true "prometheus" false "modelsWritable" false).
     var and models are the shared claims; /tmp is always an emptyDir. */}}
{{- define "cancer-alpha.volumes" -}}
{{- $root := .root -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ $root.Values.persistence.tmpSizeLimit }}
{{- if .prometheus }}
- name: prometheus-multiproc
  emptyDir:
    sizeLimit: 256Mi
{{- end }}
{{- if .models }}
- name: models
  persistentVolumeClaim:
    claimName: {{ include "cancer-alpha.modelsClaim" $root }}
    readOnly: {{ not .modelsWritable }}
{{- end }}
{{- if .var }}
- name: var
  persistentVolumeClaim:
    claimName: {{ include "cancer-alpha.varClaim" $root }}
{{- else }}
- name: var
  emptyDir:
    sizeLimit: 256Mi
{{- end }}
{{- end -}}

{{- define "cancer-alpha.volumeMounts" -}}
{{- $root := .root -}}
- name: tmp
  mountPath: /tmp
{{- if .prometheus }}
- name: prometheus-multiproc
  mountPath: {{ $root.Values.persistence.prometheusMultiprocDir }}
{{- end }}
{{- if .models }}
- name: models
  mountPath: {{ $root.Values.config.modelsDir }}
  readOnly: {{ not .modelsWritable }}
{{- end }}
- name: var
  mountPath: {{ $root.Values.config.varDir }}
{{- end -}}

{{/* A pod's scheduling and identity fields shared by every component. */}}
{{- define "cancer-alpha.podCommon" -}}
serviceAccountName: {{ include "cancer-alpha.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "cancer-alpha.podSecurityContext" . | nindent 2 }}
{{- end -}}

{{/* Checksum of the ConfigMap, so a changed setting rolls the pods. */}}
{{- define "cancer-alpha.configChecksum" -}}
checksum/config: {{ include "cancer-alpha.configData" . | sha256sum }}
{{- end -}}
