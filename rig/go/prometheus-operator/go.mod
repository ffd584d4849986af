// Wrapper module: pins github.com/prometheus-operator/prometheus-operator (the version in rig/versions.json)
// for its ServiceMonitor and PrometheusRule CRDs, which `rig up` copies from the module and applies.
// Nothing is built from it.
module syncord.local/rig/prometheus-operator

go 1.26.0

require github.com/prometheus-operator/prometheus-operator v0.94.0 // indirect
