{{/*
Names. Everything is truncated to 63 characters (the DNS label limit).
*/}}
{{- define "scoreboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "scoreboard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's objects: <fullname>-<component>, at most 63 characters. */}}
{{- define "scoreboard.componentName" -}}
{{- $full := include "scoreboard.fullname" .root -}}
{{- printf "%s-%s" ($full | trunc (int (sub 62 (len .component)))) .component | trimSuffix "-" -}}
{{- end -}}

{{- define "scoreboard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: name and instance only (never the version: selectors are immutable). */}}
{{- define "scoreboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scoreboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Common labels. */}}
{{- define "scoreboard.labels" -}}
helm.sh/chart: {{ include "scoreboard.chart" . }}
{{ include "scoreboard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: scoreboard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component: dict "root" $ "component" "api". */}}
{{- define "scoreboard.componentLabels" -}}
{{ include "scoreboard.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "scoreboard.componentSelectorLabels" -}}
{{ include "scoreboard.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image reference: dict "root" $ "image" .Values.api.image. Tag defaults to the appVersion. */}}
{{- define "scoreboard.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag | toString -}}
{{- $ref := printf "%s:%s" .image.repository $tag -}}
{{- if .image.digest -}}
{{- $ref = printf "%s@%s" .image.repository .image.digest -}}
{{- end -}}
{{- $registry := .image.registry | default .root.Values.global.imageRegistry -}}
{{- if $registry -}}
{{- printf "%s/%s" $registry $ref -}}
{{- else -}}
{{- $ref -}}
{{- end -}}
{{- end -}}

{{- define "scoreboard.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Hardened pod-level security context. */}}
{{- define "scoreboard.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser | default 10001 }}
runAsGroup: {{ .runAsUser | default 10001 }}
fsGroup: {{ .runAsUser | default 10001 }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Hardened container security context. */}}
{{- define "scoreboard.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Service account names. */}}
{{- define "scoreboard.serviceAccountName" -}}
{{- $sa := index .root.Values .component "serviceAccount" -}}
{{- if $sa.create -}}
{{- default (include "scoreboard.componentName" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* In-cluster URLs. */}}
{{- define "scoreboard.apiUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "scoreboard.componentName" (dict "root" . "component" "api")) .Release.Namespace (int .Values.api.service.port) -}}
{{- end -}}

{{- define "scoreboard.realtimeUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "scoreboard.componentName" (dict "root" . "component" "realtime")) .Release.Namespace (int .Values.realtime.service.port) -}}
{{- end -}}

{{/* Secret that holds the JWT signing key and the admin API key. */}}
{{- define "scoreboard.authSecretName" -}}
{{- default (include "scoreboard.componentName" (dict "root" . "component" "auth")) .Values.auth.existingSecret -}}
{{- end -}}

{{/* Secret of chart-managed external connection URLs. */}}
{{- define "scoreboard.connectionsSecretName" -}}
{{- include "scoreboard.componentName" (dict "root" . "component" "connections") -}}
{{- end -}}

{{- define "scoreboard.postgresqlName" -}}
{{- include "scoreboard.componentName" (dict "root" . "component" "postgresql") -}}
{{- end -}}

{{- define "scoreboard.postgresqlSecretName" -}}
{{- default (include "scoreboard.postgresqlName" .) .Values.postgresql.auth.existingSecret -}}
{{- end -}}

{{- define "scoreboard.redisName" -}}
{{- include "scoreboard.componentName" (dict "root" . "component" "redis") -}}
{{- end -}}

{{- define "scoreboard.redisSecretName" -}}
{{- default (include "scoreboard.redisName" .) .Values.redis.auth.existingSecret -}}
{{- end -}}

{{/*
Fail early on contradictory values (called from the api Deployment).
*/}}
{{- define "scoreboard.validate" -}}
{{- if and (not .Values.postgresql.enabled) (not .Values.externalDatabase.url) (not .Values.externalDatabase.existingSecret) -}}
{{- fail "a database is required: set postgresql.enabled=true (trials) or externalDatabase.url / externalDatabase.existingSecret" -}}
{{- end -}}
{{- if and (not .Values.redis.enabled) (not .Values.externalRedis.url) (not .Values.externalRedis.existingSecret) -}}
{{- fail "Redis is required: set redis.enabled=true (trials) or externalRedis.url / externalRedis.existingSecret" -}}
{{- end -}}
{{- if le (int .Values.realtime.terminationGracePeriodSeconds) (add .Values.realtime.preStopSleepSeconds .Values.realtime.drainSeconds) -}}
{{- fail "realtime.terminationGracePeriodSeconds must exceed preStopSleepSeconds + drainSeconds (WebSocket drain)" -}}
{{- end -}}
{{- if and (gt (int .Values.operator.replicaCount) 1) (not .Values.operator.peering.enabled) -}}
{{- fail "operator.replicaCount > 1 needs operator.peering.enabled=true (kopf peering elects one active replica)" -}}
{{- end -}}
{{- end -}}

{{/*
DATABASE_URL (and its password variable first, for $(VAR) expansion by the kubelet).
*/}}
{{- define "scoreboard.databaseEnv" -}}
{{- if .Values.postgresql.enabled }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "scoreboard.postgresqlSecretName" . }}
      key: {{ .Values.postgresql.auth.secretKeys.password }}
- name: DATABASE_URL
  value: {{ printf "postgresql://%s:$(DATABASE_PASSWORD)@%s.%s.svc:5432/%s" .Values.postgresql.auth.username (include "scoreboard.postgresqlName" .) .Release.Namespace .Values.postgresql.auth.database | quote }}
{{- else if .Values.externalDatabase.existingSecret }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalDatabase.existingSecret }}
      key: {{ .Values.externalDatabase.existingSecretKey }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "scoreboard.connectionsSecretName" . }}
      key: database-url
{{- end }}
{{- end -}}

{{/* REDIS_URL */}}
{{- define "scoreboard.redisEnv" -}}
{{- if .Values.redis.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "scoreboard.redisSecretName" . }}
      key: {{ .Values.redis.auth.secretKeys.password }}
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s.%s.svc:6379/0" (include "scoreboard.redisName" .) .Release.Namespace | quote }}
{{- else if .Values.externalRedis.existingSecret }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalRedis.existingSecret }}
      key: {{ .Values.externalRedis.existingSecretKey }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "scoreboard.connectionsSecretName" . }}
      key: redis-url
{{- end }}
{{- end -}}

{{/* Settings every service reads (non-secret: they go in ConfigMaps). */}}
{{- define "scoreboard.commonConfig" -}}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
AUTH_ISSUER: {{ .Values.config.auth.issuer | quote }}
AUTH_AUDIENCE: {{ .Values.config.auth.audience | quote }}
AUTH_ALGORITHMS: {{ .Values.config.auth.algorithms | toJson | quote }}
{{- if .Values.tracing.enabled }}
OTEL_TRACES_EXPORTER: "otlp"
OTEL_EXPORTER_OTLP_ENDPOINT: {{ required "tracing.otlpEndpoint is required when tracing.enabled" .Values.tracing.otlpEndpoint | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf"
OTEL_TRACES_SAMPLER: "parentbased_traceidratio"
OTEL_TRACES_SAMPLER_ARG: {{ .Values.tracing.sampleRatio | toString | quote }}
OTEL_RESOURCE_ATTRIBUTES: {{ printf "service.namespace=%s,deployment.environment=%s" .Release.Namespace .Values.tracing.environment | quote }}
{{- else }}
OTEL_TRACES_EXPORTER: "none"
{{- end }}
{{- end -}}

{{/* Volumes/mounts for a writable /tmp on a read-only root filesystem. */}}
{{- define "scoreboard.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "scoreboard.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/*
topologySpreadConstraints with this component's selector filled in when not given.
dict "root" $ "component" "api" "constraints" .Values.api.topologySpreadConstraints
*/}}
{{- define "scoreboard.topologySpread" -}}
{{- $sel := include "scoreboard.componentSelectorLabels" . | fromYaml -}}
{{- $out := list -}}
{{- range .constraints -}}
{{- $c := deepCopy . -}}
{{- if not (hasKey $c "labelSelector") -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" $sel) -}}
{{- end -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- if $out -}}
topologySpreadConstraints:
{{ toYaml $out | indent 2 }}
{{- end -}}
{{- end -}}

{{/* Monitoring objects render when enabled and the CRDs exist (or force is set). */}}
{{- define "scoreboard.monitoringAvailable" -}}
{{- if or .force (.root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") -}}true{{- end -}}
{{- end -}}

{{/* Operator rules on the watched objects: cluster-wide (ClusterRole) or in watchNamespace (Role). */}}
{{- define "scoreboard.operatorObjectRules" -}}
- apiGroups: ["scoreboard.dev"]
  resources: ["leaderboards"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["scoreboard.dev"]
  resources: ["leaderboards/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["scoreboard.dev"]
  resources: ["leaderboards/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
# Secrets a Leaderboard names (spec.webhook.secretRef, spec.signing.secretRef): read one by
# name, never listed or watched.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/* Name of the kopf peering object (cluster-scoped one carries the namespace). */}}
{{- define "scoreboard.peeringName" -}}
{{- if .Values.operator.watchNamespace -}}
{{- include "scoreboard.fullname" . -}}
{{- else -}}
{{- printf "%s-%s" (include "scoreboard.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* NetworkPolicy peer: the pods of one component of this release. */}}
{{- define "scoreboard.np.peer" -}}
- podSelector:
    matchLabels:
      {{- include "scoreboard.componentSelectorLabels" . | nindent 6 }}
{{- end -}}

{{/* NetworkPolicy egress rule to cluster DNS. */}}
{{- define "scoreboard.np.dns" -}}
- to:
    {{- toYaml .Values.networkPolicy.dnsPeers | nindent 4 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}

{{/*
"true" when migrations can run as a `pre-install` hook: nothing they need comes from this
release (the database is external and its URL in an existing Secret). Otherwise the api pods
migrate in an init container on install (a post-install hook would deadlock `helm install
--wait`: Helm runs it only after the pods it waits for are Ready, and they need the schema).
*/}}
{{- define "scoreboard.migrateBeforeInstall" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret -}}true{{- end -}}
{{- end -}}
