"""Simulated container runtimes: what a container does once the kubelet starts it."""
