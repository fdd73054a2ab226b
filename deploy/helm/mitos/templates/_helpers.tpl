{{- define "mitos.labels" -}}
app.kubernetes.io/name: mitos
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "mitos.selector" -}}
app.kubernetes.io/name: mitos
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mitos.image" -}}
{{- $name := .Values.image.repository -}}
{{- with .Values.image.registry }}{{ $name = printf "%s/%s" . $name }}{{ end -}}
{{- if .Values.image.digest -}}
{{ $name }}@{{ .Values.image.digest }}
{{- else -}}
{{ $name }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
{{- end }}

{{- define "mitos.nodeKeySecret" -}}
{{ .Values.nodeKey.existingSecret | default (printf "%s-node-key" .Release.Name) }}
{{- end }}

{{- define "mitos.nodeLabels" -}}
{{- $pairs := list -}}
{{- range $k, $v := .Values.node.labels }}{{ $pairs = append $pairs (printf "%s=%s" $k $v) }}{{ end -}}
{{ join "," $pairs }}
{{- end }}
