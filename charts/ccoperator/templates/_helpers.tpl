{{/* Names and labels, as `helm create` and kubebuilder's helm plugin make them. */}}

{{- define "ccoperator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ccoperator.fullname" -}}
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

{{- define "ccoperator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ccoperator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Every object: the selector labels, part-of (as deploy/ sets it) and Helm's own. */}}
{{- define "ccoperator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ccoperator.selectorLabels" . }}
app.kubernetes.io/part-of: ccoperator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ccoperator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ccoperator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ccoperator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The operator's RBAC rules: deploy/base/clusterrole.yaml, copied to files/ (make generate). */}}
{{- define "ccoperator.rules" -}}
{{- (.Files.Get "files/clusterrole.yaml" | fromYaml).rules | toYaml }}
{{- end }}

{{/* The ConfigMap's data: CCOPERATOR_* settings. The identity URL is optional, as it is for
     the operator: tenant objects may each name theirs (spec.identityUrl). */}}
{{- define "ccoperator.config" -}}
{{- with .Values.clusterName }}
CCOPERATOR_CLUSTER_NAME: {{ . | quote }}
{{- end }}
{{- with .Values.identity.url }}
CCOPERATOR_IDENTITY_URL: {{ . | quote }}
{{- end }}
{{- with .Values.identity.tokenUrl }}
CCOPERATOR_TOKEN_URL: {{ . | quote }}
{{- end }}
{{- with .Values.watchNamespaces }}
CCOPERATOR_NAMESPACES: {{ join "," . | quote }}
{{- end }}
{{- range $key, $value := .Values.config }}
{{ printf "CCOPERATOR_%s" ($key | snakecase | upper) }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* The RBAC objects of a file copied from deploy/ (make generate), renamed for this release:
     "ccoperator" in names becomes the fullname, namespaces the release's, subjects the
     operator's ServiceAccount; labels of the file (aggregation) are kept. Argument: (list $
     "files/<name>.yaml"). */}}
{{- define "ccoperator.fileObjects" -}}
{{- $root := index . 0 }}
{{- $fullname := include "ccoperator.fullname" $root }}
{{- $subject := dict "kind" "ServiceAccount" "name" (include "ccoperator.serviceAccountName" $root) "namespace" $root.Release.Namespace }}
{{- range $doc := splitList "\n---\n" ($root.Files.Get (index . 1)) }}
{{- $obj := fromYaml $doc }}
---
apiVersion: {{ $obj.apiVersion }}
kind: {{ $obj.kind }}
metadata:
  name: {{ $obj.metadata.name | replace "ccoperator" $fullname }}
  {{- if $obj.metadata.namespace }}
  namespace: {{ $root.Release.Namespace }}
  {{- end }}
  labels:
    {{- include "ccoperator.labels" $root | nindent 4 }}
    {{- with $obj.metadata.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $obj.metadata.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if $obj.rules }}
rules:
  {{- toYaml $obj.rules | nindent 2 }}
{{- end }}
{{- if $obj.roleRef }}
roleRef:
  apiGroup: {{ $obj.roleRef.apiGroup }}
  kind: {{ $obj.roleRef.kind }}
  name: {{ $obj.roleRef.name | replace "ccoperator" $fullname }}
subjects:
  - {{- toYaml $subject | nindent 4 }}
{{- end }}
{{- end }}
{{- end }}

{{/* The same rules for a Role in a watched namespace: without the cluster-scoped resources,
     which cluster-scoped.yaml grants (as deploy/overlays/namespaced/role.yaml does). */}}
{{- define "ccoperator.namespacedRules" -}}
{{- $clusterScoped := list "clusteridentitytenants" "clusteridentitytenants/status" "namespaces" }}
{{- $rules := list }}
{{- range (.Files.Get "files/clusterrole.yaml" | fromYaml).rules }}
{{- $kept := list }}
{{- range .resources }}
{{- if not (has . $clusterScoped) }}
{{- $kept = append $kept . }}
{{- end }}
{{- end }}
{{- if $kept }}
{{- $rules = append $rules (merge (dict "resources" $kept) (omit . "resources")) }}
{{- end }}
{{- end }}
{{- toYaml $rules }}
{{- end }}
