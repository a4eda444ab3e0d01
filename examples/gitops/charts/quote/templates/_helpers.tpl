{{/*
Helpers in the style `helm create` generates.
*/}}

{{/*
Expand the name of the chart.
*/}}
{{- define "quote.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified app name, truncated at 63 characters (the DNS name limit).
If the release name contains the chart name it is used as the full name.
*/}}
{{- define "quote.fullname" -}}
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
Chart name and version, as used by the chart label.
*/}}
{{- define "quote.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "quote.labels" -}}
helm.sh/chart: {{ include "quote.chart" . }}
{{ include "quote.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: never change them once deployed (a Deployment's selector is immutable).
*/}}
{{- define "quote.selectorLabels" -}}
app.kubernetes.io/name: {{ include "quote.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
