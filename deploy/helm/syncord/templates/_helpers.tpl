{{/* The chart's name, or nameOverride. */}}
{{- define "syncord.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The objects' name prefix: fullnameOverride, else <release>-<name>, or the release's name when it
already contains the chart's name. Truncated to 63 characters (a label's limit) less room for the
"-api"/"-sync" and "-kubeconfigs" suffixes.
*/}}
{{- define "syncord.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "syncord.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels every object carries. */}}
{{- define "syncord.labels" -}}
helm.sh/chart: {{ include "syncord.chart" . }}
{{ include "syncord.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: syncord
{{- end }}

{{/* The labels that select this release's pods (with a component label for one Deployment). */}}
{{- define "syncord.selectorLabels" -}}
app.kubernetes.io/name: {{ include "syncord.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "syncord.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "syncord.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image, repository:tag (the tag defaults to the chart's appVersion). */}}
{{- define "syncord.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The Secret and key holding DATABASE_URL. */}}
{{- define "syncord.databaseSecret" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "syncord.fullname" .) }}
{{- end }}
{{- end }}
{{- define "syncord.databaseSecretKey" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecretKey }}
{{- else }}
{{- "uri" }}
{{- end }}
{{- end }}

{{/* The Secret and key holding SYNCORD_ADMIN_PASSWORD; empty when no admin is to be made. */}}
{{- define "syncord.adminSecret" -}}
{{- if .Values.admin.existingSecret }}
{{- .Values.admin.existingSecret }}
{{- else if .Values.admin.password }}
{{- printf "%s-admin" (include "syncord.fullname" .) }}
{{- end }}
{{- end }}
{{- define "syncord.adminSecretKey" -}}
{{- if .Values.admin.existingSecret }}
{{- .Values.admin.existingSecretKey }}
{{- else }}
{{- "password" }}
{{- end }}
{{- end }}

{{/* The Secret of kubeconfig files; empty when there is none. */}}
{{- define "syncord.kubeconfigSecret" -}}
{{- if .Values.kubeconfigs.existingSecret }}
{{- .Values.kubeconfigs.existingSecret }}
{{- else if .Values.kubeconfigs.files }}
{{- printf "%s-kubeconfigs" (include "syncord.fullname" .) }}
{{- end }}
{{- end }}

{{/* Whether the HTTP endpoints speak TLS, and so the probes' and the scrape's scheme. */}}
{{- define "syncord.httpScheme" -}}
{{- if .Values.tls.existingSecret }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* Combinations of values the schema cannot refuse: a message naming the values, at render. */}}
{{- define "syncord.validate" -}}
{{- if and .Values.split.enabled (ne .Values.role "all") }}
{{- fail (printf "role: %s with split.enabled: the split Deployments run --role api and --role sync themselves; leave role at all" .Values.role) }}
{{- end }}
{{- if and .Values.database.url .Values.database.existingSecret }}
{{- fail "database: set database.url or database.existingSecret, not both" }}
{{- end }}
{{- if and .Values.admin.password .Values.admin.existingSecret }}
{{- fail "admin: set admin.password or admin.existingSecret, not both" }}
{{- end }}
{{- if and .Values.kubeconfigs.files .Values.kubeconfigs.existingSecret }}
{{- fail "kubeconfigs: set kubeconfigs.files or kubeconfigs.existingSecret, not both" }}
{{- end }}
{{- if and .Values.kubeconfigs.default (not (include "syncord.kubeconfigSecret" .)) }}
{{- fail (printf "kubeconfigs.default: %s names a file, but there are no kubeconfigs (kubeconfigs.files or kubeconfigs.existingSecret)" .Values.kubeconfigs.default) }}
{{- end }}
{{- if and .Values.kubeconfigs.default .Values.kubeconfigs.files (not (hasKey .Values.kubeconfigs.files .Values.kubeconfigs.default)) }}
{{- fail (printf "kubeconfigs.default: %s is not one of kubeconfigs.files (%s)" .Values.kubeconfigs.default (keys .Values.kubeconfigs.files | sortAlpha | join ", ")) }}
{{- end }}
{{- if and .Values.tls.clientCaSecret (not .Values.tls.existingSecret) }}
{{- fail "tls.clientCaSecret: mutual TLS needs the server's certificate too (tls.existingSecret)" }}
{{- end }}
{{- if and .Values.vtn.tls.existingSecret (not .Values.vtn.address) }}
{{- fail "vtn.tls.existingSecret: set vtn.address too" }}
{{- end }}
{{- if and .Values.ovn.ssl.existingSecret (not .Values.ovn.nbDb) }}
{{- fail "ovn.ssl.existingSecret: set ovn.nbDb too" }}
{{- end }}
{{- if ge (float64 .Values.syncord.shutdownGraceSeconds) (float64 .Values.terminationGracePeriodSeconds) }}
{{- fail (printf "syncord.shutdownGraceSeconds (%v) must be below terminationGracePeriodSeconds (%v): a replica must release the leader lock before it is killed" .Values.syncord.shutdownGraceSeconds .Values.terminationGracePeriodSeconds) }}
{{- end }}
{{- end }}

{{/*
One Deployment of `syncord serve`. Context: dict with root (the chart's context), component
(server, api or sync: the name suffix and the component label), role, replicas and resources.
*/}}
{{- define "syncord.deployment" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $component := .component }}
{{- $role := .role }}
{{- $serveApi := ne $role "sync" }}
{{- $name := include "syncord.fullname" $root }}
{{- if ne $component "server" }}{{ $name = printf "%s-%s" $name $component }}{{ end }}
{{- $mtls := and $v.tls.existingSecret $v.tls.clientCaSecret }}
{{- $kubeconfigSecret := include "syncord.kubeconfigSecret" $root }}
{{- $adminSecret := include "syncord.adminSecret" $root }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "syncord.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $component }}
spec:
  replicas: {{ .replicas }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "syncord.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ $component }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # A new replica is ready before an old one stops; the leader lock passes to a standby.
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "syncord.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ $component }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # A change of the configuration or of a Secret the chart makes rolls the pods.
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        checksum/secrets: {{ include (print $root.Template.BasePath "/secrets.yaml") $root | sha256sum }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "syncord.serviceAccountName" $root }}
      # The in-cluster ServiceAccount is Syncord's identity when no kubeconfig is its default.
      automountServiceAccountToken: true
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      containers:
        - name: syncord
          image: {{ include "syncord.image" $root | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args:
            - serve
            - --role
            - {{ $role }}
            - --listen
            - 0.0.0.0:8080
            {{- if $serveApi }}
            - --api-listen
            - 0.0.0.0:50051
            {{- end }}
            {{- if $v.tls.existingSecret }}
            - --tls-cert
            - /etc/syncord/tls/tls.crt
            - --tls-key
            - /etc/syncord/tls/tls.key
            {{- end }}
            {{- if $v.tls.clientCaSecret }}
            - --tls-client-ca
            - /etc/syncord/tls-client-ca/ca.crt
            {{- end }}
            {{- range $v.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            {{- if $serveApi }}
            - name: grpc
              containerPort: 50051
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "syncord.fullname" $root }}
          env:
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {{ include "syncord.databaseSecret" $root }}
                  key: {{ include "syncord.databaseSecretKey" $root }}
            {{- if $adminSecret }}
            - name: SYNCORD_ADMIN_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $adminSecret }}
                  key: {{ include "syncord.adminSecretKey" $root }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if $mtls }}
          # Mutual TLS: the kubelet has no client certificate, so the probes only connect.
          startupProbe:
            tcpSocket:
              port: http
            {{- toYaml $v.probes.startup | nindent 12 }}
          livenessProbe:
            tcpSocket:
              port: http
            {{- toYaml $v.probes.liveness | nindent 12 }}
          readinessProbe:
            tcpSocket:
              port: http
            {{- toYaml $v.probes.readiness | nindent 12 }}
          {{- else }}
          startupProbe:
            httpGet:
              path: /healthz
              port: http
              scheme: {{ include "syncord.httpScheme" $root }}
            {{- toYaml $v.probes.startup | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
              scheme: {{ include "syncord.httpScheme" $root }}
            {{- toYaml $v.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
              scheme: {{ include "syncord.httpScheme" $root }}
            {{- toYaml $v.probes.readiness | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml (.resources | default $v.resources) | nindent 12 }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $kubeconfigSecret }}
            - name: kubeconfigs
              mountPath: /etc/syncord/kubeconfigs
              readOnly: true
            {{- end }}
            {{- if $v.ovn.ssl.existingSecret }}
            - name: ovn-ssl
              mountPath: /etc/syncord/ovn-ssl
              readOnly: true
            {{- end }}
            {{- if $v.vtn.tls.existingSecret }}
            - name: vtn-tls
              mountPath: /etc/syncord/vtn-tls
              readOnly: true
            {{- end }}
            {{- if $v.tls.existingSecret }}
            - name: tls
              mountPath: /etc/syncord/tls
              readOnly: true
            {{- end }}
            {{- if $v.tls.clientCaSecret }}
            - name: tls-client-ca
              mountPath: /etc/syncord/tls-client-ca
              readOnly: true
            {{- end }}
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- if $kubeconfigSecret }}
        - name: kubeconfigs
          secret:
            secretName: {{ $kubeconfigSecret }}
            defaultMode: 0440
        {{- end }}
        {{- if $v.ovn.ssl.existingSecret }}
        - name: ovn-ssl
          secret:
            secretName: {{ $v.ovn.ssl.existingSecret }}
            defaultMode: 0440
        {{- end }}
        {{- if $v.vtn.tls.existingSecret }}
        - name: vtn-tls
          secret:
            secretName: {{ $v.vtn.tls.existingSecret }}
            defaultMode: 0440
        {{- end }}
        {{- if $v.tls.existingSecret }}
        - name: tls
          secret:
            secretName: {{ $v.tls.existingSecret }}
            defaultMode: 0440
        {{- end }}
        {{- if $v.tls.clientCaSecret }}
        - name: tls-client-ca
          secret:
            secretName: {{ $v.tls.clientCaSecret }}
            defaultMode: 0440
        {{- end }}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if $v.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- range $v.topologySpreadConstraints }}
        {{- $c := deepCopy . }}
        {{- if not (hasKey $c "labelSelector") }}
        {{- $_ := set $c "labelSelector" (dict "matchLabels" (merge (dict "app.kubernetes.io/component" $component) (include "syncord.selectorLabels" $root | fromYaml))) }}
        {{- end }}
        - {{ toYaml $c | nindent 10 | trim }}
        {{- end }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/* One PodDisruptionBudget, for the Deployment of a component. Context as syncord.deployment. */}}
{{- define "syncord.pdb" -}}
{{- $root := .root }}
{{- $name := include "syncord.fullname" $root }}
{{- if ne .component "server" }}{{ $name = printf "%s-%s" $name .component }}{{ end }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "syncord.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  maxUnavailable: {{ $root.Values.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "syncord.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ .component }}
{{- end }}
