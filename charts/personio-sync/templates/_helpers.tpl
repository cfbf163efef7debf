{{/* Chart name, overridable. */}}
{{- define "personio-sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of namespaced objects: the release name, plus the chart name unless it is in it. */}}
{{- define "personio-sync.fullname" -}}
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
Name of cluster-scoped objects (ClusterRole, ClusterRoleBinding) and of the Roles in
watched namespaces:
prefixed with the release namespace, so two releases of the same name in different
namespaces never share (or fight over) one object.
*/}}
{{- define "personio-sync.clusterScopedName" -}}
{{- printf "%s-%s" .Release.Namespace (include "personio-sync.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "personio-sync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Conventional labels on every object. */}}
{{- define "personio-sync.labels" -}}
helm.sh/chart: {{ include "personio-sync.chart" . }}
{{ include "personio-sync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: personio-sync
{{- end }}

{{/* Labels that select the operator pods; never change them (Deployment selectors are immutable). */}}
{{- define "personio-sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "personio-sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "personio-sync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "personio-sync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Lease the replicas elect their leader through (in the release namespace). */}}
{{- define "personio-sync.leaseName" -}}
{{- default (include "personio-sync.clusterScopedName" .) .Values.peering.name }}
{{- end }}

{{- define "personio-sync.leaseRoleName" -}}
{{- printf "%s-leader-election" (include "personio-sync.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
[registry/]repository, then @digest when a digest is set (releases pin it), else :tag.
The registry is its own value so that a mirror (air-gapped clusters) replaces only it and
keeps the released digest.
*/}}
{{- define "personio-sync.image" -}}
{{- $name := .Values.image.repository }}
{{- with .Values.image.registry }}{{ $name = printf "%s/%s" . $name }}{{ end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $name .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $name (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The operator's RBAC rules, the same for the ClusterRole (all namespaces) and for each Role
(watched namespaces). Exactly the verbs the operator calls, nothing more (SEC-2):
- PersonioSync: list and watch (kopf's watch), patch (kopf's annotations, our finalizer
  and sync-now acknowledgements); its status: patch (never PUT). No get: nothing reads
  one resource by name. No finalizers subresource: finalizers are patched on the
  resource itself, and the operator sets no ownerReferences.
- Events: create (kopf posts core/v1 Events and never patches them; no events.k8s.io).
Secrets have rules of their own (below). The leader Lease has its own Role in the release
namespace (rbac.yaml).
*/}}
{{- define "personio-sync.rules" -}}
- apiGroups: [personio-sync.dev]
  resources: [personiosyncs]
  verbs: [list, watch, patch]
- apiGroups: [personio-sync.dev]
  resources: [personiosyncs/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}

{{/*
Secrets: get only, the one each PersonioSync names; no list or watch, so no Secret of the
cluster streams into the pod. Rotation is noticed by that GET (SEC-1). Granted per
namespace (SEC-2): in each Role of watchNamespaces, or, serving every namespace, by a
RoleBinding of the secret-reader ClusterRole that a namespace admin creates.
*/}}
{{- define "personio-sync.secretRules" -}}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}

{{/* The ClusterRole a namespace admin binds to let the operator read Secrets there. */}}
{{- define "personio-sync.secretReaderName" -}}
{{- printf "%s-secrets" (include "personio-sync.clusterScopedName" .) }}
{{- end }}

{{/* Whether the chart ships that ClusterRole: every namespace served, RBAC by the chart. */}}
{{- define "personio-sync.secretReader" -}}
{{- if and .Values.rbac.create (not .Values.watchNamespaces) }}true{{ end }}
{{- end }}

{{/*
SEC-3's admission policy: "rendered", "off" (admissionPolicy.enabled=false) or "unserved"
(the API server does not serve admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy;
NOTES.txt warns). `helm template` knows only what --api-versions says.
*/}}
{{- define "personio-sync.admissionPolicy" -}}
{{- if not .Values.admissionPolicy.enabled }}off
{{- else if .Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy" }}rendered
{{- else }}unserved
{{- end }}
{{- end }}

{{/*
HOOK-15: the public URL of the receiver's /webhooks/personio path, webhooks.baseURL or, with
the chart's Ingress, https://<host>/webhooks/personio; empty: webhooks are off (no receiver,
no port, no Service, no NetworkPolicy rule).
*/}}
{{- define "personio-sync.webhookBaseURL" -}}
{{- $hooks := .Values.webhooks }}
{{- if $hooks.baseURL }}{{ trimSuffix "/" $hooks.baseURL }}
{{- else if and $hooks.ingress.enabled $hooks.ingress.host }}https://{{ $hooks.ingress.host }}/webhooks/personio
{{- end }}
{{- end }}

{{/*
Whether Personio can reach the receiver through the chart: webhooks are on and its Service
or Ingress is on. The NetworkPolicy opens the webhook port only then.
*/}}
{{- define "personio-sync.webhooksExposed" -}}
{{- if and (include "personio-sync.webhookBaseURL" .) (or .Values.webhooks.service.enabled .Values.webhooks.ingress.enabled) }}true{{ end }}
{{- end }}

{{/* A NetworkPolicy rule's `to:` for a list of CIDRs. */}}
{{- define "personio-sync.egressTo" -}}
to:
{{- range . }}
  - ipBlock:
      cidr: {{ . }}
{{- end }}
{{- end }}

{{/* The TCP port a URL connects to: its explicit port, else 443 for https and 80 for http. */}}
{{- define "personio-sync.urlPort" -}}
{{- $url := urlParse . }}
{{- $port := regexFind ":[0-9]+$" $url.host | trimPrefix ":" }}
{{- default (ternary "443" "80" (eq $url.scheme "https")) $port }}
{{- end }}

{{/*
Values JSON Schema cannot compare with each other (it has no way to say "differs from
another property"), checked here before anything renders: the container's two ports.
*/}}
{{- define "personio-sync.validate" -}}
{{- if eq (int .Values.operator.httpPort) (int .Values.webhooks.port) }}
{{- fail (printf "operator.httpPort and webhooks.port are both %d: the operator's HTTP server (/healthz, /metrics) and the webhook receiver need ports of their own; set one of them to another port" (int .Values.webhooks.port)) }}
{{- end }}
{{- if and .Values.webhooks.service.enabled (not (include "personio-sync.webhookBaseURL" .)) }}
{{- fail "webhooks.service.enabled needs webhooks.baseURL: the receiver runs only when the operator knows the public URL Personio delivers to (e.g. https://hooks.example.com/webhooks/personio)" }}
{{- end }}
{{- end }}

{{/*
The operator's configuration as environment variables (read by its settings object only).
POD_ID names this replica in the leader Lease, which lives in POD_NAMESPACE.
*/}}
{{- define "personio-sync.env" -}}
- name: POD_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: PERSONIO_API_URL
  value: {{ .Values.operator.personioApiUrl | quote }}
- name: AWORK_API_URL
  value: {{ .Values.operator.aworkApiUrl | quote }}
- name: PERSONIO_SYNC_LOG_LEVEL
  value: {{ .Values.operator.logLevel | quote }}
- name: PERSONIO_SYNC_LOG_FORMAT
  value: {{ .Values.operator.logFormat | quote }}
- name: PERSONIO_SYNC_MAX_CONCURRENT_SYNCS
  value: {{ .Values.operator.maxConcurrentSyncs | quote }}
{{- with .Values.operator.maxRunsPerNamespace }}
- name: PERSONIO_SYNC_MAX_RUNS_PER_NAMESPACE
  value: {{ . | quote }}
{{- end }}
- name: PERSONIO_SYNC_HTTP_PORT
  value: {{ .Values.operator.httpPort | quote }}
- name: PERSONIO_SYNC_METRICS_PER_RESOURCE_LIMIT
  value: {{ .Values.metrics.perResourceLimit | quote }}
- name: PERSONIO_SYNC_SHARDS
  value: {{ .Values.peering.shards | quote }}
- name: PERSONIO_SYNC_LEASE_DURATION_SECONDS
  value: {{ .Values.peering.leaseDurationSeconds | quote }}
- name: PERSONIO_SYNC_WEBHOOK_PORT
  value: {{ .Values.webhooks.port | quote }}
{{- with include "personio-sync.webhookBaseURL" . }}
- name: PERSONIO_SYNC_WEBHOOK_BASE_URL
  value: {{ . | quote }}
{{- end }}
- name: PERSONIO_SYNC_SERVICE_ACCOUNT
  value: {{ include "personio-sync.serviceAccountName" . | quote }}
{{- if include "personio-sync.secretReader" . }}
- name: PERSONIO_SYNC_SECRET_READER_ROLE
  value: {{ include "personio-sync.secretReaderName" . | quote }}
{{- end }}
{{- with .Values.operator.instanceId }}
- name: PERSONIO_SYNC_INSTANCE_ID
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Labels of the `helm test` Pod: the conventional ones, but a name of its own, so that no
Service or Deployment selector of the operator ever picks the test Pod up.
*/}}
{{- define "personio-sync.testLabels" -}}
helm.sh/chart: {{ include "personio-sync.chart" . }}
app.kubernetes.io/name: {{ include "personio-sync.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: test
app.kubernetes.io/part-of: personio-sync
{{- end }}

{{/* PromQL label matchers of this installation's series (alerts): the job the chart's ServiceMonitor scrapes. */}}
{{- define "personio-sync.metricsSelector" -}}
{{- default (printf "job=%q" (printf "%s-metrics" (include "personio-sync.fullname" .))) .Values.prometheusRule.selector }}
{{- end }}

{{/* Labels of one alert: its severity, then the installer's own. */}}
{{- define "personio-sync.alertLabels" -}}
severity: {{ .severity }}
{{- with .root.Values.prometheusRule.alertLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}
