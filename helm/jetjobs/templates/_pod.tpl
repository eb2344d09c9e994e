{{/*
Pod pieces shared by workers, the scheduler and the provision Jobs.
Most take a context dict: (dict "root" $ "hook" false "serviceName" "payments" "deployment" "<name>")
  hook: true for the provision Jobs, which run before the release's own
        ConfigMap/Secrets exist and therefore use the hook copies of them.
*/}}

{{/* Paths of the mounted files (passed to jetjobs as JETJOBS_*_FILE). */}}
{{- define "jetjobs.configDir" -}}/etc/jetjobs/config{{- end }}
{{- define "jetjobs.authDir" -}}/etc/jetjobs/nats-auth{{- end }}
{{- define "jetjobs.tlsDir" -}}/etc/jetjobs/nats-tls{{- end }}

{{/* Names of the ConfigMap and Secrets a pod uses. Call with (dict "root" $ "hook" bool). */}}
{{- define "jetjobs.configMapName" -}}
{{- include "jetjobs.objectName" (list .root (ternary "config-provision" "config" .hook)) }}
{{- end }}

{{- define "jetjobs.authSecretName" -}}
{{- if .root.Values.nats.auth.existingSecret }}
{{- .root.Values.nats.auth.existingSecret }}
{{- else }}
{{- include "jetjobs.objectName" (list .root (ternary "nats-auth-provision" "nats-auth" .hook)) }}
{{- end }}
{{- end }}

{{- define "jetjobs.tlsSecretName" -}}
{{- if .root.Values.nats.tls.existingSecret }}
{{- .root.Values.nats.tls.existingSecret }}
{{- else }}
{{- include "jetjobs.objectName" (list .root (ternary "nats-tls-provision" "nats-tls" .hook)) }}
{{- end }}
{{- end }}

{{/* True (non-empty) when the credentials are files that must be mounted. */}}
{{- define "jetjobs.authIsFile" -}}
{{- if has .Values.nats.auth.method (list "creds" "nkey") }}true{{- end }}
{{- end }}

{{/* Pod-level fields common to every pod. Call with (dict "root" $ "hook" bool). */}}
{{- define "jetjobs.podCommon" -}}
{{- $v := .root.Values }}
serviceAccountName: {{ ternary (include "jetjobs.objectName" (list .root "provision")) (include "jetjobs.serviceAccountName" .root) (and .hook $v.serviceAccount.create) }}
automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
{{- /* Kubernetes injects <SERVICE>_PORT/_SERVICE_HOST variables for every Service
  in the namespace; a Service named "jetjobs-..." would yield JETJOBS_* variables,
  which jetjobs rejects as unknown settings at start. */}}
enableServiceLinks: false
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Scheduling fields of a workload (w = worker entry / scheduler values). Call with (dict "root" $ "w" $w "selector" "<yaml labels>"). */}}
{{- define "jetjobs.scheduling" -}}
{{- with .w.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .w.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .w.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .w.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .w.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml .w.topologySpreadConstraints | nindent 2 }}
{{- else if and .root.Values.defaultTopologySpread (not .noSpread) }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- .selector | nindent 8 }}
{{- end }}
{{- end }}

{{/* Environment of a jetjobs container. */}}
{{- define "jetjobs.env" -}}
{{- $v := .root.Values }}
{{- $auth := $v.nats.auth }}
{{- $tls := $v.nats.tls }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: JETJOBS_NATS_URL
{{- if $v.nats.urlSecret.name }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.nats.urlSecret.name }}
      key: {{ $v.nats.urlSecret.key }}
{{- else }}
  value: {{ $v.nats.url | quote }}
{{- end }}
{{- if eq $auth.method "userPassword" }}
- name: JETJOBS_NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "jetjobs.authSecretName" . }}
      key: {{ $auth.userKey }}
