{{/*
Naming, labels and small shared snippets. Pod-level pieces (env, volumes,
probes, security) live in _pod.tpl; cross-field checks live in _validate.tpl.
*/}}

{{- define "jetjobs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every object: <release>-<chart>, or just the release name
when it already contains the chart name (release "jetjobs" -> "jetjobs").
*/}}
{{- define "jetjobs.fullname" -}}
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

{{/*
jetjobs.objectName: "<fullname>-<suffix>", failing instead of truncating when
it is longer than 63 characters (a truncated name could silently collide with
another worker's, and label values / Service names cannot be longer).
Call with (list $ "suffix").
*/}}
{{- define "jetjobs.objectName" -}}
{{- $root := index . 0 }}
{{- $name := printf "%s-%s" (include "jetjobs.fullname" $root) (index . 1) }}
{{- if gt (len $name) 63 }}
{{- fail (printf "object name %q is %d characters long; Kubernetes allows 63. Shorten the release name, fullnameOverride or the worker name." $name (len $name)) }}
{{- end }}
{{- $name }}
{{- end }}

{{- define "jetjobs.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "jetjobs.labels" -}}
helm.sh/chart: {{ include "jetjobs.chart" . }}
{{ include "jetjobs.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: jetjobs
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that select this release's pods (never change them: selectors are immutable). */}}
{{- define "jetjobs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jetjobs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one worker's pods. Call with (list $ $worker). */}}
{{- define "jetjobs.worker.selectorLabels" -}}
{{ include "jetjobs.selectorLabels" (index . 0) }}
app.kubernetes.io/component: worker
jetjobs/worker: {{ (index . 1).name }}
{{- end }}

{{- define "jetjobs.ui.selectorLabels" -}}
{{ include "jetjobs.selectorLabels" . }}
app.kubernetes.io/component: ui
{{- end }}

{{- define "jetjobs.scheduler.selectorLabels" -}}
{{ include "jetjobs.selectorLabels" . }}
app.kubernetes.io/component: scheduler
{{- end }}

{{/*
Label on every pod that serves /metrics, selected by the metrics Service (the
provision Jobs' pods share the release labels but serve no metrics).
*/}}
{{- define "jetjobs.metricsLabel" -}}
jetjobs/metrics: "true"
{{- end }}

{{- define "jetjobs.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jetjobs.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "jetjobs.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
jetjobs.workers: the workers list with workerDefaults deep-merged under each
entry, as YAML ({"workers": [...]}) so callers can fromYaml it.
*/}}
{{- define "jetjobs.workers" -}}
{{- $merged := list }}
{{- range .Values.workers }}
{{- $merged = append $merged (mustMergeOverwrite (deepCopy $.Values.workerDefaults) (deepCopy .)) }}
{{- end }}
{{- toYaml (dict "workers" $merged) }}
{{- end }}

{{/*
Termination grace period of a worker: the shutdown grace plus preStop sleep
plus a margin. Kubernetes sends SIGKILL when it runs out, so it must leave the
worker time to nak unfinished jobs and drain after --shutdown-grace-s.
*/}}
{{- define "jetjobs.worker.terminationGrace" -}}
{{- $w := . }}
{{- $needed := add $w.shutdownGraceSeconds $w.preStopSleepSeconds }}
{{- if kindIs "invalid" $w.terminationGracePeriodSeconds }}
{{- add $needed $w.drainMarginSeconds }}
{{- else }}
{{- $w.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
Priorities a queue has consumers for (config.queues.<q>.priorities, default all).
Call with (list $ "queue"); returns a comma-separated string.
*/}}
{{- define "jetjobs.queuePriorities" -}}
{{- $root := index . 0 }}
{{- $q := index . 1 }}
{{- $cfg := default dict (index (default dict $root.Values.config.queues) $q) }}
{{- $prios := default (list "high" "normal" "low") $cfg.priorities }}
{{- join "," $prios }}
{{- end }}

{{/* JetStream stream of a queue: JOBS_<queue>, or <NAMESPACE>_JOBS_<queue> (see framework/jetjobs/_names.py). */}}
{{- define "jetjobs.streamName" -}}
{{- $root := index . 0 }}
{{- $ns := $root.Values.config.namespace | default "" | upper | replace "-" "_" }}
{{- if $ns }}
{{- printf "%s_JOBS_%s" $ns (index . 1) }}
{{- else }}
{{- printf "JOBS_%s" (index . 1) }}
{{- end }}
{{- end }}

{{/*
Effective KEDA / HPA settings of a worker: these defaults with the worker's
autoscaling.keda / autoscaling.hpa merged over them. Returned as YAML.
*/}}
{{- define "jetjobs.kedaSettings" -}}
{{- $defaults := dict "trigger" "nats-jetstream" "lagThreshold" 20 "activationLagThreshold" 0 "pollingInterval" 15 "cooldownPeriod" 300 "query" "" }}
{{- toYaml (mustMergeOverwrite $defaults (deepCopy (default dict .autoscaling.keda))) }}
{{- end }}

{{- define "jetjobs.hpaSettings" -}}
{{- $defaults := dict "cpuAverageUtilization" 70 "backlogMetricType" "External" "backlogAverageValue" 20 "metricName" "jetjobs_queue_backlog" }}
{{- toYaml (mustMergeOverwrite $defaults (deepCopy (default dict .autoscaling.hpa))) }}
{{- end }}

{{/*
Annotations of the provision hook objects. Lower weights run first: the
ConfigMap, Secrets and ServiceAccount (-10) exist before the Jobs (0) start.
before-hook-creation replaces leftovers of a previous run; hook-succeeded
cleans up once every hook of the phase succeeded (failed Jobs stay for
`kubectl logs` until the next attempt).
*/}}
{{- define "jetjobs.hookAnnotations" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}

{{/* minAvailable when set, else maxUnavailable (a PDB takes only one of them). */}}
{{- define "jetjobs.pdbBudget" -}}
{{- if not (kindIs "invalid" .minAvailable) }}
minAvailable: {{ .minAvailable }}
{{- else }}
maxUnavailable: {{ .maxUnavailable }}
{{- end }}
{{- end }}
