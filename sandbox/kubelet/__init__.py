"""The simulated kubelet: runs bound pods' containers through the runtimes, probes them,
keeps their logs and reports pod and node status."""
