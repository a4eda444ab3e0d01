// Oracle for how kubectl reads YAML: sigs.k8s.io/yaml and go.yaml.in/yaml/v2 at the versions
// kubectl v1.36 uses (tools/kube-apiserver/go.mod), for tests/tools/test_yaml_oracle.py.
module ambdiff.local/tools/yaml-oracle

go 1.26.0

require (
	k8s.io/apimachinery v0.36.3
	sigs.k8s.io/yaml v1.6.0
)

require (
	go.yaml.in/yaml/v2 v2.4.3 // indirect
	sigs.k8s.io/json v0.0.0-20250730193827-2d320260d730 // indirect
)
