//go:build tools

// Package tools names every package that k8s.io/kubernetes/cmd/kube-apiserver imports, so that
// `go mod tidy` keeps their modules in go.mod and go.sum and `go build -mod=readonly` of that
// command succeeds from a clean clone. It is never built itself (the `tools` build tag).
package tools

import (
	_ "k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
)
