"""The control plane's loops: scheduling, workload controllers, node lifecycle, pod garbage collection."""
