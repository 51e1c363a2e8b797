// Package k8stools pins the Kubernetes and etcd versions the test harness
// builds from. The binaries are declared with `tool` directives in go.mod;
// scripts/tools.sh builds them into .cache/tools/. Nothing here is imported.
package k8stools
