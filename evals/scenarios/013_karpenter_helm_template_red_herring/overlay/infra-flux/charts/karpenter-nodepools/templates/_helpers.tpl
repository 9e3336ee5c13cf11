{{- define "karpenter-nodepools.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: karpenter-nodepools
{{- end }}