- name: JETJOBS_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "jetjobs.authSecretName" . }}
      key: {{ $auth.passwordKey }}
{{- else if eq $auth.method "token" }}
- name: JETJOBS_NATS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "jetjobs.authSecretName" . }}
      key: {{ $auth.tokenKey }}
{{- else if eq $auth.method "creds" }}
- name: JETJOBS_NATS_CREDS_FILE
  value: {{ printf "%s/%s" (include "jetjobs.authDir" .) $auth.credsKey | quote }}
{{- else if eq $auth.method "nkey" }}
- name: JETJOBS_NATS_NKEY_SEED_FILE
  value: {{ printf "%s/%s" (include "jetjobs.authDir" .) $auth.nkeySeedKey | quote }}
{{- end }}
{{- if $tls.enabled }}
- name: JETJOBS_NATS_TLS_CA_FILE
  value: {{ printf "%s/%s" (include "jetjobs.tlsDir" .) $tls.caKey | quote }}
{{- if $tls.clientCert }}
- name: JETJOBS_NATS_TLS_CERT_FILE
  value: {{ printf "%s/%s" (include "jetjobs.tlsDir" .) $tls.certKey | quote }}
- name: JETJOBS_NATS_TLS_KEY_FILE
  value: {{ printf "%s/%s" (include "jetjobs.tlsDir" .) $tls.keyKey | quote }}
{{- end }}
{{- end }}
- name: JETJOBS_CONFIG_FILE
  value: {{ printf "%s/jetjobs.yaml" (include "jetjobs.configDir" .) | quote }}
{{- if $v.otel.enabled }}
- name: JETJOBS_OTEL
  value: "true"
- name: OTEL_SERVICE_NAME
  value: {{ .serviceName | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $v.otel.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $v.otel.sampler | quote }}
{{- with $v.otel.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- $attrs := list "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.pod.name=$(POD_NAME)" (printf "service.version=%s" (default .root.Chart.AppVersion $v.image.tag)) }}
{{- with .deployment }}
{{- $attrs = append $attrs (printf "k8s.deployment.name=%s" .) }}
{{- end }}
{{- range $k, $val := $v.otel.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%v" $k $val) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with .w.env }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* envFrom of a jetjobs container (may be empty). */}}
{{- define "jetjobs.envFrom" -}}
{{- $all := concat (default list .root.Values.extraEnvFrom) (default list .w.envFrom) }}
{{- with $all }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "jetjobs.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: config
  mountPath: {{ include "jetjobs.configDir" . }}
  readOnly: true
{{- if include "jetjobs.authIsFile" .root }}
- name: nats-auth
  mountPath: {{ include "jetjobs.authDir" . }}
  readOnly: true
{{- end }}
{{- if .root.Values.nats.tls.enabled }}
- name: nats-tls
  mountPath: {{ include "jetjobs.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "jetjobs.volumes" -}}
{{- $v := .root.Values }}
- name: tmp
  emptyDir:
    sizeLimit: {{ $v.tmpSizeLimit }}
- name: config
  configMap:
    name: {{ include "jetjobs.configMapName" . }}
{{- if include "jetjobs.authIsFile" .root }}
- name: nats-auth
  secret:
    secretName: {{ include "jetjobs.authSecretName" . }}
    defaultMode: 288 # 0440: readable by the pod's fsGroup, not by others
    items:
      {{- $key := ternary $v.nats.auth.credsKey $v.nats.auth.nkeySeedKey (eq $v.nats.auth.method "creds") }}
      - key: {{ $key }}
        path: {{ $key }}
{{- end }}
{{- if $v.nats.tls.enabled }}
- name: nats-tls
  secret:
    secretName: {{ include "jetjobs.tlsSecretName" . }}
    defaultMode: 288 # 0440
    items:
      - key: {{ $v.nats.tls.caKey }}
        path: {{ $v.nats.tls.caKey }}
      {{- if $v.nats.tls.clientCert }}
      - key: {{ $v.nats.tls.certKey }}
        path: {{ $v.nats.tls.certKey }}
      - key: {{ $v.nats.tls.keyKey }}
        path: {{ $v.nats.tls.keyKey }}
      {{- end }}
{{- end }}
{{- end }}

{{/* Probes of the long-running roles; all on the named metrics port. */}}
{{- define "jetjobs.probes" -}}
startupProbe:
  # Allows up to 60 s for the first connect to NATS before liveness applies.
  httpGet:
    path: /healthz
    port: metrics
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet:
    path: /healthz
    port: metrics
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  # Ready = connected to NATS and consumers bound. Rollouts wait for it
  # (maxUnavailable 0), so an old pod only stops once its successor can work.
  httpGet:
    path: /readyz
    port: metrics
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
{{- end }}

{{/* Checksums that roll the pods when the config or a chart-made Secret changes. */}}
{{- define "jetjobs.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secrets: {{ include (print .Template.BasePath "/secrets.yaml") . | sha256sum }}
{{- end }}
