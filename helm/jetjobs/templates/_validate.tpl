{{/*
Cross-field checks that values.schema.json cannot express (or cannot explain
well). Each one fails rendering with a message that says what to change.
Rendered once, from templates/validate.yaml.
*/}}

{{- define "jetjobs.validate" -}}
{{- $workers := (fromYaml (include "jetjobs.workers" .)).workers }}
{{- $seen := dict }}
{{- range $w := $workers }}
{{- $where := printf "workers[%s]" $w.name }}

{{- if hasKey $seen $w.name }}
{{- fail (printf "%s: worker names must be unique (each becomes a Deployment)" $where) }}
{{- end }}
{{- $_ := set $seen $w.name true }}
{{- if eq $w.name "scheduler" }}
{{- fail (printf "%s: the name \"scheduler\" is taken by the scheduler Deployment" $where) }}
{{- end }}

{{- /* Graceful drain: Kubernetes SIGKILLs the pod when the termination grace
  period ends. The worker needs the whole --shutdown-grace-s (after any preStop
  sleep) plus time to nak what is left and drain; otherwise running jobs are
  cut off and only come back after ack_wait. */}}
{{- $needed := add $w.shutdownGraceSeconds $w.preStopSleepSeconds }}
{{- $tgps := int (include "jetjobs.worker.terminationGrace" $w) }}
{{- if le $tgps (int $needed) }}
{{- fail (printf "%s: terminationGracePeriodSeconds (%d) must be greater than shutdownGraceSeconds (%d) + preStopSleepSeconds (%d); leave it unset to get %d" $where $tgps (int $w.shutdownGraceSeconds) (int $w.preStopSleepSeconds) (int (add $needed $w.drainMarginSeconds))) }}
{{- end }}

{{- /* Autoscaling: exactly one owner of the replica count. KEDA creates and
  owns an HPA itself; a second HPA (or a fixed spec.replicas) would fight it. */}}
{{- $as := $w.autoscaling }}
{{- if and (hasKey $as "keda") (ne $as.type "keda") }}
{{- fail (printf "%s: autoscaling.keda is set but autoscaling.type is %q; KEDA and a plain HPA must not both scale one Deployment. Set autoscaling.type=keda or remove autoscaling.keda" $where $as.type) }}
{{- end }}
{{- if and (hasKey $as "hpa") (ne $as.type "hpa") }}
{{- fail (printf "%s: autoscaling.hpa is set but autoscaling.type is %q; KEDA and a plain HPA must not both scale one Deployment. Set autoscaling.type=hpa or remove autoscaling.hpa" $where $as.type) }}
{{- end }}
{{- if ne $as.type "none" }}
{{- if gt (int $as.minReplicas) (int $as.maxReplicas) }}
{{- fail (printf "%s: autoscaling.minReplicas (%d) is above maxReplicas (%d)" $where (int $as.minReplicas) (int $as.maxReplicas)) }}
{{- end }}
{{- end }}
{{- if eq $as.type "hpa" }}
{{- if lt (int $as.minReplicas) 1 }}
{{- fail (printf "%s: autoscaling.minReplicas=0 (scale to zero) needs autoscaling.type=keda; a plain HPA cannot scale to zero" $where) }}
{{- end }}
{{- $hpa := fromYaml (include "jetjobs.hpaSettings" $w) }}
{{- if and (eq (int $hpa.cpuAverageUtilization) 0) (eq $hpa.backlogMetricType "none") }}
{{- fail (printf "%s: autoscaling.hpa has no metric: set cpuAverageUtilization above 0 or backlogMetricType External/Pods" $where) }}
{{- end }}
{{- end }}
{{- if eq $as.type "keda" }}
{{- $keda := fromYaml (include "jetjobs.kedaSettings" $w) }}
{{- if and (eq $keda.trigger "prometheus") (eq (int $as.minReplicas) 0) (not $keda.query) }}
{{- fail (printf "%s: scale to zero with the prometheus trigger needs autoscaling.keda.query on a metric that exists while the worker has no pods (jetjobs_queue_backlog is exported by the workers themselves, so at zero replicas it vanishes and the worker never wakes up). Query the NATS exporter (e.g. jetstream_consumer_num_pending) or use trigger nats-jetstream" $where) }}
{{- end }}
{{- end }}
{{- end }}

{{- /* NATS credentials the chart must create itself. */}}
{{- $auth := .Values.nats.auth }}
{{- if not $auth.existingSecret }}
{{- if eq $auth.method "userPassword" }}
{{- if or (not $auth.user) (not $auth.password) }}
{{- fail "nats.auth.method=userPassword needs nats.auth.user and nats.auth.password, or nats.auth.existingSecret" }}
{{- end }}
{{- else if eq $auth.method "token" }}
{{- if not $auth.token }}
{{- fail "nats.auth.method=token needs nats.auth.token, or nats.auth.existingSecret" }}
{{- end }}
{{- else if eq $auth.method "creds" }}
{{- if not $auth.creds }}
{{- fail "nats.auth.method=creds needs nats.auth.creds (the .creds file content), or nats.auth.existingSecret" }}
{{- end }}
{{- else if eq $auth.method "nkey" }}
{{- if not $auth.nkeySeed }}
{{- fail "nats.auth.method=nkey needs nats.auth.nkeySeed, or nats.auth.existingSecret" }}
{{- end }}
{{- end }}
{{- end }}
{{- $tls := .Values.nats.tls }}
{{- if and $tls.enabled (not $tls.existingSecret) }}
{{- if not $tls.ca }}
{{- fail "nats.tls.enabled needs nats.tls.ca (PEM), or nats.tls.existingSecret" }}
{{- end }}
{{- if and $tls.clientCert (or (not $tls.cert) (not $tls.key)) }}
{{- fail "nats.tls.clientCert needs nats.tls.cert and nats.tls.key (PEM), or nats.tls.existingSecret" }}
{{- end }}
{{- end }}
{{- end }}
